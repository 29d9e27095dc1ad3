// Checker of tutorials/exercises/stubs/split_merge_heads.cpp: exercise::split_heads and
// exercise::merge_heads against a plain-loop permute of the axes (as nn::MultiheadAttention's
// view + permute splits its heads), on inputs whose values are their own flat indices.
#include <array>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> split_heads(const std::vector<float>& x, int B, int T, int H, int D);
std::vector<float> merge_heads(const std::vector<float>& x, int B, int T, int H, int D);
}  // namespace exercise

using namespace exercise_check;

namespace {

// 0, 1, 2, ...: every value names the flat index it came from.
std::vector<float> flat_indices(int count) {
  std::vector<float> x(count);
  for (int n = 0; n < count; ++n) x[n] = static_cast<float>(n);
  return x;
}

// x read as a row-major array of `shape`, its axes reordered: out axis a is x's axis order[a]
// (numpy's transpose, PyTorch's permute), written out row-major.
std::vector<double> permuted(const std::vector<float>& x, std::array<int, 4> shape,
                             std::array<int, 4> order) {
  std::array<int, 4> stride{shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1};
  std::vector<double> out;
  out.reserve(x.size());
  std::array<int, 4> at{};  // the output index, in out's axis order
  for (at[0] = 0; at[0] < shape[order[0]]; ++at[0])
    for (at[1] = 0; at[1] < shape[order[1]]; ++at[1])
      for (at[2] = 0; at[2] < shape[order[2]]; ++at[2])
        for (at[3] = 0; at[3] < shape[order[3]]; ++at[3]) {
          int flat = 0;
          for (int a = 0; a < 4; ++a) flat += at[a] * stride[order[a]];
          out.push_back(x[flat]);
        }
  return out;
}

// [B, T, H * D] viewed as [B, T, H, D], then the head axis moved before time: [B, H, T, D].
std::vector<double> split(const std::vector<float>& x, int B, int T, int H, int D) {
  return permuted(x, {B, T, H, D}, {0, 2, 1, 3});
}
// [B, H, T, D] -> [B, T, H, D], which is [B, T, H * D] row-major.
std::vector<double> merge(const std::vector<float>& x, int B, int T, int H, int D) {
  return permuted(x, {B, H, T, D}, {0, 2, 1, 3});
}

const char* kIndexHint =
    "x[n] = n here, so the expected value is the flat index in x that belongs at this place.\n";

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "split_merge_heads", [] {
    const int B = 2, T = 3, H = 4, D = 5;

    // 1. split_heads
    std::vector<float> x = flat_indices(B * T * H * D);
    Output split_out{.name = "split_heads(x)",
                     .shape = {B, H, T, D},
                     .expected = split(x, B, T, H, D),
                     .hint = std::string(kIndexHint) +
                             "out[b, h, t, d] = x[b, t, h * D + d], at out's flat index\n"
                             "((b * H + h) * T + t) * D + d.",
                     .rtol = 0,
                     .atol = 0};
    split_out.mistakes = {
        {"reshape only (heads not moved in front of time)",
         std::string(kIndexHint) +
             "you copied x as it is: a reshape to [B, T, H, D] alone keeps time in front of the\n"
             "heads; the head axis must move in front of time ([B, H, T, D]).",
         std::vector<double>(x.begin(), x.end())},
        {"head h taken as every H-th feature",
         std::string(kIndexHint) +
             "head h owns the contiguous features h * D .. h * D + D - 1 of a position, not every\n"
             "H-th feature (x[b, t, d * H + h]).",
         permuted(x, {B, T, D, H}, {0, 3, 1, 2})},
    };
    expect_close({1, 3, "split_heads: x [2, 3, 4 * 5] (B 2, T 3, H 4, D 5), x[n] = n"}, split_out,
                 exercise::split_heads(x, B, T, H, D));

    // 2. merge_heads
    Output merge_out{
        .name = "merge_heads(x)",
        .shape = {B, T, H * D},
        .expected = merge(x, B, T, H, D),
        .hint = std::string(kIndexHint) +
                "out[b, t, h * D + d] = x[b, h, t, d], which is x[((b * H + h) * T + t) * D + d].",
        .rtol = 0,
        .atol = 0};
    merge_out.mistakes = {
        {"heads not moved back behind time",
         std::string(kIndexHint) +
             "you copied x as it is: the heads [B, H, T, D] must move back behind time and be\n"
             "concatenated per position ([B, T, H * D]).",
         std::vector<double>(x.begin(), x.end())},
    };
    expect_close({2, 3, "merge_heads: x [2, 4, 3, 5] (B 2, H 4, T 3, D 5), x[n] = n"}, merge_out,
                 exercise::merge_heads(x, B, T, H, D));

    // 3. merge undoes split, on other sizes.
    const int B3 = 3, T3 = 2, H3 = 3, D3 = 2;
    std::vector<float> y = flat_indices(B3 * T3 * H3 * D3);
    Output round_trip{.name = "merge_heads(split_heads(x))",
                      .shape = {B3, T3, H3 * D3},
                      .expected = std::vector<double>(y.begin(), y.end()),
                      .hint = "merge_heads must undo split_heads exactly; check both with T != H.",
                      .rtol = 0,
                      .atol = 0};
    expect_close({3, 3, "round trip: x [3, 2, 3 * 2] (B 3, T 2, H 3, D 2)"}, round_trip,
                 exercise::merge_heads(exercise::split_heads(y, B3, T3, H3, D3), B3, T3, H3, D3));
  });
}
