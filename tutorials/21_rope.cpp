// 21_rope — How does RoPE (rotary position embedding) encode relative position?
//           RoPE（旋转位置编码）是如何编码相对位置的？
//
// Short answer
//   RoPE adds nothing to the token: it turns the query and the key. Read a head's D dims as D/2
//   complex numbers q_i = q[2i] + i q[2i+1]; at position m, number i is multiplied by
//   e^{i m θ_i} with θ_i = base^(-2i/D) (base = 10000): pair 0 turns by 1 radian per position,
//   the last pair by about 1/base. The score of a query at m and a key at n is then
//       q_m · k_n = Re[ Σ_i q_i conj(k_i) e^{i (m - n) θ_i} ],
//   so the absolute positions cancel exactly and only m - n is left, whatever W_q and W_k are.
//   Adding sinusoids to the input instead, (x + p_m) and (y + p_n), leaves cross terms
//   W_q x · W_k p_n and W_q p_m · W_k y that change when both tokens move together.
//   Past the trained length: shifting a whole sequence changes nothing (only distances count),
//   but a distance longer than any seen in training turns the slow pairs to angles the model
//   never saw (they did not complete a turn within the trained length), which is why RoPE models
//   need position interpolation or a larger base to read longer texts. The RoFormer bound on
//   |score| falls with distance: a built-in lean towards nearby tokens.
//
// What this program shows
//   1. the library's rotary_embedding against the rotation written here with std::complex;
//   2. scores of rotated unit q, k at every pair of positions (m, n): constant along every
//      diagonal m - n = d, to ~1e-7 in float32 and ~1e-16 in float64 (scores.png);
//   3. the same scores from the complex form Re[Σ q_i conj(k_i) e^{i(m-n)θ_i}], computed apart;
//   4. adding sinusoids instead: the four terms of the score, which of them move when both
//      tokens shift together, and the score against distance for three shifts
//      (score_vs_distance.png: RoPE's curves lie on top of each other, the additive ones do not);
//   5. Hugging Face's rotate_half layout: the same rotation with the dims permuted;
//   6. beyond the trained length: a sequence shifted by many lengths keeps its scores, the pairs
//      that never completed a turn, angles in float32 at long positions, and the RoFormer
//      long-term decay of the bound on |score| (rope_decay.png).
//
// Run:  build/tutorials/21_rope   (--dim, --len, --base, --far, --device; --quick for CI)
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/tutorial.hpp"
#include "viz/heatmap.hpp"
#include "viz/plot.hpp"

using autograd::DType;
using autograd::Tensor;
using Complex = std::complex<double>;

namespace {

// Letters: D the head dim, N = D/2 the pairs, L the trained length (positions 0..L-1),
// m the query's position, n the key's, d = m - n their distance.

// θ_i = base^(-2i/D): how many radians pair i turns per position. Written here again, apart
// from the library's formula (tensor/rope_math.hpp), so the checks compare two codes.
double theta(std::int64_t pair, std::int64_t D, double base) {
  return std::pow(base, -2.0 * double(pair) / double(D));
}

// A vector of D reals as N complex numbers: (x[2i], x[2i+1]) -> x[2i] + i x[2i+1].
std::vector<Complex> as_complex(const std::vector<double>& x) {
  std::vector<Complex> z(x.size() / 2);
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = Complex(x[2 * i], x[2 * i + 1]);
  return z;
}

// RoPE by complex numbers: row t of x [P, D] (at position offset + t) has each of its complex
// numbers multiplied by e^{i (offset + t) θ_i}.
std::vector<double> rope_by_complex(const std::vector<double>& x, std::int64_t P, std::int64_t D,
                                    std::int64_t offset, double base) {
  std::vector<double> y(x.size());
  for (std::int64_t t = 0; t < P; ++t)
    for (std::int64_t i = 0; i < D / 2; ++i) {
      const Complex z(x[t * D + 2 * i], x[t * D + 2 * i + 1]);
      const Complex turned = z * std::polar(1.0, double(offset + t) * theta(i, D, base));
      y[t * D + 2 * i] = turned.real();
      y[t * D + 2 * i + 1] = turned.imag();
    }
  return y;
}

// The largest spread (max - min) of a [P, P] score matrix along any diagonal m - n = d: zero when
// the score depends on the distance only.
double diagonal_spread(const std::vector<double>& scores, std::int64_t P) {
  double worst = 0;
  for (std::int64_t d = -(P - 1); d < P; ++d) {
    double low = 1e300, high = -1e300;
    for (std::int64_t m = std::max<std::int64_t>(0, d); m < P && m - d < P; ++m) {
      low = std::min(low, scores[m * P + (m - d)]);
      high = std::max(high, scores[m * P + (m - d)]);
    }
    worst = std::max(worst, high - low);
  }
  return worst;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

// A random vector of unit length, [D] float64.
Tensor unit_vector(std::int64_t D, tensor::Generator& gen) {
  Tensor v = autograd::randn({D}, gen, DType::Float64);
  return v / std::sqrt(autograd::sum(v * v).item());
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "21_rope",
    .chinese = "RoPE（旋转位置编码）是如何编码相对位置的？",
    .english = "How does RoPE (rotary position embedding) encode relative position?",
    .answer = "It rotates q and k instead of adding a vector: pair i of dims, read as a complex number,\n"
              "is multiplied by e^{i m theta_i} at position m, theta_i = base^(-2i/D). Then\n"
              "q_m . k_n = Re[sum_i q_i conj(k_i) e^{i(m-n) theta_i}]: only m - n is left. Added sinusoids\n"
              "leave content x position cross terms that depend on absolute positions. Beyond the trained\n"
              "length the slow pairs reach angles never trained; the bound on |score| decays with distance.",
    .article = "",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion, /*with_device=*/true);
  tutorial::Options& options = flags.options;
  std::int64_t D = 64, L = 256, far = 8;
  double base = 10000.0;
  // The caps keep part 4's sinusoid table, (far + 1) L rows of D doubles, under ~140 MB.
  flags.add("--dim", D, "D, the head dim (even: dims are turned in pairs)", tutorial::between(4, 256));
  // At most 1024: part 3 sums D/2 complex terms for every one of the L x L pairs.
  flags.add("--len", L, "L, the trained length: positions 0..L-1 in the score matrices",
            tutorial::between(4, 1024));
  flags.add("--base", base, "the base of the frequencies theta_i = base^(-2i/D)",
            tutorial::between(2, 1e9));
  flags.add("--far", far, "how many trained lengths part 6 looks beyond", tutorial::between(2, 64));
  std::string save_dir;
  flags.add_output_folder("--save", save_dir,
                          "folder to write q, k, their rotations and the scores into as .npy "
                          "(Python twin)");
  flags.parse(argc, argv);
  flags.quick(D, 32), flags.quick(L, 48), flags.quick(far, 4);  // flags given win
  tutorial::Flags::require(D % 2 == 0, "--dim " + std::to_string(D) +
                                           " is odd: RoPE turns the dims in pairs");
  const tensor::Device device = tensor::Device::parse(options.device);
  const std::int64_t N = D / 2;
  tutorial::Checks checks;
  tensor::Generator gen(options.seed);

  // The library's RoPE on --device, the result back on the cpu. x: [P, D], row t at offset + t.
  auto rope = [&](const Tensor& x, std::int64_t offset) {
    return autograd::rotary_embedding(x.to(device), offset, base).to(tensor::kCPU);
  };
  // q at every position 0..P-1 (from `offset`): the same vector in P rows, each turned by its
  // position. expand() makes the P rows without copying; the kernel reads any layout.
  auto at_positions = [&](const Tensor& v, std::int64_t P, std::int64_t offset) {
    return rope(v.unsqueeze(0).expand({P, D}), offset);  // [P, D]
  };

  tutorial::section("1. The rotation: each pair of dims times e^{i m theta_i}");
  std::printf(
      "  theta_i = %g^(-2i/%lld): pair 0 turns %.3f rad per position (a turn every %.1f),\n"
      "  pair %lld turns %.2e rad per position (a turn every %.0f positions).\n",
      base, (long long)D, theta(0, D, base), 2 * M_PI / theta(0, D, base), (long long)(N - 1),
      theta(N - 1, D, base), 2 * M_PI / theta(N - 1, D, base));
  double library_vs_complex = 0;
  {
    Tensor x = autograd::randn({L, D}, gen, DType::Float64);  // [L, D]: L tokens
    const std::vector<double> by_hand = rope_by_complex(x.to_vector<double>(), L, D, 3, base);
    library_vs_complex = max_abs_diff(rope(x, 3).to_vector<double>(), by_hand);
    const double float32_gap =
        max_abs_diff(rope(x.to(DType::Float32), 3).to_vector<double>(), by_hand);
    std::printf("  %lld tokens at positions 3..%lld, library (%s) vs std::complex by hand:\n"
                "    float64: max |diff| %.1e    float32: max |diff| %.1e\n",
                (long long)L, (long long)(L + 2), device.str().c_str(), library_vs_complex,
                float32_gap);
    checks.small(library_vs_complex, 1e-12, "rotary_embedding equals the complex rotation (float64)");
    checks.small(float32_gap, 1e-5, "and in float32, within float32 rounding");
    // A rotation keeps lengths: |rope(x)| = |x| row by row.
    Tensor rotated = rope(x, 3);
    const double norm_gap = max_abs_diff(autograd::sum(rotated * rotated, {1}).to_vector<double>(),
                                         autograd::sum(x * x, {1}).to_vector<double>());
    checks.small(norm_gap, 1e-10, "every token keeps its length (a rotation)");
  }

  tutorial::section("2. q_m . k_n depends only on m - n");
  const Tensor q = unit_vector(D, gen), k = unit_vector(D, gen);
  std::vector<double> rope_scores;  // [L, L] float64, query position m (row), key position n
  Tensor q_rotated, k_rotated;      // [L, D] float64: q and k at positions 0..L-1
  double spread64 = 0, spread32 = 0, score_range = 0;
  for (DType dtype : {DType::Float64, DType::Float32}) {
    Tensor qm = at_positions(q.to(dtype), L, 0), kn = at_positions(k.to(dtype), L, 0);  // [L, D]
    std::vector<double> scores = autograd::matmul(qm, kn.t()).to_vector<double>();      // [L, L]
    const double spread = diagonal_spread(scores, L);
    (dtype == DType::Float64 ? spread64 : spread32) = spread;
    if (dtype == DType::Float64) {
      rope_scores = scores;
      q_rotated = qm, k_rotated = kn;
      const auto [low, high] = std::minmax_element(scores.begin(), scores.end());
      score_range = *high - *low;
    }
  }
  std::printf(
      "  unit q and k placed at every position 0..%lld: %lld x %lld scores q_m . k_n.\n"
      "  Along each diagonal m - n = d the score should not change:\n"
      "    largest spread along a diagonal: float64 %.1e, float32 %.1e\n"
      "    while across distances the scores span %.3f\n",
      (long long)(L - 1), (long long)L, (long long)L, spread64, spread32, score_range);
  // Angles up to L radians, rounded to ~1e-16 of their size; float32 values to ~6e-8.
  checks.small(spread64, 1e-14 * double(L), "float64: the score is a function of m - n (to rounding)");
  checks.small(spread32, 1e-5, "float32: the same, to float32 rounding");
  // A position-blind op would pass the check above; this one would catch it (1e-6 is far above
  // rounding and far below any real variation).
  checks.check(score_range > 1e-6, "and it does change with the distance");
  std::printf(
      "  Why: R_m q . R_n k = q^T R_m^T R_n k = q^T R_(n-m) k, because rotations by angles add\n"
      "  (R_m^T = R_(-m)). With projections, q = W_q x and k = W_k y are turned after projecting,\n"
      "  so the same holds for any weights.\n");

  tutorial::section("3. The complex form: Re[sum_i q_i conj(k_i) e^{i (m-n) theta_i}]");
  double complex_gap = 0;
  std::vector<Complex> h(N);  // h_i = q_i conj(k_i): what the content contributes to pair i
  {
    const std::vector<Complex> qc = as_complex(q.to_vector<double>()), kc = as_complex(k.to_vector<double>());
    for (std::int64_t i = 0; i < N; ++i) h[i] = qc[i] * std::conj(kc[i]);
    for (std::int64_t m = 0; m < L; ++m)
      for (std::int64_t n = 0; n < L; ++n) {
        Complex total = 0;
        for (std::int64_t i = 0; i < N; ++i)
          total += h[i] * std::polar(1.0, double(m - n) * theta(i, D, base));
        complex_gap = std::max(complex_gap, std::fabs(total.real() - rope_scores[m * L + n]));
      }
  }
  std::printf("  computed for all %lld (m, n) from q and k alone: max |diff| vs part 2 = %.1e\n",
              (long long)(L * L), complex_gap);
  checks.small(complex_gap, 1e-14 * double(L), "the rotated dot product equals the complex form");
  std::printf(
      "  Each pair adds |q_i||k_i| cos((m-n) theta_i + phase_i): a sum of cosines of the distance,\n"
      "  one per speed, with amplitudes and phases set by the content.\n");

  tutorial::section("4. Compared with adding sinusoids to the input");
  // One head of a layer: content vectors x (the query token) and y (the key token), projections
  // W_q, W_k [D, D]. Additive: q_m = W_q (x + p_m), k_n = W_k (y + p_n), p = the sinusoid table.
  // RoPE: q_m = R_m W_q x, k_n = R_n W_k y.
  const std::int64_t shifts[] = {0, L, far * L};  // where the key sits in the picture's curves
  const std::int64_t table_len = far * L + L;
  Tensor pe(nn::sinusoidal_positional_encoding(table_len, D, DType::Float64));  // [(far+1) L, D]
  Tensor x = autograd::randn({D}, gen, DType::Float64), y = autograd::randn({D}, gen, DType::Float64);
  Tensor Wq = autograd::randn({D, D}, gen, DType::Float64) / std::sqrt(double(D));
  Tensor Wk = autograd::randn({D, D}, gen, DType::Float64) / std::sqrt(double(D));
  Tensor qx = autograd::matmul(Wq, x), ky = autograd::matmul(Wk, y);  // [D] projected content
  // Rounding in a score grows with |q||k| and with the angles (up to the largest position, in
  // radians): about 1e-16 of both. The tolerances below allow 100 times that.
  const double content_scale = std::sqrt(autograd::sum(qx * qx).item() * autograd::sum(ky * ky).item());
  Tensor P_L = pe.slice(0, 0, L);                                     // [L, D]
  Tensor Pq = autograd::matmul(P_L, Wq.t()), Pk = autograd::matmul(P_L, Wk.t());  // rows W p_m
  // The four terms of (W_q(x + p_m)) . (W_k(y + p_n)), each an [L, L] matrix over (m, n):
  //   content.content  W_q x . W_k y      the same for every (m, n)
  //   content.position W_q x . W_k p_n    depends on where the key is
  //   position.content W_q p_m . W_k y    depends on where the query is
  //   position.position W_q p_m . W_k p_n
  Tensor ones_L = autograd::ones({L, L}, DType::Float64);
  Tensor cc = ones_L * autograd::sum(qx * ky).item();
  Tensor cp = ones_L * autograd::matmul(Pk, qx).unsqueeze(0);   // [1, L] along n
  Tensor pc = ones_L * autograd::matmul(Pq, ky).unsqueeze(1);   // [L, 1] along m
  Tensor pp = autograd::matmul(Pq, Pk.t());
  Tensor additive_q = autograd::matmul(x.unsqueeze(0) + P_L, Wq.t());  // [L, D] rows W_q(x + p_m)
  Tensor additive_k = autograd::matmul(y.unsqueeze(0) + P_L, Wk.t());
  Tensor additive_scores = autograd::matmul(additive_q, additive_k.t());  // [L, L]
  Tensor rope_q = at_positions(qx, L, 0), rope_k = at_positions(ky, L, 0);  // [L, D]
  Tensor rope_content_scores = autograd::matmul(rope_q, rope_k.t());       // [L, L]
  auto spread = [&](const Tensor& scores) { return diagonal_spread(scores.to_vector<double>(), L); };
  const double spread_cp = spread(cp), spread_pc = spread(pc), spread_pp = spread(pp);
  const double spread_additive = spread(additive_scores), spread_rope = spread(rope_content_scores);
  const double spread_pp_identity = spread(autograd::matmul(P_L, P_L.t()));
  std::printf(
      "  The same tokens x, y and weights W_q, W_k [%lld, %lld]; largest spread of each term along\n"
      "  a diagonal m - n = d (0 would mean: depends on the distance only):\n"
      "    content . content     W_q x   . W_k y     %9.2e\n"
      "    content . position    W_q x   . W_k p_n   %9.2e   <- moves with the key's position\n"
      "    position . content    W_q p_m . W_k y     %9.2e   <- moves with the query's position\n"
      "    position . position   W_q p_m . W_k p_n   %9.2e   (%.1e with W_q = W_k = I: tutorial 09)\n"
      "    the whole additive score                 %9.2e\n"
      "    RoPE: R_m W_q x . R_n W_k y              %9.2e\n",
      (long long)D, (long long)D, spread(cc), spread_cp, spread_pc, spread_pp, spread_pp_identity,
      spread_additive, spread_rope);
  checks.same(cc + cp + pc + pp, additive_scores, 1e-10,
              "the additive score is the sum of its four terms");
  checks.check(spread_cp > 1e-6 && spread_pc > 1e-6,
               "with sinusoids added, the content x position terms depend on absolute positions");
  checks.check(spread_additive > 1e-6, "so the additive score changes when both tokens shift together");
  checks.small(spread_rope, 1e-14 * double(L) * content_scale,
               "RoPE's score with the same weights depends on m - n only");
  {
    viz::HeatmapGrid grid(2);
    grid.set_title("q_m . k_n for query position m (rows) and key position n (columns)")
        .set_colormap(viz::ColormapKind::diverging)
        .set_colorbar_label("score");
    grid.add_panel("RoPE", rope_content_scores.to_vector<double>(), int(L), int(L));
    grid.add_panel("added sinusoids", additive_scores.to_vector<double>(),
                   int(L), int(L));
    tutorial::save_picture(grid, options, "scores.png",
                           "left: every diagonal (m - n fixed) has one colour; right: the colours "
                           "drift along the diagonals, the score knows where the tokens are");
  }

  // The score against distance d = m - n, the key at `shift` and the query d positions later.
  std::vector<std::vector<double>> rope_curves, additive_curves;
  for (std::int64_t shift : shifts) {
    Tensor key_rope = rope(ky.unsqueeze(0), shift);                      // [1, D]
    rope_curves.push_back(
        autograd::matmul(at_positions(qx, L, shift), key_rope.t()).to_vector<double>());
    Tensor query_add = autograd::matmul(x.unsqueeze(0) + pe.slice(0, shift, shift + L), Wq.t());
    Tensor key_add = autograd::matmul(Wk, y + pe.select(0, shift));  // [D]: W_k (y + p_s)
    additive_curves.push_back(autograd::matmul(query_add, key_add).to_vector<double>());
  }
  double rope_shift_gap = 0, additive_shift_gap = 0;
  for (std::size_t s = 1; s < rope_curves.size(); ++s) {
    rope_shift_gap = std::max(rope_shift_gap, max_abs_diff(rope_curves[s], rope_curves[0]));
    additive_shift_gap = std::max(additive_shift_gap, max_abs_diff(additive_curves[s], additive_curves[0]));
  }
  std::printf("\n  score at distance d, the key at position s and the query at s + d:\n"
              "    d      RoPE s=0   s=%-6lld s=%-6lld | added s=0  s=%-6lld s=%-6lld\n",
              (long long)shifts[1], (long long)shifts[2], (long long)shifts[1], (long long)shifts[2]);
  for (std::int64_t d : {0, 1, 2, 5, 10, 20}) {
    if (d >= L) break;
    std::printf("    %-4lld %9.3f %9.3f %9.3f | %9.3f %9.3f %9.3f\n", (long long)d,
                rope_curves[0][d], rope_curves[1][d], rope_curves[2][d], additive_curves[0][d],
                additive_curves[1][d], additive_curves[2][d]);
  }
  const double shift_tolerance = 1e-14 * double((far + 1) * L) * content_scale;
  checks.small(rope_shift_gap, shift_tolerance,
               "RoPE: the score-vs-distance curve is the same wherever the pair sits");
  checks.check(additive_shift_gap > 1e-6,
               "added sinusoids: the curve changes with the pair's absolute position");
  {
    viz::LinePlot plot("Score vs distance: key at s, query at s + d");
    plot.set_x_label("distance d = m - n").set_y_label("q_m . k_n").set_markers(viz::MarkerMode::never);
    std::vector<double> ds;
    for (std::int64_t d = 0; d < L; ++d) ds.push_back(double(d));
    for (std::size_t s = 0; s < rope_curves.size(); ++s)
      plot.add_series("RoPE, s = " + std::to_string(shifts[s]), ds, rope_curves[s]);
    for (std::size_t s = 0; s < additive_curves.size(); ++s)
      plot.add_series("added sinusoids, s = " + std::to_string(shifts[s]), ds, additive_curves[s]);
    tutorial::save_picture(plot, options, "score_vs_distance.png",
                           "the three RoPE curves are one line (only d matters); the three "
                           "additive curves differ: they also depend on s");
  }

  tutorial::section("5. Hugging Face's rotate_half: the same rotation, dims permuted");
  // rotate_half pairs dim j with dim j + N (not 2i with 2i+1), with the same speeds theta_j:
  //   out[j] = x[j] cos - x[j+N] sin,   out[j+N] = x[j+N] cos + x[j] sin,   angle m theta_j.
  // Storing interleaved pair i as dims (i, i + N) turns one layout into the other.
  auto rotate_half_rope = [&](const std::vector<double>& x_half, std::int64_t m) {
    std::vector<double> out(D);
    for (std::int64_t j = 0; j < N; ++j) {
      const double c = std::cos(double(m) * theta(j, D, base)), s = std::sin(double(m) * theta(j, D, base));
      out[j] = x_half[j] * c - x_half[j + N] * s;
      out[j + N] = x_half[j + N] * c + x_half[j] * s;
    }
    return out;
  };
  auto to_half_layout = [&](const std::vector<double>& interleaved) {
    std::vector<double> half(D);
    for (std::int64_t i = 0; i < N; ++i) half[i] = interleaved[2 * i], half[i + N] = interleaved[2 * i + 1];
    return half;
  };
  double layout_gap = 0, mixed_up_gap = 0;
  {
    const std::vector<double> qv = q.to_vector<double>(), kv = k.to_vector<double>();
    Tensor q_rows = at_positions(q, L, 0);  // [L, D] the library, interleaved
    for (std::int64_t m = 0; m < L; ++m) {
      const std::vector<double> lib = q_rows.select(0, m).to_vector<double>();
      layout_gap = std::max(layout_gap, max_abs_diff(rotate_half_rope(to_half_layout(qv), m),
                                                     to_half_layout(lib)));
    }
    // The porting bug: weights trained with one layout, rotated with the other's code.
    const std::vector<double> k0 = rotate_half_rope(kv, 0);
    for (std::int64_t d = 0; d < L; ++d) {
      const std::vector<double> qd = rotate_half_rope(qv, d);
      double mixed = 0;
      for (std::int64_t j = 0; j < D; ++j) mixed += qd[j] * k0[j];
      mixed_up_gap = std::max(mixed_up_gap, std::fabs(mixed - rope_scores[d * L]));
    }
  }
  std::printf(
      "  rotate_half on q stored as (q_0, q_2, ..., q_1, q_3, ...) vs the library on q, same\n"
      "  permutation applied: max |diff| = %.1e over %lld positions.\n"
      "  rotate_half on q stored interleaved (a checkpoint read with the other convention):\n"
      "  the scores differ from the right ones by up to %.3f.\n",
      layout_gap, (long long)L, mixed_up_gap);
  checks.small(layout_gap, 1e-14 * double(L), "rotate_half = interleaved RoPE up to a permutation of the dims");
  checks.check(mixed_up_gap > 1e-6, "mixing the two layouts changes the scores");

  tutorial::section("6. Beyond the trained length");
  std::printf(
      "  Moving the whole sequence changes nothing: part 4's RoPE curves at s = 0, %lld and %lld\n"
      "  agree to %.1e. What is new past L is the distance itself. Pair i turns theta_i per\n"
      "  position; the pairs whose wavelength 2 pi / theta_i exceeds L never completed a turn\n"
      "  between any two trained positions, so a longer distance shows them angles never seen:\n\n"
      "    pair i   wavelength   turns within L=%-5lld turns within %lld L\n",
      (long long)shifts[1], (long long)shifts[2], rope_shift_gap, (long long)L, (long long)far);
  std::int64_t complete_turns = 0;
  for (std::int64_t i = 0; i < N; ++i) complete_turns += 2 * M_PI / theta(i, D, base) <= double(L);
  for (std::int64_t i : {std::int64_t(0), N / 4, N / 2, 3 * N / 4, N - 1})
    std::printf("    %-6lld %12.1f %12.3f %16.3f\n", (long long)i, 2 * M_PI / theta(i, D, base),
                double(L) * theta(i, D, base) / (2 * M_PI), double(far * L) * theta(i, D, base) / (2 * M_PI));
  // Closed form: 2 pi base^(2i/D) <= L  <=>  i <= (D/2) ln(L / 2 pi) / ln(base).
  const double last_full = double(N) * std::log(double(L) / (2 * M_PI)) / std::log(base);
  const std::int64_t closed_form =
      last_full < 0 ? 0 : std::min<std::int64_t>(N, std::int64_t(std::floor(last_full)) + 1);
  std::printf("\n  %lld of %lld pairs complete a turn within L = %lld; the other %lld meet new angles\n"
              "  at distances beyond L. (Position interpolation scales positions by L / L_new so\n"
              "  that every distance maps back inside the trained range; a larger base slows\n"
              "  every pair down.)\n",
              (long long)complete_turns, (long long)N, (long long)L, (long long)(N - complete_turns));
  checks.check(complete_turns == closed_form,
               "pairs with a full turn within L: counted = closed form (D/2) ln(L/2pi)/ln(base) + 1 (" +
                   std::to_string(closed_form) + ")");

  // Angles at long positions: this library computes them in double and rounds once; a float32
  // angle m * theta carries an error of about m * theta * 6e-8 radians.
  std::printf("\n  angle of pair 1 at position m computed in float32 vs double:\n");
  for (double m : {1e3, 1e4, 1e5, 1e6}) {
    const double exact = m * theta(1, D, base);
    const float in_float = float(m) * float(theta(1, D, base));
    std::printf("    m = %-8.0f error %.1e rad\n", m, std::fabs(double(in_float) - exact));
  }
  {
    Tensor x32 = autograd::randn({4, D}, gen, DType::Float32);
    const std::int64_t offset = 1000000;
    const double far_gap = max_abs_diff(
        rope(x32, offset).to_vector<double>(),
        rope_by_complex(x32.to_vector<double>(), 4, D, offset, base));
    checks.small(far_gap, 1e-5, "float32 RoPE at position 1e6 is still exact to float32 rounding "
                                "(angles in double)");
  }

  // RoFormer's long-term decay. With h_i = q_i conj(k_i) (part 3), h_N = 0 and
  // S_j(d) = sum_{l<j} e^{i d theta_l}, summation by parts gives
  //   sum_i h_i e^{i d theta_i} = sum_{j=0}^{N-1} S_{j+1}(d) (h_j - h_{j+1}),
  // so |score(d)| <= max_j |h_j - h_{j+1}| * sum_{j=1}^{N} |S_j(d)|. The content-free factor
  // B(d) = (1/N) sum_j |S_j(d)| starts at (N+1)/2 and falls as the pairs' phases spread out.
  const std::int64_t max_distance = far * L;
  std::vector<double> distances, bound;
  double identity_gap = 0, worst_ratio = 0, max_h_step = 0;
  for (std::int64_t j = 0; j < N; ++j)
    max_h_step = std::max(max_h_step, std::abs(h[j] - (j + 1 < N ? h[j + 1] : Complex(0))));
  for (std::int64_t d = 0; d <= max_distance; ++d) {
    Complex partial = 0, direct = 0, by_parts = 0;
    double sum_abs = 0;
    for (std::int64_t j = 0; j < N; ++j) {
      const Complex turn = std::polar(1.0, double(d) * theta(j, D, base));
      direct += h[j] * turn;
      partial += turn;  // S_{j+1}
      sum_abs += std::abs(partial);
      by_parts += partial * (h[j] - (j + 1 < N ? h[j + 1] : Complex(0)));
    }
    identity_gap = std::max(identity_gap, std::abs(direct - by_parts));
    worst_ratio = std::max(worst_ratio, std::fabs(direct.real()) / (max_h_step * sum_abs));
    distances.push_back(double(d));
    bound.push_back(sum_abs / double(N));
  }
  auto mean_bound = [&](std::int64_t from, std::int64_t to) {  // mean of B(d) over [from, to)
    double total = 0;
    for (std::int64_t d = from; d < to; ++d) total += bound[d];
    return total / double(to - from);
  };
  const double near_mean = mean_bound(0, std::max<std::int64_t>(1, L / 16));
  const double trained_far_mean = mean_bound(L / 2, L);
  const double beyond_mean = mean_bound(L, max_distance + 1);
  std::printf("\n  RoFormer's bound on |score|, content-free factor B(d) = (1/N) sum_j |S_j(d)|:\n   ");
  std::vector<std::int64_t> shown = {0, 1, 4, 16, 64, L, max_distance};
  std::sort(shown.begin(), shown.end());
  shown.erase(std::unique(shown.begin(), shown.end()), shown.end());
  for (std::int64_t d : shown)
    if (d <= max_distance) std::printf(" B(%lld)=%.2f", (long long)d, bound[d]);
  std::printf(
      "\n  mean B over d in [0, L/16): %.2f, [L/2, L): %.2f, [L, %lld L]: %.2f\n"
      "  (for our q, k: |score(d)| reached at most %.0f%% of the bound)\n",
      near_mean, trained_far_mean, (long long)far, beyond_mean, 100 * worst_ratio);
  checks.small(identity_gap, 1e-12, "summation by parts reproduces the score at every distance");
  checks.check(worst_ratio <= 1 + 1e-12, "|score(d)| <= the bound at every distance");
  checks.close(bound[0], double(N + 1) / 2, 1e-12, "B(0) = (N + 1) / 2 (every |S_j(0)| = j)");
  // The decay comes from the pairs' phases spreading apart, which needs enough pairs (D = 4:
  // B(d) = (1 + |1 + e^{i d theta_1}|)/2 barely moves) and enough of them turning within the
  // distances looked at (a huge base slows them all). Checked when both hold, as they do for
  // real head sizes and bases; otherwise said.
  if (N >= 8 && 5 * complete_turns >= N)
    checks.check(trained_far_mean < 0.5 * near_mean && beyond_mean < 0.5 * near_mean,
                 "the bound decays: at distances L/2 and beyond it is under half its value nearby");
  else
    std::printf("  (the decay is not checked here: it needs D >= 16 and a fifth of the pairs turning\n"
                "  within L; this run has D = %lld and %lld of %lld pairs)\n",
                (long long)D, (long long)complete_turns, (long long)N);
  {
    viz::LinePlot plot("RoFormer's bound factor B(d), D = " + std::to_string(D));
    plot.set_x_label("distance d").set_y_label("B(d)").set_markers(viz::MarkerMode::never);
    plot.add_series("B(d)", distances, bound);
    plot.add_reference_line(bound[0], "B(0) = (N+1)/2");
    tutorial::save_picture(plot, options, "rope_decay.png",
                           "high at d = 0, falling fast over the first tens of positions, then "
                           "wiggling low: nearby keys can score higher than far ones");
  }

  const int code = checks.finish();
  char answer[1200];
  std::snprintf(
      answer, sizeof answer,
      "RoPE turns pair i of q and k by m theta_i, theta_i = %g^(-2i/%lld): the library matched the\n"
      "complex rotation to %.0e. The score of unit q, k varied along the diagonals m - n = d by only\n"
      "%.0e (float64) and %.0e (float32) while spanning %.2f across distances, and equalled\n"
      "Re[sum_i q_i conj(k_i) e^{i(m-n)theta_i}] to %.0e. Added sinusoids left cross terms that moved\n"
      "by %.2f and %.2f with absolute position (RoPE, same weights: %.0e). Shifted by %lld L the RoPE\n"
      "curve was unchanged (%.0e); %lld of %lld pairs never turn fully within L = %lld, so longer\n"
      "distances show them new angles; the RoFormer bound fell from %.1f nearby to %.1f beyond L.",
      base, (long long)D, library_vs_complex, spread64, spread32, score_range, complex_gap,
      spread_cp, spread_pc, spread_rope, (long long)far, rope_shift_gap,
      (long long)(N - complete_turns), (long long)N, (long long)L, near_mean, beyond_mean);
  tutorial::print_answer(kQuestion, answer);
  tutorial::save_npy_files(save_dir, {{"q", q},
                                      {"k", k},
                                      {"q_rotated", q_rotated},
                                      {"k_rotated", k_rotated},
                                      {"scores", autograd::from_vector(rope_scores, {L, L})},
                                      {"base", autograd::from_vector(std::vector<double>{base})}});
  std::printf("\nPython twin: tutorials/python/21_rope.py (make python)\n");
  return code;
} catch (...) {
  return tutorial::report_error();
}
