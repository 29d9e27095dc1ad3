// loops.hpp — walking N strided arrays in step, the engine under every cpu elementwise kernel.
//
// The arrays share one shape but each has its own strides (a transposed view, a broadcast input
// with stride 0, ...). Dims that are laid out back to back in every array are merged first
// ("coalesced"), so a contiguous array of any shape becomes one long run. The kernel then sees
// runs along the innermost dim: (pointers, byte strides, length) — a tight loop the compiler can
// vectorise when the strides are the element size.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "tensor/array.hpp"
#include "tensor/cpu/thread_pool.hpp"

namespace tensor::cpu {

// ---- threads that pay for themselves --------------------------------------------------------
//
// Handing work to another thread costs microseconds (waking it, claiming a chunk, the caches it
// does not share), so an op splits its work only when each chunk gets enough of it: the
// threshold is in units of work (about one element read, computed and written), never in
// items, because an item (a row, a column, an output element) may be one element or thousands
// of them. The threads themselves are thread_pool.hpp's: no barrier, so a thread that the OS
// has not scheduled never holds up the others.

// The least work worth a chunk of its own: ~10-20 us of simple elementwise work.
constexpr std::int64_t kMinWorkPerChunk = 1 << 15;

// The grain (least number of items per chunk) for items that each cost `work_per_item`.
constexpr std::int64_t grain_for_work(std::int64_t work_per_item) {
  return std::max<std::int64_t>(1, kMinWorkPerChunk / std::max<std::int64_t>(1, work_per_item));
}

// Chunks per thread when the work allows: a thread that starts late (woken from sleep, or
// descheduled by another program) still finds chunks left, and the others share its part.
constexpr std::int64_t kChunksPerThread = 4;

// How many ranges the loops below cut [0, n) into: up to kChunksPerThread per thread, each of
// at least `grain` items (so fewer threads than cores run when there is little work), or 1
// (serial) when that leaves one range or we are already inside a parallel region.
inline std::int64_t parallel_chunks(std::int64_t n, std::int64_t grain) {
  grain = std::max<std::int64_t>(grain, 1);
  const std::int64_t threads = available_threads();
  if (threads <= 1 || n < 2 * grain) return 1;
  return std::min(kChunksPerThread * threads, n / grain);
}

// Runs body(chunk, begin, end) for chunk in [0, parallel_chunks(n, grain)), the chunks being
// contiguous ranges that cover [0, n) in order, in parallel on the pool's threads
// (thread_pool.hpp). The chunk index lets a loop keep one partial result per chunk: the same
// split, so the same sums, on every run with the same thread count.
template <typename Body>
void parallel_for_chunks(std::int64_t n, std::int64_t grain, Body body) {
  if (n <= 0) return;
  struct Job {
    std::int64_t n, chunks;
    Body* body;
  };
  const Job job{n, parallel_chunks(n, grain), &body};
  if (job.chunks == 1) {
    body(std::int64_t{0}, std::int64_t{0}, n);
    return;
  }
  run_chunks(
      job.chunks, available_threads(),
      [](const void* context, std::int64_t chunk) {
        const Job& job = *static_cast<const Job*>(context);
        const std::int64_t begin = job.n * chunk / job.chunks;
        const std::int64_t end = job.n * (chunk + 1) / job.chunks;
        (*job.body)(chunk, begin, end);
      },
      &job);
}

// Runs body(begin, end) over [0, n), split as parallel_for_chunks splits it.
template <typename Body>
void parallel_for(std::int64_t n, std::int64_t grain, Body body) {
  parallel_for_chunks(n, grain, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
    body(begin, end);
  });
}

// Elements per chunk of an elementwise kernel (one unit of work each).
constexpr std::int64_t kElementwiseGrain = grain_for_work(1);

template <std::size_t N>
struct StridedLayout {
  Shape shape;                                 // coalesced shape (at least 1 dim)
  std::array<std::vector<std::int64_t>, N> byte_strides;  // per array, per coalesced dim
  std::array<char*, N> base;                   // address of element 0 of each array
};

// Builds the coalesced layout of `arrays` (all of the same shape).
template <std::size_t N>
StridedLayout<N> make_layout(const std::array<const Array*, N>& arrays) {
  StridedLayout<N> layout;
  const Shape& shape = arrays[0]->shape();
  std::vector<std::int64_t> dims;  // dims of size > 1: size-1 dims never move a pointer
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (shape[d] != 1) dims.push_back(static_cast<std::int64_t>(d));
  for (std::size_t k = 0; k < N; ++k)
    layout.base[k] = static_cast<char*>(arrays[k]->raw_data());
  if (dims.empty()) {  // a single element
    layout.shape = {1};
    for (std::size_t k = 0; k < N; ++k) layout.byte_strides[k] = {0};
    return layout;
  }
  // Merge dim `d` into the previous (outer) one when, in every array, stepping the outer dim
  // once is the same as stepping the inner dim across its whole size.
  // Byte strides are checked products: an array's constructor keeps them in range
  // (layout_span_bytes), but a view made by hand (the Array(storage, ...) constructor) is not.
  auto byte_stride = [&](std::size_t k, std::int64_t d) {
    return checked_mul(arrays[k]->strides()[d], std::int64_t(dtype_size(arrays[k]->dtype())),
                       "strided loop", "a byte stride");
  };
  for (std::int64_t d : dims) {
    bool merge = !layout.shape.empty();
    for (std::size_t k = 0; k < N && merge; ++k) {
      std::int64_t outer = layout.byte_strides[k].back(), merged = 0;
      // A product that does not fit cannot equal `outer`: no merge.
      merge = !__builtin_mul_overflow(byte_stride(k, d), shape[d], &merged) && outer == merged;
    }
    if (merge) {
      layout.shape.back() *= shape[d];  // the element count of the arrays: it fits
      for (std::size_t k = 0; k < N; ++k) layout.byte_strides[k].back() = byte_stride(k, d);
    } else {
      layout.shape.push_back(shape[d]);
      for (std::size_t k = 0; k < N; ++k) layout.byte_strides[k].push_back(byte_stride(k, d));
    }
  }
  return layout;
}

// Calls run(pointers, inner_byte_strides, length) for every run of elements along the
// innermost (coalesced) dim, covering all elements of the arrays once, in parallel for big ones.
template <std::size_t N, typename Run>
void for_each_run(const std::array<const Array*, N>& arrays, Run run,
                  std::int64_t grain = kElementwiseGrain) {
  // No elements, nothing to do; the strides of an empty array may be anything, so they are not
  // even looked at.
  if (arrays[0]->numel() == 0) return;
  StridedLayout<N> layout = make_layout(arrays);
  const std::int64_t ndim = static_cast<std::int64_t>(layout.shape.size());
  const std::int64_t inner_size = layout.shape.back();
  std::array<std::int64_t, N> inner_strides;
  for (std::size_t k = 0; k < N; ++k) inner_strides[k] = layout.byte_strides[k].back();

  parallel_for(shape_numel(layout.shape), grain, [&](std::int64_t begin, std::int64_t end) {
    // Multi-index of element `begin` in the coalesced shape.
    std::vector<std::int64_t> index(ndim);
    for (std::int64_t d = ndim - 1, rest = begin; d >= 0; --d) {
      index[d] = rest % layout.shape[d];
      rest /= layout.shape[d];
    }
    std::int64_t position = begin;
    while (position < end) {
      std::int64_t length = std::min(inner_size - index[ndim - 1], end - position);
      std::array<char*, N> pointers;
      for (std::size_t k = 0; k < N; ++k) {
        char* p = layout.base[k];
        for (std::int64_t d = 0; d < ndim; ++d) p += index[d] * layout.byte_strides[k][d];
        pointers[k] = p;
      }
      run(pointers, inner_strides, length);
      position += length;
      index[ndim - 1] += length;
      for (std::int64_t d = ndim - 1; d > 0 && index[d] == layout.shape[d]; --d) {
        index[d] = 0;
        ++index[d - 1];
      }
    }
  });
}

}  // namespace tensor::cpu
