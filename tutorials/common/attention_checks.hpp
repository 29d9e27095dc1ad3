// attention_checks.hpp — attention written as plain loops, the independent computation the
// attention tutorials (03-06) compare the library against, and a few printing helpers.
//
// Nothing here calls the library's matmul, softmax or attention: the loops read the numbers out
// of the tensors and do every multiply, exp and sum themselves, in double. Only the bookkeeping
// (bringing q, k, v and the mask to one batch shape) uses the library's views.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tensor.hpp"

namespace tutorial {

using autograd::Tensor;

// Softmax of one row, written out: subtract the row max, exponentiate, divide by the sum.
// Entries equal to -inf take no part; a row with nothing but -inf gives all zeros (the library's
// convention for a fully masked row, see nn/attention.hpp).
std::vector<double> softmax_by_loop(const std::vector<double>& row);

// What an attention computation produced, all float64.
struct LoopAttention {
  Tensor scores;   // [..., Tq, Tk] after scaling and masking (-inf where blocked)
  Tensor weights;  // [..., Tq, Tk]
  Tensor output;   // [..., Tq, Dv]
};

// weights = softmax(scale * q k^T + mask), output = weights v, as loops over every (query, key).
// q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv]; leading (batch) dims broadcast. mask: undefined,
// bool (true = blocked) or float (added to the scores), broadcast to [..., Tq, Tk]. When `flops`
// is given it counts the multiplies and adds of the dot products, the scaling (when scale != 1),
// the softmax (a subtract, exp, add and divide per score) and the weighted sum.
LoopAttention attention_by_loops(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                                 const Tensor& mask = Tensor(), std::int64_t* flops = nullptr);

// Bahdanau attention as loops: score[i, j] = sum_h v[h] * tanh(sum_a Wq[h, a] q_i[a] +
// sum_b Wk[h, b] k_j[b]). q [B, Tq, Dq], k [B, Tk, Dk], v [B, Tk, Dv], w_q [H, Dq], w_k [H, Dk],
// w_v [1, H] (the layouts of nn::AdditiveAttention's Linear weights). When `flops` is given it
// counts every multiply, add and tanh the loops perform (exp and division of softmax included).
LoopAttention additive_attention_by_loops(const Tensor& q, const Tensor& k, const Tensor& v,
                                          const Tensor& w_q, const Tensor& w_k, const Tensor& w_v,
                                          const Tensor& mask = Tensor(),
                                          std::int64_t* flops = nullptr);

// The largest |a - b| over all elements (inf when a NaN is involved). Throws if shapes differ.
double max_abs_diff(const Tensor& a, const Tensor& b);

// Prints a 2-d tensor (or the first matrix of a batch) as aligned rows under a title:
//   scores = Q K^T   [2, 2]
//     [   50.0000    68.0000 ]
//     [  122.0000   167.0000 ]
// Large matrices print their top-left corner and say so.
void print_matrix(const std::string& title, const Tensor& t, int precision = 4,
                  std::int64_t max_rows = 8, std::int64_t max_cols = 8);

// The values of a matrix (a 2-d tensor, or the first matrix of a batch) in row-major order, for
// viz::Heatmap; NaN where `masked` (a bool tensor broadcastable to it) is true, which the heatmap
// draws as a hatched, masked cell.
std::vector<double> matrix_values(const Tensor& t, const Tensor& masked = Tensor());

// <dir>/<name>, after printing "  wrote <dir>/<name>".
std::string picture_path(const std::string& dir, const std::string& name);

// Runs f and returns the message of the exception it throws, or "" if it throws none. For
// showing the library's error for a wrong call, next to the right one.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace tutorial
