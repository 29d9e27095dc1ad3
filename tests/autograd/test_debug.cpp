// Debugging tools (autograd/debug.hpp): the graph as text and as DOT, the backward trace and
// anomaly mode. The gdb printers and commands (tools/gdb/) are tested in tests/gdb/.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <unistd.h>

#include "autograd/debug.hpp"
#include "tests/helpers.hpp"

using namespace autograd;
using testing::error_message;
using testing::values;

namespace {

namespace fs = std::filesystem;

Tensor leaf(std::vector<double> v, const char* name) {
  return Tensor(tensor::from_vector(v), true).set_name(name);
}

// "tests/autograd/test_debug.cpp:<line>", spelled the way the compiler spells this file.
std::string site(int line) {
  return std::string(Site::current().file_name()) + ":" + std::to_string(line);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The little graph most tests use:  loss = sum(x * w + x * 2), with x = [1, 2], w = [3, 4].
struct SmallGraph {
  Tensor x, w, y, z, loss;
  int line_y, line_z, line_loss;  // where y, z and loss were made
};

SmallGraph small_graph() {
  SmallGraph g;
  g.x = leaf({1, 2}, "x");
  g.w = leaf({3, 4}, "w");
  g.line_y = __LINE__ + 1;
  g.y = (g.x * g.w).set_name("y");
  g.line_z = __LINE__ + 1;
  g.z = g.y + g.x * 2.0;
  g.line_loss = __LINE__ + 1;
  g.loss = g.z.sum().set_name("loss");
  return g;
}

}  // namespace

TEST_SUITE("debugging") {

// ---- print_graph ----------------------------------------------------------------------------

TEST_CASE("print_graph: one line per node from the output back to the leaves") {
  SmallGraph g = small_graph();
  std::string expected =
      "sum 'loss' [] float64, no grad  (" + site(g.line_loss) + ")\n"
      "└─ add [2] float64, no grad  (" + site(g.line_z) + ")\n"
      "   ├─ mul 'y' [2] float64, no grad  (" + site(g.line_y) + ")\n"
      "   │  ├─ accumulate_grad 'x' [2] float64, no grad\n"
      "   │  └─ accumulate_grad 'w' [2] float64, no grad\n"
      "   └─ mul [2] float64, no grad  (" + site(g.line_z) + ")\n"
      "      ├─ accumulate_grad 'x' (shown above)\n"
      "      └─ no-grad input [] float64\n";
  CHECK(graph_string(g.loss) == expected);
  std::ostringstream printed;
  print_graph(g.loss, printed);
  CHECK(printed.str() == expected);

  // After backward the leaves hold gradients, and so does y because of retain_grad().
  g.y.retain_grad();
  g.loss.backward();
  std::vector<std::string> after = lines_of(graph_string(g.loss));
  REQUIRE(after.size() == 8);
  CHECK(after[2] == "   ├─ mul 'y' [2] float64, grad stored  (" + site(g.line_y) + ")");
  CHECK(after[3] == "   │  ├─ accumulate_grad 'x' [2] float64, grad stored");
  CHECK(after[4] == "   │  └─ accumulate_grad 'w' [2] float64, grad stored");
  CHECK(after[5] == "   └─ mul [2] float64, no grad  (" + site(g.line_z) + ")");
}

TEST_CASE("print_graph: leaves, tensors without a graph, and a depth limit") {
  Tensor w = leaf({1, 2, 3}, "w");
  CHECK(graph_string(w) == "leaf 'w' [3] float64, no grad\n");
  Tensor constant(tensor::ones({2, 2}));
  CHECK(graph_string(constant).find("no-grad tensor [2, 2] float32: no graph was recorded") == 0);

  Tensor deep = w;
  for (int i = 0; i < 10; ++i) deep = exp(deep);
  std::vector<std::string> lines = lines_of(graph_string(deep, /*max_depth=*/3));
  REQUIRE(lines.size() == 5);  // the root, 3 levels, then the cut
  CHECK(lines[3].rfind("      └─ exp [3] float64, no grad", 0) == 0);
  CHECK(lines[4] == "         └─ ... (deeper than max_depth 3)");
  // A 100,000-node chain prints without recursing, cut at the default depth of 64.
  Tensor chain = w;
  for (int i = 0; i < 100000; ++i) chain = chain * 1.0;
  std::vector<std::string> chain_lines = lines_of(graph_string(chain));
  CHECK(chain_lines.size() == 1 + 64 + 1 + 64);  // 65 muls, the cut, 64 scalar inputs
  CHECK(chain_lines[65].find("└─ ... (deeper than max_depth 64)") != std::string::npos);
}

// ---- DOT ------------------------------------------------------------------------------------

TEST_CASE("to_dot: one box per graph node, one edge per input edge") {
  SmallGraph g = small_graph();
  std::string dot = to_dot(g.loss);
  CHECK(dot.find("digraph autograd {") == 0);
  CHECK(dot.substr(dot.size() - 2) == "}\n");

  std::vector<std::shared_ptr<Node>> nodes = backward_order(g.loss);
  REQUIRE(nodes.size() == 6);
  std::set<std::string> expected_boxes;
  std::multiset<std::pair<std::string, std::string>> expected_edges;
  for (const auto& node : nodes) {
    expected_boxes.insert("n" + std::to_string(node->sequence));
    for (const auto& input : node->inputs)
      if (input)
        expected_edges.insert({"n" + std::to_string(input->sequence),
                               "n" + std::to_string(node->sequence)});
  }
  std::set<std::string> boxes;
  std::multiset<std::pair<std::string, std::string>> edges;
  std::regex box(R"re(^  (n\d+) \[label="(.*)", fillcolor="(.*)"\];$)re");
  std::regex edge(R"re(^  (n\d+) -> (n\d+)( \[label=" input \d"\])?;$)re");
  std::map<std::string, std::string> labels, fills;
  for (const std::string& line : lines_of(dot)) {
    std::smatch m;
    if (std::regex_match(line, m, box)) {
      CHECK(boxes.insert(m[1]).second);
      labels[m[1]] = m[2];
      fills[m[1]] = m[3];
    } else if (std::regex_match(line, m, edge)) {
      edges.insert({m[1], m[2]});
    }
  }
  CHECK(boxes == expected_boxes);
  CHECK(edges == expected_edges);  // x feeds both muls: two edges out of its box
  std::string root = "n" + std::to_string(g.loss.grad_fn()->sequence);
  CHECK(labels[root] == "sum 'loss'\\n[] float64\\ntest_debug.cpp:" + std::to_string(g.line_loss));
  CHECK(fills[root] == "#ffd8a8");
  std::string y = "n" + std::to_string(g.y.grad_fn()->sequence);
  CHECK(labels[y] == "mul 'y'\\n[2] float64\\ntest_debug.cpp:" + std::to_string(g.line_y));
  CHECK(dot.find("label=\"accumulate_grad 'x'\\n[2] float64\", fillcolor=\"#cfe2ff\"") !=
        std::string::npos);

  // The same text in a file, and a clear error for a path that cannot be written.
  fs::path file = fs::temp_directory_path() / ("attn_graph_" + std::to_string(::getpid()) + ".dot");
  to_dot(g.loss, file.string());
  std::ifstream in(file);
  std::stringstream written;
  written << in.rdbuf();
  CHECK(written.str() == dot);
  fs::remove(file);
  CHECK(error_message([&] { to_dot(g.loss, "/nonexistent-dir/graph.dot"); })
            .find("to_dot: cannot open '/nonexistent-dir/graph.dot' for writing") == 0);
}

TEST_CASE("to_dot escapes quotes in names") {
  Tensor x = leaf({1}, "say \"hi\"");
  std::string dot = to_dot(exp(x));
  CHECK(dot.find("accumulate_grad 'say \\\"hi\\\"'") != std::string::npos);
}

// ---- backward trace -------------------------------------------------------------------------

TEST_CASE("BackwardTrace prints every node in engine order with the gradients") {
  SmallGraph g = small_graph();
  std::vector<std::shared_ptr<Node>> order = backward_order(g.loss);
  std::ostringstream out;
  {
    BackwardTrace trace(out);
    g.loss.backward();
  }
  // d loss/dz = [1, 1]; d/dy = [1, 1]; d/dx = w + 2 = [5, 6]; d/dw = x = [1, 2]
  std::string expected =
      "backward from sum 'loss' [] float64 with gradient 1: 6 nodes, newest first\n"
      "[1] sum 'loss' [] float64  (" + site(g.line_loss) + ")\n"
      "      grad in      1\n"
      "      to input 0   add [2] float64: [1, 1]\n"
      "[2] add [2] float64  (" + site(g.line_z) + ")\n"
      "      grad in      [1, 1]\n"
      "      to input 0   mul 'y' [2] float64: [1, 1]\n"
      "      to input 1   mul [2] float64: [1, 1]\n"
      "[3] mul [2] float64  (" + site(g.line_z) + ")\n"
      "      grad in      [1, 1]\n"
      "      to input 0   accumulate_grad 'x' [2] float64: [2, 2]\n"
      "[4] mul 'y' [2] float64  (" + site(g.line_y) + ")\n"
      "      grad in      [1, 1]\n"
      "      to input 0   accumulate_grad 'x' [2] float64: [3, 4]\n"
      "      to input 1   accumulate_grad 'w' [2] float64: [1, 2]\n"
      "[5] accumulate_grad 'w' [2] float64\n"
      "      grad in      [1, 2]  -> added into w.grad()\n"
      "[6] accumulate_grad 'x' [2] float64\n"
      "      grad in      [5, 6]  -> added into x.grad()\n";
  CHECK(out.str() == expected);
  // The numbered lines follow backward_order exactly.
  std::vector<std::string> numbered;
  for (const std::string& line : lines_of(out.str()))
    if (line[0] == '[') numbered.push_back(line.substr(line.find(']') + 2));
  REQUIRE(numbered.size() == order.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    CHECK(numbered[i].find(node_label(*order[i]) + " ") == 0);
  CHECK(values(g.x.grad()) == std::vector<double>{5, 6});  // the trace changed nothing

  // Once the guard is gone, backward prints nothing.
  std::ostringstream silent;
  {
    BackwardTrace trace(silent);
  }
  sum(g.w * 3.0).backward();
  CHECK(silent.str().empty());
}

TEST_CASE("BackwardTrace: broadcast gradients are shown summed back; big tensors summarised") {
  Tensor a(tensor::full({20, 30}, 2.0, DType::Float64), true);
  Tensor b = leaf({1, 2, 3}, "b");
  Tensor big = a.set_name("a") * 1.0;
  Tensor small = Tensor(tensor::ones({2, 3}, DType::Float64)) + b;  // b broadcast over 2 rows
  std::ostringstream out;
  {
    BackwardTrace trace(out, /*max_values=*/6);
    sum(big).backward();
    sum(small).backward();
  }
  std::string text = out.str();
  CHECK(text.find("      to input 0   accumulate_grad 'a' [20, 30] float64: [20, 30] min 1 max 1 "
                  "mean 1, first 1, 1, 1, ...\n") != std::string::npos);
  CHECK(text.find("      to input 1   accumulate_grad 'b' [3] float64: [2, 2, 2]\n") !=
        std::string::npos);
  CHECK(text.find("      grad in      [[1, 1, 1], [1, 1, 1]]\n") != std::string::npos);
  CHECK(summarize(tensor::from_vector(std::vector<double>{1, NAN, INFINITY, -2, 0.5}), 2) ==
        "[5] min -2 max 1 mean -0.1667 (1 nan) (1 inf), first 1, nan, inf, ...");
  CHECK(summarize(tensor::scalar(0.25)) == "0.25");
  CHECK(summarize(Array()) == "(none)");
}

TEST_CASE("BackwardTrace guards nest and restore the previous stream") {
  std::ostringstream outer, inner;
  Tensor x = leaf({1}, "x");
  {
    BackwardTrace a(outer);
    {
      BackwardTrace b(inner);
      sum(x * 2.0).backward();
    }
    sum(x * 3.0).backward();
  }
  CHECK(inner.str().find("to input 0   accumulate_grad 'x' [1] float64: [2]") != std::string::npos);
  CHECK(outer.str().find("to input 0   accumulate_grad 'x' [1] float64: [3]") != std::string::npos);
  CHECK(outer.str().find("[2]\n") == std::string::npos);
}

// ---- anomaly mode ---------------------------------------------------------------------------

TEST_CASE("anomaly mode: a NaN made in the forward pass names the op, the input and the line") {
  Tensor x = leaf({1, -1, 2}, "x");
  CHECK_NOTHROW(log(x));  // off by default: nan flows silently
  CHECK_FALSE(is_anomaly_enabled());
  std::string message;
  int line = 0;
  {
    DetectAnomaly anomaly;
    CHECK(is_anomaly_enabled());
    line = __LINE__ + 1;
    message = error_message([&] { log(x); });
  }
  CHECK_FALSE(is_anomaly_enabled());
  INFO(message);
  CHECK(message.find("anomaly detected in forward: 'log' created at " + site(line) +
                     " produced nan in 1 of 3 elements (first at [1]), which none of its inputs "
                     "held.\n") == 0);
  CHECK(message.find("  input 0 'x' (leaf) [3] float64: [1, -1, 2]\n") != std::string::npos);
  CHECK(message.find("  result [3] float64: [0, nan, 0.6931]\n") != std::string::npos);

  // Also for ops on tensors that need no gradient, and for a new infinity.
  Tensor zero(tensor::zeros({2, 2}, DType::Float64));
  set_detect_anomaly(true);
  std::string inf_message = error_message([&] { log(zero.set_name("probabilities")); });
  set_detect_anomaly(false);
  CHECK(inf_message.find("anomaly detected in forward: 'log' created at ") == 0);
  CHECK(inf_message.find("produced inf in 4 of 4 elements (first at [0, 0])") != std::string::npos);
  CHECK(inf_message.find("input 0 'probabilities' (leaf) [2, 2] float64") != std::string::npos);
}

TEST_CASE("anomaly mode lets an infinity that was already in an input through") {
  DetectAnomaly anomaly;
  // A causal mask: -inf above the diagonal, added to scores, then softmax gives exact zeros.
  Tensor scores = Tensor(tensor::zeros({2, 2}, DType::Float64), true);
  Tensor mask = from_vector(std::vector<double>{0, -INFINITY, 0, 0}, {2, 2});
  Tensor weights;
  CHECK_NOTHROW(weights = softmax(scores + mask, -1));
  CHECK(values(weights) == std::vector<double>{1, 0, 0.5, 0.5});
  // ... but inf - inf is a new nan, and log(0) a new -inf.
  Tensor infinite = from_vector(std::vector<double>{INFINITY});
  CHECK(error_message([&] { sub(infinite, infinite); }).find("'sub' created at") !=
        std::string::npos);
  CHECK(error_message([&] { log(weights); })
            .find("produced inf in 1 of 4 elements (first at [0, 1])") != std::string::npos);
}

TEST_CASE("anomaly mode: an infinite gradient made by a backward names the op and the line") {
  Tensor x = leaf({0, 1, 4}, "x");  // sqrt is fine at 0, its derivative 1/(2 sqrt x) is not
  int line = __LINE__ + 1;
  Tensor r = sqrt(x).set_name("r");
  Tensor loss = sum(r);
  std::string message;
  std::ostringstream trace_text;
  {
    DetectAnomaly anomaly;
    BackwardTrace trace(trace_text);
    message = error_message([&] { loss.backward(Tensor(), /*retain_graph=*/true); });
  }
  INFO(message);
  CHECK(message.find("anomaly detected in backward: the backward of 'sqrt' 'r' created at " +
                     site(line) +
                     " sent inf in 1 of 3 elements (first at [0]) to input 0 (accumulate_grad "
                     "'x' [3] float64).\n") == 0);
  CHECK(message.find("  gradient arriving at sqrt: [1, 1, 1]\n") != std::string::npos);
  CHECK(message.find("  gradient sent to input 0: [inf, 0.5, 0.25]\n") != std::string::npos);
  // The trace printed the node (with the inf) before the error stopped the pass.
  CHECK(trace_text.str().find("to input 0   accumulate_grad 'x' [3] float64: [inf, 0.5, 0.25]") !=
        std::string::npos);
  CHECK_FALSE(x.grad().defined());  // nothing reached the leaf
  // The pass stopped cleanly: without anomaly mode the same backward runs and gives the inf.
  loss.backward();
  CHECK(std::isinf(values(x.grad())[0]));
}

TEST_CASE("anomaly mode: a NaN from a hook or the root gradient is reported where it arrives") {
  Tensor x = leaf({1, 2}, "x");
  Tensor y = (x * 3.0).set_name("y");
  y.register_hook([](Array& grad) { grad = grad * NAN; });
  DetectAnomaly anomaly;
  std::string message = error_message([&] { sum(y).backward(); });
  CHECK(message.find("anomaly detected in backward: the gradient arriving at 'mul' 'y' created at ") == 0);
  CHECK(message.find("holds nan in 2 of 2 elements (first at [0])") != std::string::npos);
  CHECK(message.find("from a hook (register_hook)") != std::string::npos);

  Tensor z = leaf({1}, "z");
  std::string leaf_message = error_message([&] { z.backward(from_vector(std::vector<double>{NAN})); });
  CHECK(leaf_message.find("the gradient arriving at 'accumulate_grad' 'z' holds nan") !=
        std::string::npos);
}

TEST_CASE("with anomaly mode on, correct models run unchanged") {
  Generator gen(7);
  Tensor w = testing::random_leaf({3, 4}, gen);
  Tensor x = testing::random_leaf({2, 3}, gen);
  Tensor expected_grad;
  {
    Tensor loss = sum(softmax(matmul(x, w), -1) * 2.0);
    loss.backward();
    expected_grad = w.grad();
    w.zero_grad();
  }
  DetectAnomaly anomaly;
  Tensor loss = sum(softmax(matmul(x, w), -1) * 2.0);
  loss.backward();
  CHECK(values(w.grad()) == values(expected_grad));
}

}  // TEST_SUITE("debugging")
