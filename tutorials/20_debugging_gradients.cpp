// 20_debugging_gradients — My model's gradients are wrong, or NaN. How do I find the bug?
//                          模型的梯度算错了（或者出现 NaN），怎么找到出错的地方？
//
// Short answer
//   A wrong gradient is found by comparing, a NaN by stopping where it is born.
//   1. Compare backward with finite differences (gradcheck, in float64): first the whole model,
//      then op by op; the op whose check fails holds the bug.
//   2. Look at the graph (print_graph, or a Graphviz picture): which ops ran, on which shapes,
//      created on which line. Then trace one backward pass: the gradient each node receives and
//      sends. Put next to a trusted version, it shows *how* the gradient is wrong (here: off by
//      exactly sqrt(D), a forgotten 1/sqrt(D) scale).
//   3. For NaN or inf, turn anomaly mode on: the first op that creates one (forward) or whose
//      backward creates one throws, naming the op, the tensors and the file:line of the call.
//   4. When you need to see the numbers inside a backward, break in it with gdb by the op's
//      name (attn-break-backward scaled_scores): tools/gdb/ prints tensors row by row.
//
// What this program shows
//   1. a tiny attention model built from autograd ops (Linear = matmul + bias, scaled scores,
//      softmax, matmul) whose scaled-scores op has a hand-written backward with a planted bug;
//      its graph printed as a tree and exported to DOT (and to PNG when Graphviz is installed);
//   2. one backward pass, traced node by node by the real engine ("walk me through backprop");
//   3. gradcheck on the whole model failing; 4. gradcheck op by op, pointing at scaled_scores;
//   5. buggy vs. trusted gradients: every element off by exactly sqrt(D) -> the fix;
//   6. two NaN hunts with anomaly mode: log(0) in the forward pass, sqrt'(0) in backward;
//   7. how to stop in the buggy backward with gdb by its op's name, and what gdb shows there.
//
// Run:  make -j2 build/tutorials/20_debugging_gradients && build/tutorials/20_debugging_gradients
//       gdb: make debug-tutorial NAME=20_debugging_gradients   (this program + the library, -O0 -g3)
//            gdb -x tools/gdb/gdbinit --args build/debug/tutorials/20_debugging_gradients
//            then: (gdb) attn-break-backward scaled_scores   (gdb) run   (gdb) attn-step-backward
//            The session, abridged, is printed in part 7; tools/gdb/debug_backward.gdb runs it.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "autograd/autograd.hpp"
#include "autograd/record.hpp"
#include "tutorials/common/tutorial.hpp"

using namespace autograd;

// Legend: T tokens (3), C input channels (2), D head dim (4). Everything is float64 so that
// gradcheck can tell a bug from rounding.
namespace {

constexpr std::int64_t T = 3, C = 2, D = 4;

// ---- the op with the planted bug ---------------------------------------------------------------
// Attention's scaled scores as one op with its own backward, the way a fused kernel would be:
//   forward:  scores = q k^T * scale,  scale = 1/sqrt(D)        q, k: [T, D]   scores: [T, T]
//   backward: dq = g k * scale   [T, D]      dk = g^T q * scale   [T, D]      (g = dL/dscores)

// THE BUG: the scale of the forward pass is forgotten, so dq and dk come out sqrt(D) too large.
// A gradient that is wrong by a constant factor still points downhill: training "works", just
// with a different learning rate for q and k. Only a comparison (finite differences, or a
// trusted reference) sees it.
Grads scaled_scores_backward_buggy(const Array& grad_scores, const Array& q, const Array& k,
                                   [[maybe_unused]] double scale) {
  Array grad_scores_t = grad_scores.transpose(-2, -1);  // [T, T], a view: new strides, no copy
  Array dq = tensor::matmul(grad_scores, k);            // [T, D]   missing: * scale
  Array dk = tensor::matmul(grad_scores_t, q);          // [T, D]   missing: * scale
  return {dq, dk};
}

Grads scaled_scores_backward(const Array& grad_scores, const Array& q, const Array& k,
                             double scale) {
  Array dq = tensor::matmul(grad_scores, k) * scale;
  Array dk = tensor::matmul(grad_scores.transpose(-2, -1), q) * scale;
  return {dq, dk};
}

Tensor scaled_scores(const Tensor& q, const Tensor& k, bool with_bug, Site site = Site::current()) {
  double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  Array scores = tensor::matmul(q.data(), k.data().transpose(-2, -1)) * scale;  // [T, T]
  SavedArray saved_q(q.data(), "scaled_scores"), saved_k(k.data(), "scaled_scores");
  return record("scaled_scores", site, scores, {q, k},
                [saved_q, saved_k, scale, with_bug](const Array& grad) -> Grads {
                  const Array& q = saved_q.get();
                  const Array& k = saved_k.get();
                  return with_bug ? scaled_scores_backward_buggy(grad, q, k, scale)
                                  : scaled_scores_backward(grad, q, k, scale);
                });
}

// The same scores from primitives whose backward gradcheck has already verified: the trusted
// reference to compare the hand-written op against.
Tensor reference_scores(const Tensor& q, const Tensor& k, Site site = Site::current()) {
  double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  return mul(matmul(q, k.transpose(-2, -1, site), site), scalar_like(q, scale), site);
}

// ---- the model ---------------------------------------------------------------------------------

// A Linear layer is y = x W + b: a matmul and a broadcast add. The site is passed on so the
// graph nodes show the caller's line, not this one.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b, Site site = Site::current()) {
  return add(matmul(x, w, site), b, site);
}

struct Params {
  Tensor w_q, b_q, w_k, b_k, w_v, b_v;  // W: [C, D], b: [D]
  std::vector<Tensor> all() const { return {w_q, b_q, w_k, b_k, w_v, b_v}; }
};

Params make_params(Generator& gen) {
  auto param = [&](const Shape& shape, const char* name) {
    return (randn(shape, gen, DType::Float64) * 0.5).detach().requires_grad_().set_name(name);
  };
  return {param({C, D}, "w_q"), param({D}, "b_q"),    param({C, D}, "w_k"),
          param({D}, "b_k"),    param({C, D}, "w_v"), param({D}, "b_v")};
}

enum class Scores { Buggy, Fixed, Reference };

// One head of self-attention and a squared-error loss; every intermediate is kept and named.
struct Forward {
  Tensor q, k, v, scores, weights, out, loss;
};

Forward attention(const Tensor& x, const Params& p, const Tensor& target, Scores how) {
  Forward f;
  f.q = linear(x, p.w_q, p.b_q).set_name("q");  // [T, D]
  f.k = linear(x, p.w_k, p.b_k).set_name("k");  // [T, D]
  f.v = linear(x, p.w_v, p.b_v).set_name("v");  // [T, D]
  f.scores = (how == Scores::Reference ? reference_scores(f.q, f.k)
                                       : scaled_scores(f.q, f.k, how == Scores::Buggy))
                 .set_name("scores");                      // [T, T]
  f.weights = softmax(f.scores, -1).set_name("weights");   // [T, T], rows sum to 1
  f.out = matmul(f.weights, f.v).set_name("out");          // [T, D]
  f.loss = mean(square(f.out - target)).set_name("loss");  // []
  return f;
}

// Fresh copies of the parameters (same values, no gradient, no hooks).
Params copy_params(const Params& p) {
  auto copy = [](const Tensor& t) { return Tensor(t.data().clone(), true).set_name(t.name()); };
  return {copy(p.w_q), copy(p.b_q), copy(p.w_k), copy(p.b_k), copy(p.w_v), copy(p.b_v)};
}

Params params_from(const std::vector<Tensor>& t) {
  return {t[0], t[1], t[2], t[3], t[4], t[5]};
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

bool all_finite(const Tensor& t) {
  for (double v : t.to_vector<double>())
    if (!std::isfinite(v)) return false;
  return true;
}

// Prints a multi-line text with every line indented.
void print_indented(const std::string& text, int indent = 2) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    std::printf("%*s%s\n", indent, "", line.c_str());
}

bool has_program(const char* name) {
  return std::system((std::string("command -v ") + name + " > /dev/null 2>&1").c_str()) == 0;
}

}  // namespace

// No interview article asks this one; it is the question every other program's gradcheck raises.
const tutorial::Question kQuestion{
    .program = "20_debugging_gradients",
    .chinese = "模型的梯度算错了（或者出现 NaN），怎么找到出错的地方？",
    .english = "My model's gradients are wrong, or NaN. How do I find the bug?",
    .answer = "A wrong gradient is found by comparing, a NaN by stopping where it is born. Compare\n"
              "backward with float64 finite differences (gradcheck), for the whole model, then op by op:\n"
              "the op that fails holds the bug; a trace next to a trusted version shows how it is wrong.\n"
              "For NaN or inf, anomaly mode throws at the first op that makes one, naming its line.",
    .article = "",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  flags.parse(argc, argv);
  const tutorial::Options& options = flags.options;
  tutorial::Checks checks;

  // x: [T, C], exact values (the gdb session prints them); parameters and target from --seed.
  Tensor x = from_rows({{1.0, 0.5}, {-1.0, 2.0}, {0.25, -0.5}}, DType::Float64).set_name("x");
  Generator gen(options.seed);
  Params params = make_params(gen);
  Tensor target = randn({T, D}, gen, DType::Float64).set_name("target");

  tutorial::section("1. The model and its graph");
  std::printf(
      "  q, k, v = Linear(x);  scores = q k^T / sqrt(D)  (hand-written backward);\n"
      "  weights = softmax(scores);  out = weights v;  loss = mean((out - target)^2)\n"
      "  shapes: x [%lld, %lld], q k v [%lld, %lld], scores [%lld, %lld]\n\n",
      (long long)T, (long long)C, (long long)T, (long long)D, (long long)T, (long long)T);
  Forward buggy = attention(x, params, target, Scores::Buggy);
  std::printf(
      "  print_graph(loss): op, name, shape, dtype, grad stored?, where it was created\n\n");
  print_indented(graph_string(buggy.loss));

  std::string dot_path = options.out + "/attention_graph.dot";
  std::string png_path = options.out + "/attention_graph.png";
  to_dot(buggy.loss, dot_path);
  std::size_t graph_nodes = backward_order(buggy.loss).size();
  std::ifstream dot_file(dot_path);
  std::string dot_text((std::istreambuf_iterator<char>(dot_file)),
                       std::istreambuf_iterator<char>());
  std::size_t boxes = 0;  // node statements: "  n12 [label=..."
  std::istringstream dot_lines(dot_text);
  for (std::string line; std::getline(dot_lines, line);)
    if (line.rfind("  n", 0) == 0 && line.size() > 3 && std::isdigit(line[3]) &&
        line.find("->") == std::string::npos)
      ++boxes;
  std::printf("\n  to_dot(loss, \"%s\"): %zu boxes\n", dot_path.c_str(), boxes);
  checks.check(boxes == graph_nodes, "the DOT file has one box per graph node");
  if (has_program("dot")) {
    std::string command = "dot -Tpng -Gdpi=100 '" + dot_path + "' -o '" + png_path + "'";
    bool rendered = std::system(command.c_str()) == 0;
    std::printf("  rendered with Graphviz: %s\n", png_path.c_str());
    checks.check(rendered && std::ifstream(png_path).good(), "Graphviz drew the graph as a PNG");
  } else {
    std::printf(
        "  Graphviz's `dot` is not installed, so no PNG. Install it with\n"
        "      sudo apt-get install graphviz\n"
        "  and draw the graph with: dot -Tpng %s -o %s\n",
        dot_path.c_str(), png_path.c_str());
  }

  tutorial::section("2. Walk through backprop: the engine's own trace of one backward pass");
  std::printf(
      "  Each node in the order the engine runs it (newest first): the gradient arriving\n"
      "  (dL/d its output) and what its backward sends to each input.\n\n");
  std::ostringstream trace_text;
  {
    BackwardTrace trace(trace_text);
    buggy.loss.backward();
  }
  print_indented(trace_text.str());
  std::size_t traced = 0;
  for (std::size_t at = trace_text.str().find("\n["); at != std::string::npos;
       at = trace_text.str().find("\n[", at + 1))
    ++traced;
  checks.check(traced == graph_nodes, "the trace shows every node of the graph once");
  std::printf(
      "\n  Notice b_k's gradient, ~1e-17 (zero up to rounding): adding b_k to every key adds\n"
      "  the same q_i . b_k to a whole row of scores, and softmax ignores such shifts.\n"
      "  The trace alone cannot say whether [6] scaled_scores sends the right numbers;\n"
      "  for that we need an independent computation.\n");

  tutorial::section("3. Is the gradient right? gradcheck on the whole model");
  std::printf("  d loss / d every parameter: backward vs. central differences, in float64\n\n");
  auto model_with = [&](Scores how) {
    return [&, how](const std::vector<Tensor>& p) {
      return attention(x, params_from(p), target, how).loss;
    };
  };
  GradcheckResult whole = gradcheck(model_with(Scores::Buggy), params.all());
  std::printf("  %s\n\n", whole.message.c_str());
  checks.check(!whole.passed, "gradcheck catches that the model's gradient is wrong");

  tutorial::section("4. Which op? gradcheck each op on its own");
  std::printf("  Random float64 inputs of the model's shapes; one line per op.\n\n");
  Generator op_gen(options.seed + 1);
  auto leaf = [&](const Shape& shape) {
    return Tensor(tensor::uniform(shape, -1.0, 1.0, op_gen, DType::Float64), true);
  };
  struct OpCheck {
    const char* name;
    GradcheckFn f;
    std::vector<Tensor> inputs;
  };
  std::vector<OpCheck> ops = {
      {"linear",
       [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
       {leaf({T, C}), leaf({C, D}), leaf({D})}},
      {"scaled_scores",
       [](const std::vector<Tensor>& in) { return scaled_scores(in[0], in[1], true); },
       {leaf({T, D}), leaf({T, D})}},
      {"softmax", [](const std::vector<Tensor>& in) { return softmax(in[0], -1); }, {leaf({T, T})}},
      {"matmul",
       [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
       {leaf({T, T}), leaf({T, D})}},
      {"mse",
       [](const std::vector<Tensor>& in) { return mean(square(in[0] - in[1])); },
       {leaf({T, D}), Tensor(tensor::uniform({T, D}, -1.0, 1.0, op_gen, DType::Float64))}},
  };
  std::vector<std::string> failed;
  std::string scaled_scores_message;
  for (const OpCheck& op : ops) {
    GradcheckResult r = gradcheck(op.f, op.inputs);
    char passed[64];
    std::snprintf(passed, sizeof passed, "passed (worst abs error %.1e)", r.abs_error);
    std::printf("  %-14s %s\n", op.name, r.passed ? passed : r.message.c_str());
    if (!r.passed) failed.push_back(op.name);
    if (std::string(op.name) == "scaled_scores") scaled_scores_message = r.message;
  }
  checks.check(failed == std::vector<std::string>{"scaled_scores"},
               "exactly one op fails its gradcheck: scaled_scores");
  checks.check(
      scaled_scores_message.find("'scaled_scores' created at "
                                 "tutorials/20_debugging_gradients.cpp:") != std::string::npos,
      "the failure names the op and the file:line where it was created");

  tutorial::section("5. How wrong? Buggy vs. trusted gradients, then the fix");
  std::printf(
      "  The reference builds the scores from verified primitives (matmul, transpose,\n"
      "  mul). Same parameters, same input; compare dL/dq, the gradient that\n"
      "  scaled_scores sends to q (retain_grad() keeps it on the non-leaf q).\n\n");
  Params buggy_params = copy_params(params), reference_params = copy_params(params);
  Forward b = attention(x, buggy_params, target, Scores::Buggy);
  Forward r = attention(x, reference_params, target, Scores::Reference);
  b.q.retain_grad();
  r.q.retain_grad();
  b.loss.backward();
  r.loss.backward();
  Tensor ratio(tensor::div(b.q.grad().data(), r.q.grad().data()));
  std::printf("  dL/dq, buggy    : %s\n", summarize(b.q.grad().data(), 16).c_str());
  std::printf("  dL/dq, reference: %s\n", summarize(r.q.grad().data(), 16).c_str());
  std::printf("  buggy / reference: %s\n\n", summarize(ratio.data(), 16).c_str());
  double sqrt_d = std::sqrt(static_cast<double>(D));
  checks.check(max_abs(ratio - sqrt_d) < 1e-9,
               "every element of the buggy dL/dq is exactly sqrt(D) = 2 times too large");
  std::printf(
      "  A constant factor of sqrt(D): the backward forgot the 1/sqrt(D) scale of the\n"
      "  forward pass. Fixed, the model passes gradcheck and matches the reference:\n\n");
  GradcheckResult fixed = gradcheck(model_with(Scores::Fixed), params.all());
  std::printf("  %s\n\n", fixed.message.c_str());
  checks.check(fixed.passed, "with the scale restored the whole model passes gradcheck");
  Params fixed_params = copy_params(params);
  attention(x, fixed_params, target, Scores::Fixed).loss.backward();
  double worst = 0;
  for (int i = 0; i < 6; ++i)
    worst = std::max(worst, max_abs(Tensor(tensor::sub(fixed_params.all()[i].grad().data(),
                                                       reference_params.all()[i].grad().data()))));
  checks.check(worst < 1e-12, "fixed gradients equal the reference's for every parameter");

  tutorial::section("6. NaN hunting with anomaly mode");
  std::printf(
      "  (a) forward. A causal mask (-inf above the diagonal) and an entropy bonus\n"
      "      -sum(w log w) on the attention weights. The loss comes out nan:\n\n");
  std::vector<double> mask_values;
  for (std::int64_t i = 0; i < T; ++i)
    for (std::int64_t j = 0; j < T; ++j) mask_values.push_back(j > i ? -INFINITY : 0.0);
  Tensor causal_mask = from_vector(mask_values, {T, T}).set_name("causal_mask");
  auto entropy = [&](bool fixed_version) {
    Tensor q = linear(x, params.w_q, params.b_q).set_name("q");
    Tensor k = linear(x, params.w_k, params.b_k).set_name("k");
    Tensor scores = (reference_scores(q, k) + causal_mask).set_name("scores");
    Tensor weights = softmax(scores, -1).set_name("weights");  // exact zeros above the diagonal
    Tensor log_weights =
        fixed_version ? log(maximum(weights, scalar_like(weights, 1e-30))).set_name("log_weights")
                      : log(weights).set_name("log_weights");  // log(0) = -inf, then 0 * -inf
    return (-(weights * log_weights).sum({-1}).mean()).set_name("entropy");
  };
  Tensor nan_entropy = entropy(false);
  std::printf("      entropy = %g   (no hint where it came from)\n\n", nan_entropy.item());
  std::string forward_error;
  try {
    DetectAnomaly anomaly;
    entropy(false);
  } catch (const std::runtime_error& e) {
    forward_error = e.what();
  }
  std::printf("      with DetectAnomaly:\n");
  print_indented(forward_error, 6);
  checks.check(forward_error.find("anomaly detected in forward: 'log' created at "
                                  "tutorials/20_debugging_gradients.cpp:") == 0 &&
                   forward_error.find("'weights'") != std::string::npos,
               "anomaly mode stops at the log and names its input 'weights' and its line");
  std::printf(
      "\n      The -inf of the mask passed through add and softmax unflagged (it was\n"
      "      already in an input); the log made a new -inf. Fix: log(max(w, 1e-30)).\n");
  {
    DetectAnomaly anomaly;
    Tensor fixed_entropy = entropy(true);
    fixed_entropy.backward();
    std::printf("      entropy (fixed) = %.6f\n\n", fixed_entropy.item());
    checks.check(all_finite(fixed_entropy) && all_finite(params.w_q.grad()),
                 "the fixed entropy and its gradients are finite under anomaly mode");
  }

  std::printf(
      "  (b) backward. Distance-based scores -||q_i - q_j||: the forward pass is finite,\n"
      "      but d sqrt(s)/ds = 1/(2 sqrt(s)) is infinite on the diagonal, where s = 0.\n\n");
  auto distance_loss = [&](const Params& p, bool fixed_version) {
    Tensor q = linear(x, p.w_q, p.b_q).set_name("q");                       // [T, D]
    Tensor diff = (unsqueeze(q, 1) - unsqueeze(q, 0)).set_name("diff");     // [T, T, D]
    Tensor squared = square(diff).sum({-1}).set_name("squared_distances");  // [T, T]
    Tensor distances =
        (fixed_version ? sqrt(squared + 1e-12) : sqrt(squared)).set_name("distances");  // [T, T]
    Tensor weights = softmax(-distances, -1).set_name("weights");
    return mean(square(matmul(weights, linear(x, p.w_v, p.b_v)) - target)).set_name("loss");
  };
  Params distance_params = copy_params(params);
  distance_loss(distance_params, false).backward();
  std::printf("      loss is finite, but dL/dw_q = %s\n\n",
              summarize(distance_params.w_q.grad().data(), 4).c_str());
  std::string backward_error;
  try {
    DetectAnomaly anomaly;
    distance_loss(copy_params(params), false).backward();
  } catch (const std::runtime_error& e) {
    backward_error = e.what();
  }
  std::printf("      with DetectAnomaly:\n");
  print_indented(backward_error, 6);
  checks.check(backward_error.find("anomaly detected in backward: the backward of 'sqrt' "
                                   "'distances' created at "
                                   "tutorials/20_debugging_gradients.cpp:") == 0,
               "anomaly mode stops in the backward of sqrt 'distances' and names its line");
  {
    DetectAnomaly anomaly;
    Params p = copy_params(params);
    distance_loss(p, true).backward();
    checks.check(all_finite(p.w_q.grad()), "with sqrt(s + 1e-12) the gradients are finite");
  }
  std::printf("      Fix: sqrt(s + 1e-12), whose derivative stays finite at 0.\n");

  tutorial::section("7. In a debugger: break in the buggy backward by its op's name");
  std::printf(
      "  make debug-tutorial NAME=20_debugging_gradients   (this program + the library, -O0 -g3)\n"
      "  gdb -x tools/gdb/gdbinit --args build/debug/tutorials/20_debugging_gradients\n"
      "  (VS Code: the launch configuration \"Debug a tutorial (gdb)\" does both.)\n\n"
      "  A session, abridged (default --seed; NNN: a line number):\n"
      "    (gdb) attn-break-backward scaled_scores\n"
      "    (gdb) run\n"
      "    attn-break-backward scaled_scores: the 1st scaled_scores backward since the breakpoint was set\n"
      "    backward of scaled_scores 'scores' [3, 3] float64, node #13\n"
      "      created at   tutorials/20_debugging_gradients.cpp:NNN\n"
      "      inputs       [add 'q', add 'k']\n"
      "      incoming gradient (dL/dscores):\n"
      "    tensor([[ 0.0159, -0.0450,  0.0290],\n"
      "            [-0.0012,  0.0061, -0.0049],\n"
      "            [ 0.0011, -0.0344,  0.0333]], shape=[3, 3], dtype=float64, device=cpu)\n"
      "    (gdb) attn-step-backward           into the lambda that scaled_scores recorded\n"
      "    (gdb) break scaled_scores_backward_buggy\n"
      "    (gdb) continue\n"
      "    (gdb) next\n"
      "    (gdb) print grad_scores_t          the transpose: a view, read through its strides\n"
      "    $5 = tensor([[ 0.0159, -0.0012,  0.0011],\n"
      "            [-0.0450,  0.0061, -0.0344],\n"
      "            [ 0.0290, -0.0049,  0.0333]], shape=[3, 3], dtype=float64, device=cpu, strides=[1, 3])\n"
      "    (gdb) finish                       returns {dq, dk} = {g k, g^T q}: no * scale, the bug\n"
      "    (gdb) attn-backward-info           the node and its incoming gradient, from any frame\n"
      "  Big tensors are summarised like PyTorch's: set attn-print-limit N, set attn-print-edge N.\n"
      "  The whole session as a script: gdb -batch -x tools/gdb/debug_backward.gdb --args ...\n");

  std::printf(
      "\nWhat to notice: gradcheck says *that* a gradient is wrong and, op by op, *where*;\n"
      "the trace and a trusted reference say *how* (a factor sqrt(D)); anomaly mode\n"
      "turns \"loss = nan\" into the op and the line that made the first nan or inf.\n");
  const int code = checks.finish();
  char answer[700];
  std::snprintf(answer, sizeof answer,
                "gradcheck of the whole model %s; op by op, %zu of %zu ops failed: %s. Next to a trusted\n"
                "reference its dL/dq was sqrt(D) = %.0f times too large in every element (ratio - %.0f at\n"
                "most %.1e): a forgotten 1/sqrt(D). Fixed, the model %s gradcheck (worst abs error %.1e).\n"
                "Anomaly mode stopped the NaN hunts at '%s' (forward) and '%s' (backward), with their lines.",
                whole.passed ? "passed" : "failed", failed.size(), ops.size(),
                failed.empty() ? "none" : failed.front().c_str(), sqrt_d, sqrt_d, max_abs(ratio - sqrt_d),
                fixed.passed ? "passes" : "fails", fixed.abs_error,
                forward_error.find("'log'") != std::string::npos ? "log" : "?",
                backward_error.find("'sqrt'") != std::string::npos ? "sqrt" : "?");
  tutorial::print_answer(kQuestion, answer);
  return code;
} catch (...) {
  return tutorial::report_error();
}
