// Checker of tutorials/exercises/stubs/rope.cpp: exercise::rope against the rotation worked out
// here in float64 with plain loops (autograd::rotary_embedding computes the same), for a batch
// from position 0, new tokens after a KV cache (an offset), and long positions.
#include <cmath>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> rope(const std::vector<float>& x, int rows, int T, int D, int position_offset);
}

using namespace exercise_check;

namespace {

// The ways to get RoPE wrong, as switches on the right computation.
struct Variant {
  bool use_offset = true;        // position = position_offset + t (false: t alone)
  double exponent = 2.0;         // theta_i = 10000^(-exponent * i / D)
  double direction = 1.0;        // +1 counter-clockwise (e^{+i angle}), -1 the other way
  bool rotate_half = false;      // pair dim i with dim i + D/2 instead of 2i with 2i + 1
};

std::vector<double> rope_variant(const std::vector<float>& x, int rows, int T, int D, int offset,
                                 const Variant& v) {
  std::vector<double> out(x.size());
  for (int r = 0; r < rows; ++r)
    for (int t = 0; t < T; ++t) {
      const double position = (v.use_offset ? offset : 0) + t;
      const std::size_t row = (static_cast<std::size_t>(r) * T + t) * D;
      for (int i = 0; i < D / 2; ++i) {
        const int first = v.rotate_half ? i : 2 * i, second = v.rotate_half ? i + D / 2 : 2 * i + 1;
        const double angle = v.direction * position * std::pow(10000.0, -v.exponent * i / D);
        const double a = x[row + first], b = x[row + second];
        out[row + first] = a * std::cos(angle) - b * std::sin(angle);
        out[row + second] = a * std::sin(angle) + b * std::cos(angle);
      }
    }
  return out;
}

void check(const Case& test_case, int rows, int T, int D, int offset, double atol,
           const std::string& hint) {
  Generator gen(700 + test_case.number);
  const std::vector<float> x = uniform_values({rows, T, D}, -1, 1, gen);
  Output out{.name = "out",
             .shape = {rows, T, D},
             .expected = rope_variant(x, rows, T, D, offset, {}),
             .hint = hint,
             .atol = atol};
  out.mistakes = {
      {"position offset ignored (token t rotated as position t, not position_offset + t)",
       "the token at t sits at position position_offset + t: with a KV cache of 7 tokens the\n"
       "new ones are at 7, 8, ... Rotating them as 0, 1, ... breaks the relative positions.",
       rope_variant(x, rows, T, D, offset, {.use_offset = false})},
      {"wrong frequency: theta_i = 10000^(-i/D) instead of 10000^(-2i/D)",
       "pair i (dims 2i and 2i + 1) turns at theta_i = 10000^(-2i / D): the exponent counts dims,\n"
       "and pair i starts at dim 2i.",
       rope_variant(x, rows, T, D, offset, {.exponent = 1.0})},
      {"rotation sign: turned by -angle (multiplied by e^{-i angle})",
       "multiply by e^{+i angle}: out[2i] = a cos - b sin, out[2i + 1] = a sin + b cos. Turning\n"
       "by -angle is the backward (the inverse rotation), not the forward.",
       rope_variant(x, rows, T, D, offset, {.direction = -1.0})},
      {"rotate_half pairs: dim i paired with dim i + D/2 instead of 2i with 2i + 1",
       "this task uses the interleaved layout (LLaMA, RoFormer): pair i is dims 2i and 2i + 1.\n"
       "Pairing i with i + D/2 is Hugging Face's rotate_half layout: the same rotation on\n"
       "permuted dims, wrong for weights trained with the other layout.",
       rope_variant(x, rows, T, D, offset, {.rotate_half = true})},
  };
  expect_close(test_case, out, exercise::rope(x, rows, T, D, offset));
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "rope", [] {
    const std::string formula =
        "(x[2i] + i x[2i+1]) times e^{i angle}, angle = (position_offset + t) * 10000^(-2i/D):\n"
        "out[2i] = x[2i] cos - x[2i+1] sin, out[2i+1] = x[2i] sin + x[2i+1] cos.";
    check({1, 3, "a batch: x [2, 5, 8], positions 0..4"}, 2, 5, 8, 0, 1e-5, formula);
    check({2, 3, "new tokens after a KV cache of 7: x [3, 4, 6], positions 7..10"}, 3, 4, 6, 7,
          1e-5, formula);
    check({3, 3, "long positions: x [1, 3, 16], positions 1000..1002"}, 1, 3, 16, 1000, 1e-4,
          formula + "\nAngles reach 1000 radians: compute them in double (the checker allows 1e-4).");
  });
}
