// reduce.cpp — cpu reductions (sum, prod, max, min, argmax, argmin) over any set of dims.
//
// The input's dims split into kept dims (they index the output) and reduced dims (they are
// folded into one value). Each group is coalesced like an elementwise loop, then every output
// element walks its reduced elements. Sums of float32 accumulate in double, so summing a
// million numbers loses no more than one rounding at the end.
#include <algorithm>
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

// out[j] = sum over the rows r of in[offset(r) + j], j < width: the gradient of a bias that
// was broadcast over the rows ([N, D] summed over N, D contiguous). Walking whole rows keeps
// memory access sequential (and vectorised) instead of striding down columns.
//   Narrow rows (every bias of a small model: D = 128..512 against N = 2048 rows): the rows are
//   cut into blocks, each block sums into its own partial row, and the partial rows are added
//   in block order. Splitting the columns instead would hand each thread a few columns of every
//   row: short runs, each cache line fetched by both threads, slower on 2 threads than on 1.
//   The blocks depend only on the shape, so the sums are the same whatever the thread count.
//   Wide rows: each thread takes whole columns ranges and walks every row.
template <typename T, typename Acc, typename Wide>
void sum_rows(const T* in, const DimGroup& rows, std::int64_t width, Acc* out) {
  const std::int64_t n_rows = rows.numel();
  // Rows per block: enough work for one chunk of a parallel loop, and at most 64 blocks, so
  // the partial rows stay small next to the input.
  const std::int64_t block_rows =
      std::max((n_rows + 63) / 64, (kMinWorkPerChunk + width - 1) / width);
  const std::int64_t blocks = (n_rows + block_rows - 1) / block_rows;
  if (blocks == 1 || width >= kMinWorkPerChunk) {
    parallel_for(width, grain_for_work(n_rows), [&](std::int64_t begin, std::int64_t end) {
      std::vector<Wide> acc(end - begin, Wide(0));
      walk(rows, [&](std::int64_t offset, std::int64_t) {
        const T* row = in + offset;
        for (std::int64_t j = begin; j < end; ++j) acc[j - begin] += Wide(row[j]);
      });
      for (std::int64_t j = begin; j < end; ++j) out[j] = Acc(acc[j - begin]);
    });
    return;
  }
  std::vector<Wide> partial(blocks * width, Wide(0));  // [blocks, width]
  parallel_for(blocks, 1, [&](std::int64_t first_block, std::int64_t end_block) {
    for (std::int64_t b = first_block; b < end_block; ++b) {
      Wide* acc = partial.data() + b * width;
      const std::int64_t end_row = std::min(n_rows, (b + 1) * block_rows);
      for (std::int64_t r = b * block_rows; r < end_row; ++r) {
        const T* row = in + rows.offset_of(r);
        for (std::int64_t j = 0; j < width; ++j) acc[j] += Wide(row[j]);
      }
    }
  });
  // Block 0's partial row collects the others, in block order.
  Wide* total = partial.data();
  for (std::int64_t b = 1; b < blocks; ++b)
    for (std::int64_t j = 0; j < width; ++j) total[j] += partial[b * width + j];
  for (std::int64_t j = 0; j < width; ++j) out[j] = Acc(total[j]);
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
    if (is_sum && kept.sizes.size() == 1 && kept.strides[0] == 1 && reduce_numel > 1) {
      sum_rows<T, Acc, Wide>(in, reduced, kept.sizes[0], result);
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
