// The interview exercises (tutorials/exercises/). For each one, its checker linked with the
// reference solution (solutions/) prints PASS and exits 0; linked with the stub (stubs/) it prints
// FAIL with the first wrong value, the expected one and a hint, and exits 1; and linked with each
// deliberately wrong answer (mistakes/<name>__<mistake>.cpp, whose first line names the
// diagnosis) it exits 1 and prints that diagnosis. The learner's own copies
// (tutorials/exercises/workspace/) are never built here, so filling one in cannot break the tests.
// `make test` and `make unit-test` build the programs into ATTN_EXERCISE_DIR (default
// build/exercises): solution/<name>, stub/<name> and mistake/<name>__<mistake>.
// One exercise alone: build/tests/run_tests -tc="exercise softmax:*"
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

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
const std::vector<std::string> kExercises = {"bpe_merge_step",
                                             "causal_attention",
                                             "cross_entropy_backward",
                                             "dot_product_attention",
                                             "embedding_backward",
                                             "fp16_round",
                                             "greedy_step",
                                             "kv_cache_step",
                                             "layer_norm",
                                             "lora_forward",
                                             "masked_scaled_attention",
                                             "matmul_backward",
                                             "multi_head_attention",
                                             "positional_encoding",
                                             "repeat_kv",
                                             "rms_norm",
                                             "rope",
                                             "softmax",
                                             "softmax_backward",
                                             "split_merge_heads",
                                             "swiglu",
                                             "top_p"};

// What a stub must not say: the trick the exercise is about (the hints give it, one at a time).
const std::vector<std::pair<std::string, std::string>> kGiveaways = {
    {"softmax", "row max"},
    {"softmax", "- max"},
    {"softmax", "subtract"},
    {"softmax_backward", "dot product"},
    {"masked_scaled_attention", "-inf"},
    {"causal_attention", "-inf"},
    {"cross_entropy_backward", "one-hot"},
    {"embedding_backward", "+="},
    {"lora_forward", "alpha / r"},
    {"lora_forward", "alpha/r"},
    {"bpe_merge_step", "i += 2"},
    {"repeat_kv", "h / groups"},
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

fs::path source_dir() {
  return fs::path(env_or("ATTN_SOURCE_DIR", ".")) / "tutorials" / "exercises";
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

// A deliberately wrong answer of an exercise and what its checker must say about it.
struct WrongAnswer {
  std::string program;         // mistake/<name>__<mistake>
  std::string diagnosis = {};  // printed as "  mistake: <diagnosis>" (or in an "error: " line)
  bool is_error = false;       // the first line says "// Error:": the checker reports an error
};

// The wrong answers of `name`, read from mistakes/<name>__*.cpp: the first line is
// "// Mistake: <diagnosis>" or "// Error: <text of the error line>".
std::vector<WrongAnswer> wrong_answers_of(const std::string& name) {
  std::vector<WrongAnswer> found;
  for (const auto& entry : fs::directory_iterator(source_dir() / "mistakes")) {
    const std::string stem = entry.path().stem().string();
    if (entry.path().extension() != ".cpp" || stem.rfind(name + "__", 0) != 0) continue;
    std::ifstream in(entry.path());
    std::string first_line;
    std::getline(in, first_line);
    WrongAnswer wrong{.program = stem};
    if (first_line.rfind("// Mistake: ", 0) == 0) {
      wrong.diagnosis = first_line.substr(12);
    } else if (first_line.rfind("// Error: ", 0) == 0) {
      wrong.diagnosis = first_line.substr(10);
      wrong.is_error = true;
    }
    found.push_back(wrong);
  }
  std::sort(found.begin(), found.end(),
            [](const WrongAnswer& a, const WrongAnswer& b) { return a.program < b.program; });
  return found;
}

// The checker passes with the solution, fails with the stub saying where and why, and names each
// deliberately wrong answer.
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

  std::vector<WrongAnswer> wrong_answers = wrong_answers_of(name);
  CHECK_MESSAGE(!wrong_answers.empty(), "exercise " << name
                                                    << " needs at least one wrong answer in "
                                                    << (source_dir() / "mistakes"));
  for (const WrongAnswer& wrong : wrong_answers) {
    fs::path program = programs / "mistake" / wrong.program;
    INFO("wrong answer " << wrong.program);
    REQUIRE_MESSAGE(!wrong.diagnosis.empty(),
                    "its first line must be \"// Mistake: <diagnosis>\" or \"// Error: <text>\"");
    REQUIRE_MESSAGE(fs::exists(program),
                    program << " is missing: `make test` or `make unit-test` builds it");
    ProgramRun with_mistake = run_program(program);
    INFO("checker with " << wrong.program << ":\n" << with_mistake.output);
    CHECK(with_mistake.status == 1);
    if (wrong.is_error) {
      // One line, "error: ...", and no PASS or FAIL.
      CHECK(with_mistake.output.rfind("error: " + wrong.diagnosis, 0) == 0);
      CHECK(std::count(with_mistake.output.begin(), with_mistake.output.end(), '\n') == 1);
    } else {
      CHECK(with_mistake.output.rfind("FAIL " + name + ": ", 0) == 0);
      CHECK(contains(with_mistake.output, "\n  mistake: " + wrong.diagnosis + "\n"));
    }
  }
}

// Runs `command` through the shell; its status and output.
ProgramRun run_shell(const std::string& command) {
  ProgramRun result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe))
    result.output.append(buffer, n);
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return result;
}

}  // namespace

TEST_SUITE("exercises") {
  TEST_CASE("exercise files: each has a stub, hints, a solution, a checker and a README row") {
    fs::path dir = source_dir();
    std::vector<std::string> checkers;
    for (const auto& entry : fs::directory_iterator(dir / "checkers"))
      if (entry.path().extension() == ".cpp") checkers.push_back(entry.path().stem().string());
    std::sort(checkers.begin(), checkers.end());
    CHECK_MESSAGE(checkers == kExercises,
                  "every checker in " << (dir / "checkers") << " needs its test case here");
    const std::string readme = read_file(dir / "README.md");
    for (const std::string& name : kExercises) {
      INFO("exercise " << name);
      CHECK(fs::exists(dir / "solutions" / (name + ".cpp")));
      // The learner's copy lives in the ignored workspace/, made from the stub; none is tracked
      // next to the stubs any more.
      CHECK_FALSE(fs::exists(dir / (name + ".cpp")));
      // The stub as shipped: the task in English and Chinese, its command, and a TODO.
      const std::string stub = read_file(dir / "stubs" / (name + ".cpp"));
      CHECK(contains(stub, "// Task\n"));
      CHECK(contains(stub, "// 任务\n"));
      CHECK(names_command(stub, name));
      CHECK(contains(stub, "// TODO"));
      CHECK_FALSE(contains(read_file(dir / "solutions" / (name + ".cpp")), "TODO"));
      CHECK(contains(readme, "`" + name + "`"));
      // Hints: at least three (a nudge first, nearly the answer last), separated by "---".
      const std::string hints = read_file(dir / "hints" / (name + ".txt"));
      int separators = 0;
      for (std::size_t at = hints.find("\n---\n"); at != std::string::npos;
           at = hints.find("\n---\n", at + 1))
        ++separators;
      CHECK(separators >= 2);
    }
    for (const auto& [name, giveaway] : kGiveaways) {
      INFO("the stub of " << name << " gives its trick away: it says '" << giveaway << "'");
      CHECK_FALSE(contains(read_file(dir / "stubs" / (name + ".cpp")), giveaway));
    }
  }

  TEST_CASE("exercise hints: one at a time, the last repeated, remembered, and reset") {
    fs::path workspace =
        fs::temp_directory_path() / ("attn_hint_test_" + std::to_string(::getpid()));
    fs::remove_all(workspace);
    const std::string hint = "ATTN_EXERCISE_WORKSPACE='" + workspace.string() + "' sh '" +
                             (source_dir() / "hint.sh").string() + "' ";
    const std::string hints = read_file(source_dir() / "hints" / "softmax.txt");
    const std::string first = hints.substr(0, hints.find('\n'));  // the first hint's first line

    ProgramRun one = run_shell(hint + "softmax");
    INFO("first call:\n" << one.output);
    CHECK(one.status == 0);
    CHECK(one.output.rfind("hint 1 of ", 0) == 0);
    CHECK(contains(one.output, "  " + first + "\n"));
    CHECK(contains(one.output, "make hint NAME=softmax"));
    CHECK(contains(one.output, "make hint-reset NAME=softmax"));

    ProgramRun two = run_shell(hint + "softmax");
    INFO("second call:\n" << two.output);
    CHECK(two.output.rfind("hint 2 of ", 0) == 0);
    CHECK_FALSE(contains(two.output, "  " + first + "\n"));

    ProgramRun last;
    for (int call = 0; call < 10; ++call) last = run_shell(hint + "softmax");
    INFO("after many calls:\n" << last.output);
    CHECK(contains(last.output, "that was the last hint"));

    ProgramRun reset = run_shell(hint + "--reset softmax");
    CHECK(reset.status == 0);
    ProgramRun again = run_shell(hint + "softmax");
    INFO("after the reset:\n" << again.output);
    CHECK(again.output.rfind("hint 1 of ", 0) == 0);

    ProgramRun unknown = run_shell(hint + "no_such_exercise");
    CHECK(unknown.status == 2);
    CHECK(unknown.output.rfind("error: ", 0) == 0);
    fs::remove_all(workspace);
  }

  TEST_CASE("exercise checkers: a usage error exits 2 with one error line") {
    fs::path program =
        fs::path(env_or("ATTN_EXERCISE_DIR", "build/exercises")) / "solution" / "softmax";
    REQUIRE(fs::exists(program));
    ProgramRun bad = run_shell("'" + program.string() + "' --no-such-flag");
    INFO(bad.output);
    CHECK(bad.status == 2);
    CHECK(bad.output.rfind("error: softmax: unexpected argument '--no-such-flag'", 0) == 0);
    CHECK(std::count(bad.output.begin(), bad.output.end(), '\n') == 1);
  }

  TEST_CASE("exercise softmax: solution, stub and named wrong answers") {
    check_exercise("softmax");
  }
  TEST_CASE("exercise softmax_backward: solution, stub and named wrong answers") {
    check_exercise("softmax_backward");
  }
  TEST_CASE("exercise dot_product_attention: solution, stub and named wrong answers") {
    check_exercise("dot_product_attention");
  }
  TEST_CASE("exercise masked_scaled_attention: solution, stub and named wrong answers") {
    check_exercise("masked_scaled_attention");
  }
  TEST_CASE("exercise causal_attention: solution, stub and named wrong answers") {
    check_exercise("causal_attention");
  }
  TEST_CASE("exercise split_merge_heads: solution, stub and named wrong answers") {
    check_exercise("split_merge_heads");
  }
  TEST_CASE("exercise multi_head_attention: solution, stub and named wrong answers") {
    check_exercise("multi_head_attention");
  }
  TEST_CASE("exercise kv_cache_step: solution, stub and named wrong answers") {
    check_exercise("kv_cache_step");
  }
  TEST_CASE("exercise layer_norm: solution, stub and named wrong answers") {
    check_exercise("layer_norm");
  }
  TEST_CASE("exercise matmul_backward: solution, stub and named wrong answers") {
    check_exercise("matmul_backward");
  }
  TEST_CASE("exercise cross_entropy_backward: solution, stub and named wrong answers") {
    check_exercise("cross_entropy_backward");
  }
  TEST_CASE("exercise positional_encoding: solution, stub and named wrong answers") {
    check_exercise("positional_encoding");
  }
  TEST_CASE("exercise rope: solution, stub and named wrong answers") {
    check_exercise("rope");
  }
  TEST_CASE("exercise embedding_backward: solution, stub and named wrong answers") {
    check_exercise("embedding_backward");
  }
  TEST_CASE("exercise bpe_merge_step: solution, stub and named wrong answers") {
    check_exercise("bpe_merge_step");
  }
  TEST_CASE("exercise lora_forward: solution, stub and named wrong answers") {
    check_exercise("lora_forward");
  }
  TEST_CASE("exercise greedy_step: solution, stub and named wrong answers") {
    check_exercise("greedy_step");
  }
  TEST_CASE("exercise repeat_kv: solution, stub and named wrong answers") {
    check_exercise("repeat_kv");
  }
  TEST_CASE("exercise rms_norm: solution, stub and named wrong answers") {
    check_exercise("rms_norm");
  }
  TEST_CASE("exercise swiglu: solution, stub and named wrong answers") {
    check_exercise("swiglu");
  }
  TEST_CASE("exercise top_p: solution, stub and named wrong answers") {
    check_exercise("top_p");
  }
  TEST_CASE("exercise fp16_round: solution, stub and named wrong answers") {
    check_exercise("fp16_round");
  }
}
