// 09_positional_encoding — Why does a Transformer need positional encoding? How does the
//                          sinusoidal one work?
//                          注意力模型中的“位置编码”是什么意思？
//   Asked in the interview article "深入探讨注意力模型：从基础理论到实际应用" (question 10).
//
// Short answer
//   Self-attention compares every position with every other by content only: shuffle the input
//   tokens and the outputs come out shuffled the same way, unchanged otherwise (permutation
//   equivariance). "dog bites man" and "man bites dog" give "dog" the very same vector. The
//   feed-forward and LayerNorm act on each position alone, so a whole Transformer layer has the
//   same blindness. A positional encoding adds a position-dependent vector to each token, so the
//   same word at another position is a different input.
//   The sinusoidal encoding: PE[p, 2i] = sin(p w_i), PE[p, 2i+1] = cos(p w_i), with
//   w_i = 10000^(-2i/E): pairs of features turning at geometrically spaced speeds, like the
//   hands of a clock (fast ones tell nearby positions apart, slow ones far ones). Moving k
//   positions turns each pair by the angle k w_i: PE(p+k) = R(k) PE(p) with a rotation R(k)
//   that does not depend on p, so a linear map (what attention's projections are) can express
//   "k positions away"; and PE(p) . PE(q) = sum_i cos((p-q) w_i) depends only on p - q.
//
// What this program shows
//   1. a Transformer encoder layer without positions: permuting the input rows permutes the
//      output rows identically (checked to 1e-12), "dog" gets the same output in both sentences;
//   2. with the sinusoidal encoding added, both stop being true;
//   3. the library's table against the formula, drawn as an image (pe_table.png);
//   4. PE(p + k) is a rotation of PE(p) in every frequency pair, by an angle fixed by k;
//   5. PE(p) . PE(q) depends only on p - q: a heatmap (pe_dot_products.png) and a plot against
//      the offset for several p, on top of each other (pe_dot_vs_offset.png).
//
// Run:  build/tutorials/09_positional_encoding   (--len, --dim; --quick for CI)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/reference.hpp"
#include "tutorials/common/tutorial.hpp"
#include "viz/heatmap.hpp"
#include "viz/plot.hpp"

using autograd::DType;
using autograd::Tensor;
using tutorial::max_abs_diff;

namespace {

// w_i = 10000^(-2i/E): the angular speed of feature pair i (features 2i and 2i+1).
double frequency(std::int64_t pair, std::int64_t dim) {
  return std::pow(10000.0, -2.0 * double(pair) / double(dim));
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "09_positional_encoding",
    .chinese = "注意力模型中的“位置编码”是什么意思？",
    .english = "What is positional encoding, why does a Transformer need it, and how does the "
               "sinusoidal one work?",
    .answer = "Self-attention is permutation-equivariant: shuffle the tokens and the outputs shuffle\n"
              "the same way, so word order is invisible. Adding a position vector to each token fixes\n"
              "that. Sinusoidal: PE[p, 2i] = sin(p w_i), PE[p, 2i+1] = cos(p w_i), w_i = 10000^(-2i/E);\n"
              "moving k positions rotates each pair by k w_i, and PE(p).PE(q) depends only on p - q.",
    .article = "深入探讨注意力模型：从基础理论到实际应用",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  std::int64_t T = 64, E = 64;
  // At least 8 positions: part 1 shuffles min(T, 12) tokens and needs a shuffle that moves some.
  // At most 256 each: the checks loop over every (p, q, pair), 5-15 s at 256 x 256.
  flags.add("--len", T, "positions in the table and pictures", tutorial::between(8, 256));
  // At least 4: a LayerNorm over 2 features outputs (-1, 1) or (1, -1), whatever comes in.
  flags.add("--dim", E, "E, the model size (even)", tutorial::between(4, 256));
  std::string save_dir;
  flags.add_output_folder("--save", save_dir,
                          "folder to write inputs, weights and outputs into as .npy (Python twin)");
  flags.parse(argc, argv);
  flags.quick(T, 32), flags.quick(E, 32);  // flags given win
  tutorial::Flags::require(E % 2 == 0, "--dim " + std::to_string(E) +
                                           " is odd: features come in sin/cos pairs");
  tutorial::Checks checks;
  tensor::Generator gen(options.seed);

  tutorial::section("1. Without positions, a Transformer layer cannot see order");
  nn::LayerConfig config;
  config.d_model = E;
  config.nhead = E % 4 == 0 ? 4 : 2;  // any even E works
  config.dim_feedforward = 4 * E;
  config.dropout = 0.0;
  nn::TransformerEncoderLayer layer(config, gen);
  layer.to(DType::Float64);
  layer.eval();
  // Permutation equivariance: f(P X) = P f(X) for any reordering P of the positions.
  const std::int64_t L = std::min<std::int64_t>(T, 12);
  Tensor X = autograd::randn({1, L, E}, gen, DType::Float64);
  Tensor order(tensor::randperm(L, gen));  // P as a list of row indices
  Tensor shuffled_then_layer = layer.forward(autograd::index_select(X, 1, order));
  Tensor layer_then_shuffled = autograd::index_select(layer.forward(X), 1, order);
  double equivariance_gap = max_abs_diff(shuffled_then_layer, layer_then_shuffled);
  std::printf(
      "  %lld random tokens, shuffled by a random permutation P:\n"
      "  max |layer(P X) - P layer(X)| = %.1e\n",
      static_cast<long long>(L), equivariance_gap);
  checks.small(equivariance_gap, 1e-12, "shuffling the input only shuffles the output");

  // A tiny vocabulary: "dog", "bites", "man" as random embedding vectors.
  Tensor vocab = autograd::randn({3, E}, gen, DType::Float64);
  auto sentence = [&](std::vector<std::int64_t> ids) {
    return autograd::index_select(vocab, 0, autograd::from_vector(ids)).unsqueeze(0);  // [1, 3, E]
  };
  const std::int64_t dog = 0, bites = 1, man = 2;
  Tensor dog_bites_man = sentence({dog, bites, man}), man_bites_dog = sentence({man, bites, dog});
  Tensor out_a = layer.forward(dog_bites_man), out_b = layer.forward(man_bites_dog);
  double dog_gap = max_abs_diff(out_a.select(1, 0), out_b.select(1, 2));
  std::printf(
      "\n  \"dog bites man\" vs \"man bites dog\": the layer's output for \"dog\"\n"
      "  differs between the two sentences by at most %.1e\n",
      dog_gap);
  checks.small(dog_gap, 1e-12, "\"dog\" gets the same vector whether it bites or is bitten");

  tutorial::section("2. With the sinusoidal encoding added, order matters");
  Tensor pe_table(
      nn::sinusoidal_positional_encoding(T, E));  // [T, E] float32, as the library stores it
  Tensor pe = pe_table.to(DType::Float64);
  Tensor pe_L = pe.slice(0, 0, L).unsqueeze(0), pe_3 = pe.slice(0, 0, 3).unsqueeze(0);
  Tensor with_positions = layer.forward(autograd::index_select(X, 1, order) + pe_L);
  Tensor shuffled_output = autograd::index_select(layer.forward(X + pe_L), 1, order);
  double positional_gap = max_abs_diff(with_positions, shuffled_output);
  Tensor pa = layer.forward(dog_bites_man + pe_3), pb = layer.forward(man_bites_dog + pe_3);
  double dog_gap_pe = max_abs_diff(pa.select(1, 0), pb.select(1, 2));
  std::printf("  max |layer(P X + PE) - P layer(X + PE)| = %.3f\n", positional_gap);
  std::printf("  \"dog\" in the two sentences now differs by up to %.3f\n", dog_gap_pe);
  checks.check(positional_gap > 1e-2,
               "with positions added the layer is no longer permutation-equivariant");
  checks.check(dog_gap_pe > 1e-2, "\"dog\" as subject and as object now get different vectors");
  std::printf(
      "  (One of the articles lists positional encoding among the ways to mask attention; it\n"
      "  masks nothing: it is added to the inputs so that position becomes part of content.)\n");

  tutorial::section(
      "3. The table: PE[p, 2i] = sin(p w_i), PE[p, 2i+1] = cos(p w_i), w_i = 10000^(-2i/E)");
  double table_error = 0;
  for (std::int64_t p = 0; p < T; ++p)
    for (std::int64_t i = 0; i < E / 2; ++i) {
      double angle = double(p) * frequency(i, E);
      table_error = std::max(table_error, std::fabs(pe.at({p, 2 * i}) - std::sin(angle)));
      table_error = std::max(table_error, std::fabs(pe.at({p, 2 * i + 1}) - std::cos(angle)));
    }
  checks.small(table_error, 1e-6,
               "nn::sinusoidal_positional_encoding equals the formula (float32 table)");
  std::printf("  pair 0 turns once every %.1f positions; pair %lld once every %.0f positions.\n",
              2 * M_PI / frequency(0, E), static_cast<long long>(E / 2 - 1),
              2 * M_PI / frequency(E / 2 - 1, E));
  {
    // As stored (sin and cos interleaved), and with the sin features first, then the cos ones.
    std::vector<std::int64_t> sin_then_cos;
    for (std::int64_t j = 0; j < E; j += 2) sin_then_cos.push_back(j);
    for (std::int64_t j = 1; j < E; j += 2) sin_then_cos.push_back(j);
    Tensor regrouped = autograd::index_select(pe, 1, autograd::from_vector(sin_then_cos));
    viz::HeatmapGrid tables(2);
    tables.set_title("Sinusoidal positional encoding: fast pairs on the left, slow on the right")
        .set_y_label("position p")
        .set_x_label("feature")
        .set_colormap(viz::ColormapKind::diverging)
        .set_range(-1, 1)
        .set_colorbar_label("PE");
    tables.add_panel("as stored: sin cos sin cos", pe.to_vector<double>(),
                     static_cast<int>(T), static_cast<int>(E));
    tables.add_panel("regrouped: sines | cosines",
                     regrouped.to_vector<double>(), static_cast<int>(T), static_cast<int>(E));
    tutorial::save_picture(tables, options, "pe_table.png",
                           "left columns flip sign every few positions, right ones barely change "
                           "down the whole table: each pair is a clock of its own speed");
  }

  tutorial::section("4. Moving k positions rotates every frequency pair by k w_i");
  std::printf(
      "  sin((p+k)w) =  cos(kw) sin(pw) + sin(kw) cos(pw)\n"
      "  cos((p+k)w) = -sin(kw) sin(pw) + cos(kw) cos(pw)\n"
      "  so each pair (PE[p,2i], PE[p,2i+1]) is multiplied by the 2x2 rotation R(k w_i),\n"
      "  the same matrix for every p: one fixed linear map M_k sends PE(p) to PE(p+k).\n\n");
  double rotation_error = 0;
  for (std::int64_t k = 0; k < T; ++k)
    for (std::int64_t p = 0; p + k < T; ++p)
      for (std::int64_t i = 0; i < E / 2; ++i) {
        double c = std::cos(double(k) * frequency(i, E)), s = std::sin(double(k) * frequency(i, E));
        double sin_p = pe.at({p, 2 * i}), cos_p = pe.at({p, 2 * i + 1});
        rotation_error =
            std::max(rotation_error, std::fabs(c * sin_p + s * cos_p - pe.at({p + k, 2 * i})));
        rotation_error =
            std::max(rotation_error, std::fabs(-s * sin_p + c * cos_p - pe.at({p + k, 2 * i + 1})));
      }
  checks.small(rotation_error, 1e-6, "R(k w_i) applied to PE(p) gives PE(p+k) for all p, k, i");
  // The same statement as one matrix product: PE[k:] = PE[:T-k] M_k^T for a block-diagonal M_k.
  {
    const std::int64_t k = std::min<std::int64_t>(5, T - 1);
    std::vector<double> m(E * E, 0.0);
    for (std::int64_t i = 0; i < E / 2; ++i) {
      double c = std::cos(double(k) * frequency(i, E)), s = std::sin(double(k) * frequency(i, E));
      // rows 2i, 2i+1 of M_k: [c s; -s c] on the pair's two columns
      m[(2 * i) * E + 2 * i] = c;
      m[(2 * i) * E + 2 * i + 1] = s;
      m[(2 * i + 1) * E + 2 * i] = -s;
      m[(2 * i + 1) * E + 2 * i + 1] = c;
    }
    Tensor M = autograd::from_vector(m, {E, E});
    Tensor moved = autograd::matmul(pe.slice(0, 0, T - k), M.transpose(0, 1));
    checks.same(moved, pe.slice(0, k, T), 1e-6,
                "one matrix M_" + std::to_string(k) + " moves every position " + std::to_string(k) +
                    " ahead");
  }

  tutorial::section("5. PE(p) . PE(q) depends only on the distance p - q");
  std::printf("  PE(p).PE(q) = sum_i sin(pw)sin(qw) + cos(pw)cos(qw) = sum_i cos((p-q) w_i)\n\n");
  Tensor dots = autograd::matmul(pe, pe.transpose(0, 1));  // [T, T]
  double dot_error = 0;
  for (std::int64_t p = 0; p < T; ++p)
    for (std::int64_t q = 0; q < T; ++q) {
      double closed = 0;
      for (std::int64_t i = 0; i < E / 2; ++i) closed += std::cos(double(p - q) * frequency(i, E));
      dot_error = std::max(dot_error, std::fabs(dots.at({p, q}) - closed));
    }
  checks.small(dot_error, 1e-5, "every PE(p).PE(q) equals sum_i cos((p-q) w_i)");
  checks.close(dots.at({T / 2, T / 2}), double(E / 2), 1e-5,
               "PE(p).PE(p) = E/2 (each pair has length 1)");
  std::printf("  offset k:        0      1      2      4      8     16\n  PE(0).PE(k):");
  for (std::int64_t k : {0, 1, 2, 4, 8, 16})
    if (k < T) std::printf(" %6.2f", dots.at({0, k}));
  std::printf(
      "\n  The similarity falls off with distance (not monotonically) and is symmetric in\n"
      "  k, so the dot product alone cannot tell before from after; the rotation of\n"
      "  part 4, seen through learned projections W_q, W_k, can.\n");
  {
    viz::Heatmap map(dots.to_vector<double>(), static_cast<int>(T), static_cast<int>(T));
    map.set_title("PE(p) . PE(q): constant along every diagonal (depends on q - p only)")
        .set_y_label("position p")
        .set_x_label("position q")
        .set_show_values(false)
        .set_grid_lines(false)
        .set_colorbar_label("PE(p).PE(q)");
    std::printf("\n");
    tutorial::save_picture(map, options, "pe_dot_products.png",
                           "every diagonal has one colour: the dot product depends on p - q only");
    viz::LinePlot plot("PE(p).PE(p+k) vs offset k: the same curve for every p");
    plot.set_x_label("offset k")
        .set_y_label("PE(p) . PE(p + k)")
        .set_markers(viz::MarkerMode::never);
    std::vector<double> offsets, closed;
    for (std::int64_t k = -(T - 1); k < T; ++k) {
      double sum = 0;
      for (std::int64_t i = 0; i < E / 2; ++i) sum += std::cos(double(k) * frequency(i, E));
      offsets.push_back(double(k));
      closed.push_back(sum);
    }
    plot.add_series("sum_i cos(k w_i)", offsets, closed);  // drawn first, under the others
    // Each p covers the offsets -p .. T-1-p; drawn in this order, each shows where it is alone.
    for (std::int64_t p : {std::int64_t(0), T - 1, T / 2}) {
      std::vector<double> ks, values;
      for (std::int64_t q = 0; q < T; ++q) {
        ks.push_back(double(q - p));
        values.push_back(dots.at({p, q}));
      }
      plot.add_series("table, p = " + std::to_string(p), ks, values);
    }
    tutorial::save_picture(plot, options, "pe_dot_vs_offset.png",
                           "the curves of three positions p lie on the closed form sum_i cos(k w_i)");
  }

  std::printf(
      "\nWhat to notice: without positions, attention sees a bag of tokens. The sinusoidal\n"
      "encoding makes position part of the input, and in a form where a relative shift is\n"
      "a fixed rotation: the same for every absolute position.\n");
  int code = checks.finish();
  char answer[700];
  std::snprintf(answer, sizeof answer,
                "Without positions a Transformer layer is permutation-equivariant: shuffling %lld tokens\n"
                "shuffled the output to within %.1e, and \"dog\" got the same vector as subject and object.\n"
                "With the sinusoidal table added the gap became %.3f. Moving k positions is a fixed\n"
                "rotation of each sin/cos pair (error %.1e), and PE(p).PE(q) = sum_i cos((p-q) w_i).",
                static_cast<long long>(L), equivariance_gap, positional_gap, rotation_error);
  tutorial::print_answer(kQuestion, answer);
  tutorial::save_npy_files(save_dir, {{"pe", pe_table}});  // [T, E] float32
  std::printf("\nPython twin: tutorials/python/09_positional_encoding.py (make python)\n");
  return code;
} catch (...) {
  return tutorial::report_error();
}
