// reduce.cuh — sum, prod, max, min, argmax, argmin over any set of dims.
//
// Two layouts, picked by the host (kernel_backend.cuh):
//   block per output (reduce_kernel): grid = (outputs), B threads, B a power of two in
//     [32, kMaxReduceThreads] fitting the number of reduced elements R. Thread t folds elements
//     t, t + B, t + 2B, ... of its output into one partial value (consecutive threads read
//     consecutive elements, which a GPU serves in few memory transactions), then block_reduce()
//     combines the B partials. For few outputs of many elements (a full sum, a row sum).
//   thread per output (reduce_serial_kernel): a 1-d grid over the outputs, each thread folding
//     its R elements alone. For many outputs of few elements, or of elements far apart.
//
//   kept:    the dims that index the output: strides in x (array 0) and in out (array 1)
//   reduced: the dims that are folded: strides in x
//
// As on the cpu, float sums and products accumulate in double and integer ones in int64; the
// order of the additions differs (a tree instead of a loop), so float32 results may differ from
// the cpu's in the last bit.
#pragma once

#include "cuda/kernels/common.cuh"

namespace tensor::cuda::ATTN_CUDA_TARGET {

// The reduction `op` of two partial results (Sum, Prod, Max, Min; Max and Min propagate NaN).
struct ReduceCombine {
  ReduceOp op;
  template <typename Acc>
  __device__ Acc operator()(Acc a, Acc b) const {
    switch (op) {
      case ReduceOp::Sum: return a + b;
      case ReduceOp::Prod: return a * b;
      case ReduceOp::Max: return math::maximum(a, b);
      case ReduceOp::Min: return math::minimum(a, b);
      default: return a;
    }
  }
};

// Where a fold starts: 0 for Sum, 1 for Prod, and for Max/Min the first reduced element, which
// a thread may fold in again without changing a max or a min.
template <typename Acc, typename T>
__device__ inline Acc reduce_start(ReduceOp op, const T* first) {
  return op == ReduceOp::Sum ? Acc(0) : op == ReduceOp::Prod ? Acc(1) : Acc(first[0]);
}

// Sum/Prod (Acc = double or int64) and Max/Min (Acc = T): one block per output.
template <typename T, typename Acc, typename Out>
__global__ void reduce_kernel(ReduceOp op, StridedN<2> kept, StridedN<1> reduced,
                              index_t reduce_numel, const T* x, Out* out) {
  const Offsets<2> base = offsets_of(kept, blockIdx.x);
  const T* first = x + base.of[0];
  const ReduceCombine combine{op};
  Acc partial = reduce_start<Acc>(op, first);
  for (index_t i = threadIdx.x; i < reduce_numel; i += blockDim.x)
    partial = combine(partial, Acc(first[offsets_of(reduced, i).of[0]]));
  const Acc total = block_reduce(partial, combine);
  if (threadIdx.x == 0) out[base.of[1]] = Out(total);
}

// The same with one thread per output, for many outputs of few (or scattered) elements each:
// a 1-d grid over the outputs, each thread folding its R elements alone, with no shared memory
// and no barrier. Neighbouring threads take neighbouring outputs; when the reduced dim is an
// outer one (summing [N, C] over N for a bias gradient) their elements are neighbours in memory
// too, and a GPU serves the reads of a warp together.
template <typename T, typename Acc, typename Out>
__global__ void reduce_serial_kernel(ReduceOp op, StridedN<2> kept, StridedN<1> reduced,
                                     index_t out_numel, index_t reduce_numel, const T* x,
                                     Out* out) {
  const ReduceCombine combine{op};
  for (index_t o = first_index(); o < out_numel; o += grid_stride()) {
    const Offsets<2> base = offsets_of(kept, o);
    const T* first = x + base.of[0];
    Acc total = reduce_start<Acc>(op, first);
    for (index_t i = 0; i < reduce_numel; ++i)
      total = combine(total, Acc(first[offsets_of(reduced, i).of[0]]));
    out[base.of[1]] = Out(total);
  }
}

// The best (value, position) so far; position -1 means "nothing seen yet".
template <typename T>
struct ValueIndex {
  T value;
  index_t index;
};

// Which of two candidates an argmax (argmin) keeps: NaN beats everything (as in PyTorch), then
// the larger (smaller) value, and among equals the smaller position, so the result is the
// first best position whatever order the tree combines them in.
template <typename T>
struct ArgCombine {
  bool want_max;
  __device__ ValueIndex<T> operator()(ValueIndex<T> a, ValueIndex<T> b) const {
    if (a.index < 0) return b;
    if (b.index < 0) return a;
    const bool a_nan = a.value != a.value, b_nan = b.value != b.value;
    if (a_nan || b_nan) {
      if (a_nan && b_nan) return a.index < b.index ? a : b;
      return a_nan ? a : b;
    }
    if (a.value != b.value) {
      const bool a_better = want_max ? a.value > b.value : a.value < b.value;
      return a_better ? a : b;
    }
    return a.index < b.index ? a : b;
  }
};

// out[o] = the position (along the single reduced dim) of the max (min) of output o's elements;
// one block per output.
template <typename T>
__global__ void arg_reduce_kernel(bool want_max, StridedN<2> kept, StridedN<1> reduced,
                                  index_t reduce_numel, const T* x, std::int64_t* out) {
  const Offsets<2> base = offsets_of(kept, blockIdx.x);
  const T* first = x + base.of[0];
  const ArgCombine<T> combine{want_max};
  ValueIndex<T> best{T(0), -1};
  for (index_t i = threadIdx.x; i < reduce_numel; i += blockDim.x)
    best = combine(best, ValueIndex<T>{first[offsets_of(reduced, i).of[0]], i});
  const ValueIndex<T> winner = block_reduce(best, combine);
  if (threadIdx.x == 0) out[base.of[1]] = winner.index;
}

// The same with one thread per output.
template <typename T>
__global__ void arg_reduce_serial_kernel(bool want_max, StridedN<2> kept, StridedN<1> reduced,
                                         index_t out_numel, index_t reduce_numel, const T* x,
                                         std::int64_t* out) {
  const ArgCombine<T> combine{want_max};
  for (index_t o = first_index(); o < out_numel; o += grid_stride()) {
    const Offsets<2> base = offsets_of(kept, o);
    const T* first = x + base.of[0];
    ValueIndex<T> best{T(0), -1};
    for (index_t i = 0; i < reduce_numel; ++i)
      best = combine(best, ValueIndex<T>{first[offsets_of(reduced, i).of[0]], i});
    out[base.of[1]] = best.index;
  }
}

}  // namespace tensor::cuda::ATTN_CUDA_TARGET
