// reduce.cpp — cpu reductions (sum, prod, max, min, argmax, argmin) over any set of dims.
//
// The input's dims split into kept dims (they index the output) and reduced dims (they are
// folded into one value). Each group is coalesced like an elementwise loop, then every output
// element walks its reduced elements. Sums of float32 accumulate in double, so summing a
// million numbers loses no more than one rounding at the end.
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "tensor/cpu/cpu_backend.hpp"
#include "tensor/cpu/loops.hpp"
#include "tensor/scalar_math.hpp"

namespace tensor::cpu {

namespace {

// A group of dims (sizes and the input's strides along them), outermost first, coalesced.
struct DimGroup {
  std::vector<std::int64_t> sizes, strides;
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (std::int64_t s : sizes) n *= s;
    return n;
  }
  void add(std::int64_t size, std::int64_t stride) {
    if (!sizes.empty() && strides.back() == stride * size) {
      sizes.back() *= size;
      strides.back() = stride;
    } else {
      sizes.push_back(size);
      strides.push_back(stride);
    }
  }
  // Offset (in elements) of the i-th element of the group, counted row-major.
  std::int64_t offset_of(std::int64_t i) const {
    std::int64_t offset = 0;
    for (std::size_t d = sizes.size(); d-- > 0;) {
      offset += (i % sizes[d]) * strides[d];
      i /= sizes[d];
    }
    return offset;
  }
};

template <typename T>
using Accumulator = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;

// Visits each element offset of `group` in row-major order: visit(offset, position).
template <typename Visit>
void walk(const DimGroup& group, Visit visit) {
  const std::int64_t n = group.numel();
  if (group.sizes.size() <= 1) {
    const std::int64_t stride = group.sizes.empty() ? 0 : group.strides[0];
    for (std::int64_t i = 0; i < n; ++i) visit(i * stride, i);
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) visit(group.offset_of(i), i);
}

template <typename T>
void reduce_typed(ReduceOp op, const Array& x, const Array& out) {
  DimGroup kept, reduced;
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    if (x.shape()[d] == 1) continue;
    if (out.shape()[d] == 1)
      reduced.add(x.shape()[d], x.strides()[d]);
    else
      kept.add(x.shape()[d], x.strides()[d]);
  }
  const T* in = x.data<T>();
  const std::int64_t out_numel = kept.numel(), reduce_numel = reduced.numel();

  if (op == ReduceOp::ArgMax || op == ReduceOp::ArgMin) {
    std::int64_t* result = out.data<std::int64_t>();
    const bool want_max = op == ReduceOp::ArgMax;
    parallel_for(out_numel, grain_for_work(reduce_numel), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t o = begin; o < end; ++o) {
        const T* base = in + kept.offset_of(o);
        std::int64_t best_index = 0;
        T best = base[0];
        walk(reduced, [&](std::int64_t offset, std::int64_t position) {
          T v = base[offset];
          bool v_nan = v != v, best_nan = best != best;
          // NaN wins (as in PyTorch); among equal values the first index wins.
          bool better = !best_nan && (v_nan || (want_max ? v > best : v < best));
          if (better) {
            best = v;
            best_index = position;
          }
        });
        result[o] = best_index;
      }
    });
    return;
  }

  using Acc = std::conditional_t<std::is_same_v<T, bool>, std::int64_t, T>;
  Acc* result = static_cast<Acc*>(out.raw_data());
  if (op == ReduceOp::Sum || op == ReduceOp::Prod) {
    using Wide = Accumulator<Acc>;
    const bool is_sum = op == ReduceOp::Sum;
    const Wide start = is_sum ? Wide(0) : Wide(1);
    // Fast path for the gradient of a broadcast bias: summing [N, D] over N with D contiguous.
    // Walking whole rows keeps memory access sequential instead of striding down columns.
    const bool rows_contiguous = is_sum && !kept.sizes.empty() && kept.strides.back() == 1 &&
                                 kept.sizes.size() == 1 && reduce_numel > 1;
    if (rows_contiguous) {
      const std::int64_t width = kept.sizes[0];
      parallel_for(width, grain_for_work(reduce_numel), [&](std::int64_t begin, std::int64_t end) {
        std::vector<Wide> acc(end - begin, Wide(0));
        walk(reduced, [&](std::int64_t offset, std::int64_t) {
          const T* row = in + offset;
          for (std::int64_t j = begin; j < end; ++j) acc[j - begin] += Wide(row[j]);
        });
        for (std::int64_t j = begin; j < end; ++j) result[j] = Acc(acc[j - begin]);
      });
      return;
    }
    // A full reduction of a big array: each thread reduces a part, then the parts combine.
    if (out_numel == 1 && reduce_numel >= kElementwiseGrain) {
      std::vector<Wide> partial(parallel_chunks(reduce_numel, kElementwiseGrain), start);
      parallel_for_chunks(reduce_numel, kElementwiseGrain,
                          [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
                            Wide acc = start;
                            for (std::int64_t i = begin; i < end; ++i) {
                              Wide v = Wide(in[reduced.offset_of(i)]);
                              acc = is_sum ? acc + v : acc * v;
                            }
                            partial[chunk] = acc;
                          });
      Wide total = start;
      for (Wide p : partial) total = is_sum ? total + p : total * p;
      result[0] = Acc(total);
      return;
    }
    parallel_for(out_numel, grain_for_work(reduce_numel), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t o = begin; o < end; ++o) {
        const T* base = in + kept.offset_of(o);
        Wide acc = start;
        if (reduced.sizes.size() == 1 && reduced.strides[0] == 1) {
          for (std::int64_t i = 0; i < reduce_numel; ++i)
            acc = is_sum ? acc + Wide(base[i]) : acc * Wide(base[i]);
        } else {
          walk(reduced, [&](std::int64_t offset, std::int64_t) {
            acc = is_sum ? acc + Wide(base[offset]) : acc * Wide(base[offset]);
          });
        }
        result[o] = Acc(acc);
      }
    });
    return;
  }

  // Max and Min (NaN propagates, as in torch.amax).
  if constexpr (!std::is_same_v<T, bool>) {
    const bool want_max = op == ReduceOp::Max;
    parallel_for(out_numel, grain_for_work(reduce_numel), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t o = begin; o < end; ++o) {
        const T* base = in + kept.offset_of(o);
        T best = base[0];
        walk(reduced, [&](std::int64_t offset, std::int64_t) {
          best = want_max ? math::maximum(best, base[offset]) : math::minimum(best, base[offset]);
        });
        result[o] = best;
      }
    });
    return;
  }
  throw std::invalid_argument(op_name(op) + ": not supported for bool tensors");
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const Array& x, const Array& out) {
  dispatch(x.dtype(), [&](auto zero) { reduce_typed<decltype(zero)>(op, x, out); });
}

}  // namespace tensor::cpu
