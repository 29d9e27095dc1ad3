// Checker of tutorials/exercises/stubs/swiglu.cpp: exercise::swiglu against plain loops in
// float64, on random tokens, on a gate and an up projection of very different sizes (so swapping
// them shows), and with large pre-activations (where silu and sigmoid differ most).
#include <cmath>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
void swiglu(std::vector<float>& out, const std::vector<float>& x, const std::vector<float>& w1,
            const std::vector<float>& w3, const std::vector<float>& w2, int N, int D, int H);
}  // namespace exercise

using namespace exercise_check;

namespace {

enum class Variant { Right, SiluOnUp, SigmoidNotSilu, SiluOfProduct, NoUp };

double silu(double z) { return z / (1 + std::exp(-z)); }
double sigmoid(double z) { return 1 / (1 + std::exp(-z)); }

// out [N, D] = w2(f(w1 x, w3 x)) by loops, with f the right gating or one of the usual wrong ones.
std::vector<double> swiglu_by_loops(const std::vector<double>& x, const std::vector<double>& w1,
                                    const std::vector<double>& w3, const std::vector<double>& w2,
                                    int N, int D, int H, Variant variant) {
  std::vector<double> out(N * D, 0.0);
  for (int n = 0; n < N; ++n) {
    std::vector<double> hidden(H);
    for (int h = 0; h < H; ++h) {
      double gate = 0, up = 0;
      for (int d = 0; d < D; ++d) {
        gate += x[n * D + d] * w1[h * D + d];
        up += x[n * D + d] * w3[h * D + d];
      }
      switch (variant) {
        case Variant::Right: hidden[h] = silu(gate) * up; break;
        case Variant::SiluOnUp: hidden[h] = gate * silu(up); break;
        case Variant::SigmoidNotSilu: hidden[h] = sigmoid(gate) * up; break;
        case Variant::SiluOfProduct: hidden[h] = silu(gate * up); break;
        case Variant::NoUp: hidden[h] = silu(gate); break;
      }
    }
    for (int d = 0; d < D; ++d)
      for (int h = 0; h < H; ++h) out[n * D + d] += hidden[h] * w2[d * H + h];
  }
  return out;
}

void check(const Case& test_case, const std::vector<float>& x, const std::vector<float>& w1,
           const std::vector<float>& w3, const std::vector<float>& w2, int N, int D, int H,
           const std::string& hint) {
  const std::vector<double> x64 = as_doubles(x), w1_64 = as_doubles(w1), w3_64 = as_doubles(w3),
                            w2_64 = as_doubles(w2);
  auto variant = [&](Variant v) { return swiglu_by_loops(x64, w1_64, w3_64, w2_64, N, D, H, v); };
  std::vector<float> out(N * D, 0.0f);
  exercise::swiglu(out, x, w1, w3, w2, N, D, H);
  Output output{.name = "out",
                .shape = {N, D},
                .expected = variant(Variant::Right),
                .hint = "out = w2(silu(w1 x) * w3 x): gate = x w1^T, up = x w3^T,\n"
                        "hidden = silu(gate) * up, out = hidden w2^T.\n" + hint,
                .atol = 1e-4};
  output.mistakes = {
      {"silu on the up projection (gate and up swapped)",
       "silu belongs on the gate, w1 x; the up projection w3 x stays linear:\n"
       "hidden = silu(x w1^T) * (x w3^T).",
       variant(Variant::SiluOnUp)},
      {"sigmoid instead of silu",
       "SwiGLU's gate is silu(z) = z * sigmoid(z), not sigmoid(z) (that is the original GLU).",
       variant(Variant::SigmoidNotSilu)},
      {"silu of the product",
       "silu goes on the gate before the product: silu(gate) * up, not silu(gate * up).",
       variant(Variant::SiluOfProduct)},
      {"the up projection left out",
       "the gate multiplies a second, linear projection: hidden = silu(x w1^T) * (x w3^T).",
       variant(Variant::NoUp)},
  };
  expect_close(test_case, output, out);
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "swiglu", [] {
    Generator gen(23);
    // 1. Random tokens and weights, H != D (a transposed weight would not even fit).
    check({1, 3, "random: x [3, 4], w1, w3 [6, 4], w2 [4, 6]"}, normal_values({3, 4}, 0, 1, gen),
          normal_values({6, 4}, 0, 0.5, gen), normal_values({6, 4}, 0, 0.5, gen),
          normal_values({4, 6}, 0, 0.5, gen), 3, 4, 6, "");
    // 2. The gate's weights 4x the up projection's: silu on the wrong one changes a lot.
    check({2, 3, "gate weights 4x larger than up's: x [2, 5], w1 (x4), w3 [3, 5], w2 [5, 3]"},
          normal_values({2, 5}, 0, 1, gen), normal_values({3, 5}, 0, 2, gen),
          normal_values({3, 5}, 0, 0.5, gen), normal_values({5, 3}, 0, 0.5, gen), 2, 5, 3,
          "w1 is the gate (silu), w3 the up projection (linear).");
    // 3. Large pre-activations: silu(z) ~ z for z >> 0 and ~ 0 for z << 0.
    check({3, 3, "large pre-activations: x [4, 3] ~ N(0, 3^2), w1, w3 [5, 3], w2 [3, 5]"},
          normal_values({4, 3}, 0, 3, gen), normal_values({5, 3}, 0, 1, gen),
          normal_values({5, 3}, 0, 1, gen), normal_values({3, 5}, 0, 0.5, gen), 4, 3, 5,
          "for large |z|, silu(z) = z / (1 + exp(-z)) is close to z (z > 0) or to 0 (z < 0).");
  });
}
