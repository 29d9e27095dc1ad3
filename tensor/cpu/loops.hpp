// loops.hpp — walking N strided arrays in step, the engine under every cpu elementwise kernel.
//
// The arrays share one shape but each has its own strides (a transposed view, a broadcast input
// with stride 0, ...). Dims that are laid out back to back in every array are merged first
// ("coalesced"), so a contiguous array of any shape becomes one long run. The kernel then sees
// runs along the innermost dim: (pointers, byte strides, length) — a tight loop the compiler can
// vectorise when the strides are the element size.
#pragma once

#include <omp.h>

#include <array>
#include <cstdint>
#include <vector>

#include "tensor/array.hpp"

namespace tensor::cpu {

// Runs body(begin, end) over [0, n) split into one contiguous range per thread, when n is
// at least `grain` and we are not already inside a parallel region; serially otherwise.
template <typename Body>
void parallel_for(std::int64_t n, std::int64_t grain, Body body) {
  int threads = omp_get_max_threads();
  if (n < grain || threads <= 1 || omp_in_parallel()) {
    if (n > 0) body(std::int64_t{0}, n);
    return;
  }
  std::int64_t chunks = std::min<std::int64_t>(threads, (n + grain - 1) / grain);
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static)
  for (std::int64_t c = 0; c < chunks; ++c) {
    std::int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
    if (begin < end) body(begin, end);
  }
}

// Elements below which threading costs more than it saves.
constexpr std::int64_t kElementwiseGrain = 1 << 15;

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
