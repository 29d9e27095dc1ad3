// gdb sessions in batch mode on -O0 builds: the pretty-printers (tools/gdb/attn_printers.py)
// must show each tensor exactly as the library's own print does, rows and all, and
// `attn-break-backward` must stop in the backward of the op it names, showing the node, where it
// was created and its incoming gradient.
//
// Each test builds what it runs with `make BUILD=debug <program>` (the library and that one
// program, -O0 -g3; build/debug/ unless ATTN_DEBUG_BUILD_DIR names another folder), then runs
// gdb on a script and reads the transcript. Where gdb is not installed each test says so loudly
// and checks nothing.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "tests/helpers.hpp"

namespace {

namespace fs = std::filesystem;

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

int run_command(const std::string& command, const fs::path& log) {
  int status = std::system((command + " > '" + log.string() + "' 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool gdb_missing() {
  if (run_command("command -v gdb", "/dev/null") == 0) return false;
  MESSAGE("\n\n    *** SKIPPED: gdb is not installed, so the gdb printers and commands "
          "(tools/gdb/attn_printers.py) were NOT tested. Install it: sudo apt-get install gdb ***\n");
  return true;
}

// A folder for one test's logs and outputs, removed when the test passes.
struct WorkDir {
  fs::path path;
  explicit WorkDir(const std::string& name)
      : path(fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()))) {
    fs::create_directories(path);
  }
};

fs::path source_dir() { return env_or("ATTN_SOURCE_DIR", "."); }

// Builds `program` (a path under the debug build folder, e.g. "tests/gdb/gdb_tour") at -O0 with
// the library, and returns its absolute path.
fs::path debug_build(const std::string& program, const fs::path& work) {
  std::string build_dir = env_or("ATTN_DEBUG_BUILD_DIR", "build/debug");
  std::string target = build_dir + "/" + program;
  MESSAGE("building for gdb: make BUILD=debug " << target);
  int status = run_command("cd '" + source_dir().string() +
                               "' && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -j2 "
                               "BUILD=debug BUILD_DIR=" + build_dir + " " + target,
                           work / "make.log");
  INFO(read_text(work / "make.log"));
  REQUIRE_MESSAGE(status == 0, "the debug build of " << target << " failed");
  return fs::absolute(source_dir() / target);
}

// Runs gdb on `script` (relative to the repository root) with the program and its arguments;
// returns the transcript (gdb's output and the program's, which comes last: its stdout is a file,
// flushed at exit).
std::string run_gdb(const std::string& script, const fs::path& binary, const std::string& args,
                    const fs::path& work) {
  int status = run_command("cd '" + source_dir().string() + "' && gdb -nx -batch -x " + script +
                               " --args '" + binary.string() + "' " + args + " < /dev/null",
                           work / "gdb.log");
  std::string log = read_text(work / "gdb.log");
  INFO("gdb output:\n" << log);
  if (log.find("ptrace: Operation not permitted") != std::string::npos)
    FAIL("gdb is installed but may not trace processes here (ptrace blocked: a container "
         "without CAP_SYS_PTRACE, or kernel.yama.ptrace_scope=3); allow it, e.g. "
         "docker run --cap-add=SYS_PTRACE");
  REQUIRE(status == 0);
  return log;
}

// What the script printed after `echo \n=== name\n`, up to the next such header.
std::string section(const std::string& log, const std::string& name) {
  std::string header = "\n=== " + name + "\n";
  std::size_t start = log.find(header);
  if (start == std::string::npos) return "";
  start += header.size();
  std::size_t end = log.find("\n=== ", start);
  return log.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The first "tensor(...)" printed after `from`: its values (the nested brackets), and its
// header (shape, dtype, ...). Neither contains a ')' in this program.
struct Printed {
  std::string values, header;
};

Printed printed_tensor(const std::string& text, std::size_t from = 0) {
  std::size_t open = text.find("tensor(", from);
  if (open == std::string::npos) return {};
  std::size_t close = text.find(')', open);
  std::string inside = text.substr(open + 7, close - open - 7);
  std::size_t shape = inside.find(", shape=");
  if (shape == std::string::npos) return {inside, ""};
  return {inside.substr(0, shape), inside.substr(shape + 2)};
}

// The tensor the program printed itself on a line starting with `label`.
Printed program_print(const std::string& log, const std::string& label) {
  std::size_t at = log.find("\n" + label);
  if (at == std::string::npos) return {};
  return printed_tensor(log, at);
}

std::vector<double> numbers_in(const std::string& text) {
  std::vector<double> numbers;
  std::regex number(R"(-?[0-9]+\.[0-9]+(e[-+][0-9]+)?)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), number);
       it != std::sregex_iterator(); ++it)
    numbers.push_back(std::stod(it->str()));
  return numbers;
}

// The 1-based number of the first line of `file` containing `text`.
int source_line(const fs::path& file, const std::string& text) {
  std::istringstream lines(read_text(file));
  int number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    if (line.find(text) != std::string::npos) return number;
  }
  return -1;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_SUITE("debugging") {

TEST_CASE("gdb: tensors print with their rows as the library prints them; attn-break-backward "
          "stops in a named op's backward") {
  if (gdb_missing()) return;
  WorkDir work("attn_gdb_tour");
  fs::path binary = debug_build("tests/gdb/gdb_tour", work.path);
  std::string log = run_gdb("tests/gdb/session.gdb", binary, "", work.path);
  INFO("gdb output:\n" << log);

  // ---- the printers: the same values, brackets and line breaks as the program's own print ----
  struct Expected {
    const char* name;
    const char* header;  // how gdb's header starts
  };
  for (const Expected& e : std::vector<Expected>{
           {"square", "shape=[3, 3], dtype=float32, device=cpu, requires_grad=false"},
           {"cube", "shape=[2, 3, 4], dtype=float64, device=cpu, requires_grad=false"},
           {"transposed", "shape=[3, 3], dtype=float32, device=cpu, strides=[1, 3], "
                          "requires_grad=false"},
           {"sliced", "shape=[3, 2], dtype=float64, device=cpu, strides=[4, 2], offset=13, "
                      "requires_grad=false"},
           {"big", "shape=[100, 100], dtype=float32, device=cpu, requires_grad=false"},
           {"ids", "shape=[2, 5], dtype=int64, device=cpu, requires_grad=false"},
           {"mask", "shape=[3, 3], dtype=bool, device=cpu, requires_grad=false"},
           {"tiny", "shape=[4], dtype=float64, device=cpu, requires_grad=false"},
           {"weird", "shape=[3], dtype=float32, device=cpu, requires_grad=false"},
           {"sim", "shape=[3, 3], dtype=float32, device=cuda-sim, requires_grad=false"},
           {"weight", "shape=[2, 3], dtype=float64, device=cpu, requires_grad=true, "
                      "name=\"weight\""},
           {"zero_d", "shape=[], dtype=float64, device=cpu, requires_grad=false"},
           {"empty", "shape=[2, 0], dtype=float32, device=cpu, requires_grad=false"},
       }) {
    CAPTURE(e.name);
    Printed in_gdb = printed_tensor(section(log, e.name));
    Printed by_program = program_print(log, std::string(e.name) + " = ");
    REQUIRE(!by_program.values.empty());
    CHECK(in_gdb.values == by_program.values);
    CHECK(in_gdb.header == e.header);
  }
  // Rows on their own lines: a 3x3 is three lines, a 2x3x4 two blocks of three.
  std::string square = printed_tensor(section(log, "square")).values;
  CHECK(std::count(square.begin(), square.end(), '\n') == 2);
  CHECK(contains(printed_tensor(section(log, "cube")).values, "]],\n\n        [["));
  // The transpose read through its strides is the square's columns as rows.
  std::vector<double> s = numbers_in(square),
                      t = numbers_in(printed_tensor(section(log, "transposed")).values);
  REQUIRE(s.size() == 9);
  REQUIRE(t.size() == 9);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) CHECK(t[i * 3 + j] == s[j * 3 + i]);
  // A tensor::Array prints the same, without the autograd fields.
  Printed array = printed_tensor(section(log, "array"));
  CHECK(array.values == printed_tensor(section(log, "transposed")).values);
  CHECK(array.header == "shape=[3, 3], dtype=float32, device=cpu, strides=[1, 3]");

  // 100x100 summarised with `set attn-print-edge 2`: rows 0, 1, ..., 98, 99 and in each the
  // columns 0, 1, ..., 98, 99, of big[i][j] = 1 + (100 i + j) / 100.
  std::string edge2 = printed_tensor(section(log, "big-edge-2")).values;
  CHECK(std::count(edge2.begin(), edge2.end(), '\n') == 4);
  CHECK(contains(edge2, ",\n        ...,\n        ["));
  std::vector<double> corners = numbers_in(edge2);
  REQUIRE(corners.size() == 16);
  int shown[] = {0, 1, 98, 99};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      CHECK(std::fabs(corners[r * 4 + c] - (1.0 + shown[r] + shown[c] / 100.0)) < 6e-5);
  // A small limit summarises a small tensor too: `attn-print-limit 4`, `attn-print-edge 1`.
  std::string corner = printed_tensor(section(log, "square-limit-4-edge-1")).values;
  std::vector<double> ends = numbers_in(corner);
  REQUIRE(ends.size() == 4);
  CHECK(ends == std::vector<double>{s[0], s[2], s[6], s[8]});
  CHECK(std::regex_match(corner, std::regex(R"(\[\[ *\S+, \.\.\., +\S+\],\n {8}\.\.\.,\n {8})"
                                            R"(\[ *\S+, \.\.\., +\S+\]\])")));
  // A tensor in GPU memory is described, not read.
  std::string cuda = section(log, "cuda");
  CHECK(contains(cuda, "tensor(<9 values in cuda:0 memory, not read"));
  CHECK(contains(cuda, "device=cuda:0"));
  CHECK(!contains(cuda, "9.7500"));

  // ---- attn-break-backward softmax: stops before the first softmax backward -----------------
  fs::path program = source_dir() / "tests/gdb/programs/gdb_tour.cpp";
  std::string site = "tests/gdb/programs/gdb_tour.cpp:" +
                     std::to_string(source_line(program, "softmax(scores, -1)"));
  CHECK(contains(section(log, "no-backward"), "attn-backward-info: no backward is running"));
  std::string stop = section(log, "break-softmax");
  CHECK(contains(stop, "the next backward of op 'softmax'"));
  CHECK(contains(stop, "attn-break-backward softmax: the 1st softmax backward"));
  CHECK(contains(stop, "backward of softmax 'weights' [3, 3] float64"));
  CHECK(contains(stop, "created at   " + site + "\n"));
  CHECK(contains(stop, "inputs       [mul 'scores']"));
  CHECK(contains(stop, "Breakpoint 2, autograd::detail::run_node_backward (node=node(op=softmax, "
                       "name=\"weights\""));
  // Its incoming gradient is dL/dweights = upstream v^T, computed by the program in a plain loop.
  Printed step1 = program_print(log, "step 1: softmax's incoming gradient should be");
  Printed step3 = program_print(log, "step 3: softmax's incoming gradient should be");
  REQUIRE(!step1.values.empty());
  REQUIRE(step1.values != step3.values);
  Printed incoming = printed_tensor(stop, stop.find("incoming gradient (dL/dweights):"));
  CHECK(incoming.values == step1.values);
  CHECK(incoming.header == "shape=[3, 3], dtype=float64, device=cpu");
  // attn-backward-info shows the same at the stop and inside the op's backward lambda.
  std::string info = section(log, "info-at-stop");
  CHECK(contains(info, "backward of softmax 'weights' [3, 3] float64"));
  CHECK(contains(info, "created at   " + site + "\n"));
  CHECK(printed_tensor(info).values == step1.values);
  CHECK(section(log, "info-inside") == info);
  // attn-step-backward lands in softmax's own backward (the lambda recorded by autograd::softmax),
  // whose argument g is the same incoming gradient.
  std::string inside = section(log, "step-into");
  CHECK(contains(inside, "#0  operator() ("));
  CHECK(contains(inside, "autograd::softmax("));
  CHECK(!contains(inside, "#0  std::"));
  CHECK(printed_tensor(section(log, "g-inside")).values == step1.values);

  // ---- attn-break-backward softmax 2: the second from now, which is step 3's ------------------
  std::string second = section(log, "break-softmax-2");
  CHECK(contains(second, "the 2nd backward of op 'softmax'"));
  CHECK(contains(second, "attn-break-backward softmax: the 2nd softmax backward"));
  CHECK(printed_tensor(second, second.find("incoming gradient")).values == step3.values);

  CHECK(contains(log, "\ngdb_tour: done\n"));
  CHECK(contains(log, "exited normally"));
  fs::remove_all(work.path);
}

// C = A B (or A^T B) for small row-major matrices.
std::vector<double> matmul_ref(const std::vector<double>& a, const std::vector<double>& b,
                               int rows, int inner, int cols, bool transpose_a = false) {
  std::vector<double> c(rows * cols, 0.0);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j)
      for (int m = 0; m < inner; ++m)
        c[i * cols + j] += (transpose_a ? a[m * rows + i] : a[i * inner + m]) * b[m * cols + j];
  return c;
}

// Values printed with 4 decimals are off by up to 5e-5 each, so products of them summed over a
// few terms agree to about `tolerance`; a real error (a missing factor 0.5) is far larger.
void check_close(const std::vector<double>& printed, const std::vector<double>& expected,
                 double tolerance) {
  REQUIRE(printed.size() == expected.size());
  for (std::size_t i = 0; i < printed.size(); ++i)
    CHECK(std::fabs(printed[i] - expected[i]) < tolerance);
}

// The text gdb printed for `$n = ...`, up to the next blank line or `$`.
std::string value_history(const std::string& log, int n) {
  std::string key = "$" + std::to_string(n) + " = ";
  std::size_t at = log.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  std::size_t end = log.find("\n$", at);
  std::size_t blank = log.find("\n\n", at);
  end = std::min(end, blank);
  return log.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

TEST_CASE("gdb: tutorial 20's scripted session breaks in scaled_scores' backward by name") {
  if (gdb_missing()) return;
  WorkDir work("attn_gdb_tutorial20");
  fs::path binary = debug_build("tutorials/20_debugging_gradients", work.path);
  std::string log = run_gdb("tools/gdb/debug_backward.gdb", binary,
                            "--quick --threads 1 --out '" + (work.path / "out").string() + "'",
                            work.path);
  INFO("gdb output:\n" << log);
  fs::path tutorial = source_dir() / "tutorials/20_debugging_gradients.cpp";
  std::string file = "tutorials/20_debugging_gradients.cpp:";
  std::string scores_site = file + std::to_string(source_line(tutorial, "scaled_scores(f.q, f.k"));
  std::string q_site = file + std::to_string(source_line(tutorial, "f.q = linear("));

  // Stopped by op name before the engine ran scaled_scores' backward.
  std::string stop = section(log, "break in the backward of the op named scaled_scores "
                                  "(no file, no line number)");
  CHECK(contains(stop, "attn-break-backward scaled_scores: the 1st scaled_scores backward"));
  CHECK(contains(stop, "backward of scaled_scores 'scores' [3, 3] float64"));
  CHECK(contains(stop, "created at   " + scores_site + "\n"));
  CHECK(contains(stop, "inputs       [add 'q', add 'k']"));
  std::string incoming = printed_tensor(stop, stop.find("incoming gradient (dL/dscores):")).values;
  // attn-step-backward lands on the first line of the lambda that scaled_scores recorded.
  CHECK(contains(section(log, "step into its backward: the lambda that scaled_scores recorded"),
                 file + std::to_string(source_line(tutorial, "const Array& q = saved_q.get();"))));

  // In the planted backward: its arguments, the same gradient the engine passed in.
  Printed grad = printed_tensor(value_history(log, 1)), q = printed_tensor(value_history(log, 2)),
          k = printed_tensor(value_history(log, 3));
  CHECK(grad.values == incoming);
  CHECK(grad.header == "shape=[3, 3], dtype=float64, device=cpu");
  CHECK(q.header == "shape=[3, 4], dtype=float64, device=cpu");
  CHECK(k.header == "shape=[3, 4], dtype=float64, device=cpu");
  CHECK(value_history(log, 4) == "0.5");
  std::vector<double> g = numbers_in(grad.values), qv = numbers_in(q.values),
                      kv = numbers_in(k.values);
  REQUIRE(g.size() == 9);
  REQUIRE(qv.size() == 12);
  REQUIRE(kv.size() == 12);
  // The transposed view, read through its strides: the same numbers, transposed.
  Printed transposed = printed_tensor(value_history(log, 5));
  CHECK(transposed.header == "shape=[3, 3], dtype=float64, device=cpu, strides=[1, 3]");
  std::vector<double> t = numbers_in(transposed.values);
  REQUIRE(t.size() == 9);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) CHECK(t[i * 3 + j] == g[j * 3 + i]);
  // `finish` shows the returned {dq, dk}: g k and g^T q, without the scale (the bug).
  std::string returned = value_history(log, 6);
  CHECK(returned.rfind("std::vector of length 2, capacity 2 = {tensor([[", 0) == 0);
  check_close(numbers_in(printed_tensor(returned).values), matmul_ref(g, kv, 3, 3, 4), 2e-4);
  check_close(numbers_in(printed_tensor(returned, returned.find("), tensor(")).values),
              matmul_ref(g, qv, 3, 3, 4, true), 2e-4);
  // attn-backward-info from inside the backward: the same node and gradient.
  std::string info = section(log, "the same node and gradient, from inside the backward");
  CHECK(contains(info, "created at   " + scores_site + "\n"));
  CHECK(printed_tensor(info).values == incoming);

  // The engine's node, its output shape (the tensor::Shape printer), an input node.
  CHECK(value_history(log, 7) ==
        "node(op=scaled_scores, name=\"scores\", shape=[3, 3], dtype=float64, site=" +
            scores_site + ", inputs=[add 'q', add 'k'])");
  CHECK(value_history(log, 8) == "[3, 3]");
  CHECK(value_history(log, 9) == "node(op=add, name=\"q\", shape=[3, 4], dtype=float64, site=" +
                                     q_site + ", inputs=[matmul, accumulate_grad 'b_q'])");
  // autograd::Tensor in main: x as written in the tutorial, rows on their own lines; the
  // scores q k^T * 0.5 with requires_grad, grad_fn and name.
  CHECK(value_history(log, 10) ==
        "tensor([[ 1.0000,  0.5000],\n"
        "        [-1.0000,  2.0000],\n"
        "        [ 0.2500, -0.5000]], shape=[3, 2], dtype=float64, device=cpu, "
        "requires_grad=false, name=\"x\")");
  Printed scores = printed_tensor(value_history(log, 11));
  CHECK(scores.header == "shape=[3, 3], dtype=float64, device=cpu, requires_grad=true, "
                         "grad_fn=<scaled_scores>, name=\"scores\"");
  std::vector<double> k_transposed(12);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) k_transposed[j * 3 + i] = kv[i * 4 + j];
  std::vector<double> expected_scores = matmul_ref(qv, k_transposed, 3, 4, 3);
  for (double& s : expected_scores) s *= 0.5;
  check_close(numbers_in(scores.values), expected_scores, 1e-3);
  // `set attn-print-limit 4` and `set attn-print-edge 1` summarise a [2, 4] to its corners.
  CHECK(std::regex_match(value_history(log, 12),
                         std::regex(R"(tensor\(\[\[ *-?[0-9.]+, \.\.\., +-?[0-9.]+\],\n {8})"
                                    R"(\[ *-?[0-9.]+, \.\.\., +-?[0-9.]+\]\], shape=\[2, 4\], )"
                                    R"(dtype=float64, device=cpu, requires_grad=true, name="w_q"\))")));

  // The abridged session that the tutorial prints in its part 7 is this one, values and all.
  std::size_t transcript = log.find("    (gdb) attn-break-backward scaled_scores\n");
  REQUIRE_MESSAGE(transcript != std::string::npos, "tutorial 20 no longer prints its gdb session");
  CHECK(numbers_in(printed_tensor(log, log.find("incoming gradient (dL/dscores):", transcript))
                       .values) == g);
  CHECK(numbers_in(printed_tensor(log, log.find("$5 = tensor(", transcript)).values) == t);

  // The tutorial then ran to its end and passed its own checks in the debug build too.
  CHECK(std::regex_search(log, std::regex(R"(\n\d+ checks passed, 0 failed\n)")));
  CHECK(contains(log, "exited normally"));
  fs::remove_all(work.path);
}

}  // TEST_SUITE("debugging")
