// The interview exercises (tutorials/exercises/). For each one, its checker linked with the
// reference solution (solutions/) prints PASS and exits 0, and linked with the pristine copy of
// the stub as shipped (stubs/) prints FAIL with the first wrong value, the expected one and a hint,
// and exits 1. The learner's own files (tutorials/exercises/<name>.cpp) are never built here, so
// filling one in cannot break the tests. `make test` and `make unit-test` build the programs into
// ATTN_EXERCISE_DIR (default build/exercises): solution/<name> and stub/<name>.
// One exercise alone: build/tests/run_tests -tc="exercise softmax*"
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

// Every exercise, as named by tutorials/exercises/checkers/<name>.cpp.
const std::vector<std::string> kExercises = {
    "dot_product_attention", "greedy_step",         "layer_norm", "masked_scaled_attention",
    "matmul_backward",       "positional_encoding", "softmax",    "softmax_backward",
    "split_merge_heads"};

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Whether `text` holds the command "make exercise NAME=<name>" (and not a longer name).
bool names_command(const std::string& text, const std::string& name) {
  const std::string command = "make exercise NAME=" + name;
  std::size_t at = text.find(command);
  if (at == std::string::npos) return false;
  char after = at + command.size() < text.size() ? text[at + command.size()] : ' ';
  return !(std::isalnum(static_cast<unsigned char>(after)) || after == '_');
}

struct ProgramRun {
  int status = -1;
  std::string output;  // stdout and stderr
};

ProgramRun run_program(const fs::path& program) {
  ProgramRun result;
  FILE* pipe = ::popen(("'" + program.string() + "' 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe))
    result.output.append(buffer, n);
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return result;
}

// The checker passes with the solution and fails, saying where and why, with the stub.
void check_exercise(const std::string& name) {
  fs::path programs = env_or("ATTN_EXERCISE_DIR", "build/exercises");
  fs::path solution = programs / "solution" / name, stub = programs / "stub" / name;
  REQUIRE_MESSAGE(fs::exists(solution),
                  solution << " is missing: `make test` or `make unit-test` builds it");
  REQUIRE_MESSAGE(fs::exists(stub),
                  stub << " is missing: `make test` or `make unit-test` builds it");

  ProgramRun with_solution = run_program(solution);
  INFO("checker with the reference solution (" << solution << "):\n" << with_solution.output);
  CHECK(with_solution.status == 0);
  CHECK(with_solution.output.rfind("PASS " + name + ": ", 0) == 0);

  ProgramRun with_stub = run_program(stub);
  INFO("checker with the stub as shipped (" << stub << "):\n" << with_stub.output);
  CHECK(with_stub.status == 1);
  CHECK(with_stub.output.rfind("FAIL " + name + ": first wrong value at index [", 0) == 0);
  CHECK(contains(with_stub.output, ": expected "));
  CHECK(contains(with_stub.output, ", got "));
  CHECK(contains(with_stub.output, "\n  case:   1 of "));
  CHECK(contains(with_stub.output, "\n  hint:   "));
}

}  // namespace

TEST_SUITE("exercises") {
  TEST_CASE(
      "exercise files: each has a learner's file, a pristine stub, a solution and a checker") {
    fs::path dir = fs::path(env_or("ATTN_SOURCE_DIR", ".")) / "tutorials" / "exercises";
    std::vector<std::string> checkers;
    for (const auto& entry : fs::directory_iterator(dir / "checkers"))
      if (entry.path().extension() == ".cpp") checkers.push_back(entry.path().stem().string());
    std::sort(checkers.begin(), checkers.end());
    CHECK_MESSAGE(checkers == kExercises,
                  "every checker in " << (dir / "checkers") << " needs its test case here");
    const std::string readme = read_file(dir / "README.md");
    for (const std::string& name : kExercises) {
      INFO("exercise " << name);
      CHECK(fs::exists(dir / (name + ".cpp")));  // the learner's, whatever it holds now
      CHECK(fs::exists(dir / "solutions" / (name + ".cpp")));
      // The stub as shipped: the task in English and Chinese, its command, and a TODO.
      const std::string stub = read_file(dir / "stubs" / (name + ".cpp"));
      CHECK(contains(stub, "// Task\n"));
      CHECK(contains(stub, "// 任务\n"));
      CHECK(names_command(stub, name));
      CHECK(contains(stub, "// TODO"));
      CHECK_FALSE(contains(read_file(dir / "solutions" / (name + ".cpp")), "TODO"));
      CHECK(contains(readme, "`" + name + "`"));
    }
  }

  TEST_CASE("exercise softmax: the solution passes its checker, the stub as shipped fails it") {
    check_exercise("softmax");
  }
  TEST_CASE("exercise dot_product_attention: the solution passes, the stub as shipped fails") {
    check_exercise("dot_product_attention");
  }
  TEST_CASE("exercise masked_scaled_attention: the solution passes, the stub as shipped fails") {
    check_exercise("masked_scaled_attention");
  }
  TEST_CASE("exercise split_merge_heads: the solution passes, the stub as shipped fails") {
    check_exercise("split_merge_heads");
  }
  TEST_CASE("exercise layer_norm: the solution passes, the stub as shipped fails") {
    check_exercise("layer_norm");
  }
  TEST_CASE("exercise softmax_backward: the solution passes, the stub as shipped fails") {
    check_exercise("softmax_backward");
  }
  TEST_CASE("exercise matmul_backward: the solution passes, the stub as shipped fails") {
    check_exercise("matmul_backward");
  }
  TEST_CASE("exercise positional_encoding: the solution passes, the stub as shipped fails") {
    check_exercise("positional_encoding");
  }
  TEST_CASE("exercise greedy_step: the solution passes, the stub as shipped fails") {
    check_exercise("greedy_step");
  }
}
