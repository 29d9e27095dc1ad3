// Every tutorial program, given a bad value for any of its flags, fails cleanly: exit code 2, no
// signal, and one line on stderr "error: ..." naming the flag. The bad values are derived from
// what the program's own --help says each flag accepts (its range, its choices, an existing
// file), so a flag added tomorrow is tested too, and a flag whose --help shows no range fails
// here (every numeric flag must state one).
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/programs.hpp"

namespace fs = std::filesystem;

namespace {

using testing::env_or;
using testing::read_text;

struct Outcome {
  bool exited = false;  // false: ended by a signal (or could not run)
  int code = -1;
  std::string out, err;
};

// Runs `binary args` in `work` with stdout and stderr captured in files named `tag`.out/.err,
// under a time limit (a bad value that is accepted might start a long run).
Outcome run(const fs::path& binary, const std::string& args, const fs::path& work,
            const std::string& tag) {
  fs::path out = work / (tag + ".out"), err = work / (tag + ".err");
  std::string command = "cd '" + work.string() + "' && timeout -s KILL 60 '" +
                        fs::absolute(binary).string() + "' " + args + " > '" + out.string() +
                        "' 2> '" + err.string() + "' < /dev/null";
  int status = std::system(command.c_str());
  Outcome outcome;
  outcome.exited = WIFEXITED(status) && WEXITSTATUS(status) < 124;  // 124+: timeout or signal
  outcome.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  outcome.out = read_text(out);
  outcome.err = read_text(err);
  return outcome;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// One flag as --help describes it.
struct FlagSpec {
  std::string name;         // "--steps"
  std::string type;         // INT, UINT, FLOAT, TEXT
  bool has_range = false;
  double min = 0, max = 0;
  bool min_excluded = false;
  bool is_choice = false;
  bool is_file = false;
  bool is_switch = false;
};

std::vector<FlagSpec> flags_from_help(const std::string& help) {
  std::vector<FlagSpec> specs;
  // "  --steps INT:in [1, 1000000]=400", "  --lr FLOAT:in (0, 10]=0.0003",
  // "  --device TEXT:one of cpu, cuda, cuda-sim=cpu", "  --q TEXT:FILE", "  --quick"
  std::regex option(R"(^\s+(?:-\w,)?(--[A-Za-z0-9][A-Za-z0-9-]*)(?:\s+([A-Z]+)(\S*))?)");
  std::regex range(R"(:in ([\[(])([-+0-9.eE]+), ([-+0-9.eE]+)\])");
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, option)) continue;
    FlagSpec spec;
    spec.name = m[1];
    if (spec.name == "--help") continue;
    spec.type = m[2];
    spec.is_switch = spec.type.empty();
    std::smatch r;
    if (std::regex_search(line, r, range)) {
      spec.has_range = true;
      spec.min_excluded = r[1] == "(";
      spec.min = std::stod(r[2]);
      spec.max = std::stod(r[3]);
    }
    spec.is_choice = line.find(":one of ") != std::string::npos;
    spec.is_file = line.find(":FILE") != std::string::npos;
    specs.push_back(spec);
  }
  return specs;
}

std::string number_text(double x) {
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", x);
  return text;
}

// Values outside what the flag accepts: below its range, above it, not a number at all.
std::vector<std::string> bad_values(const FlagSpec& spec) {
  std::vector<std::string> values;
  if (spec.is_choice) return {"no-such-choice", "''"};
  if (spec.is_file) return {"/no/such/file.npy", "/"};
  if (!spec.has_range) return values;
  bool integer = spec.type == "INT" || spec.type == "UINT";
  values.push_back(number_text(spec.min_excluded ? spec.min : spec.min - 1));  // just below
  values.push_back(integer ? "-1" : "-1e300");
  values.push_back(number_text(spec.max * 10 + 1));                            // above
  values.push_back("1e30");
  values.push_back("abc");
  values.push_back("nan");
  if (integer) values.push_back("1.5");
  std::vector<std::string> outside;
  for (const std::string& v : values) {  // "-1" is inside [-5, 5]: keep only the values outside
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    bool numeric = *end == '\0' && std::isfinite(x);
    bool inside = numeric && (spec.min_excluded ? x > spec.min : x >= spec.min) && x <= spec.max &&
                  !(integer && x != std::floor(x));
    if (!inside) outside.push_back(v);
  }
  return outside;
}

std::set<std::string> tutorial_names(const fs::path& source_dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(source_dir / "tutorials"))
    if (entry.path().extension() == ".cpp") names.insert(entry.path().stem().string());
  return names;
}

// A clean usage error: exit 2 (not a signal, not an abort), one line "error: ..." naming `word`.
void check_usage_error(const Outcome& outcome, const std::string& what, const std::string& word) {
  INFO(what << "\nstderr: " << outcome.err << "\nstdout (tail): "
            << (outcome.out.size() > 600 ? outcome.out.substr(outcome.out.size() - 600)
                                         : outcome.out));
  CHECK_MESSAGE(outcome.exited, what << ": ended by a signal or ran past the time limit");
  CHECK_MESSAGE(outcome.code == 2, what << ": exit code " << outcome.code << ", expected 2");
  CHECK_MESSAGE(outcome.err.rfind("error: ", 0) == 0, what << ": stderr does not start with error:");
  CHECK_MESSAGE(std::count(outcome.err.begin(), outcome.err.end(), '\n') == 1,
                what << ": the error is not one line");
  CHECK_MESSAGE(outcome.err.find(word) != std::string::npos, what << ": the error does not name " << word);
}

}  // namespace

TEST_SUITE("tutorials") {
  TEST_CASE("every tutorial rejects a bad value of every flag: exit 2, one error line naming it") {
    fs::path binaries = env_or("ATTN_TUTORIAL_DIR", "build/tutorials");
    fs::path sources = env_or("ATTN_SOURCE_DIR", ".");
    std::set<std::string> name_set = tutorial_names(sources);
    std::vector<std::string> names(name_set.begin(), name_set.end());
    REQUIRE(!names.empty());
    for (const std::string& name : names)
      REQUIRE_MESSAGE(fs::exists(binaries / name),
                      (binaries / name) << " is missing: build the tutorials first");
    fs::path work = fs::temp_directory_path() / ("attn_bad_flags_" + std::to_string(::getpid()));
    fs::create_directories(work);
    std::ofstream(work / "a_file") << "not a folder";
    // The runs are independent, so they go several at a time; every outcome is checked after.
    const unsigned jobs = testing::test_jobs(4);

    // Each tutorial's --help says which flags it has and what each accepts.
    std::vector<Outcome> helps(names.size());
    testing::run_concurrently(names.size(), jobs, [&](std::size_t i) {
      helps[i] = run(binaries / names[i], "--help", work, "help_" + std::to_string(i));
    });

    struct BadRun {
      std::string name, args, what, word;  // word: what the error line must name
      Outcome outcome;
    };
    std::vector<BadRun> runs;
    for (std::size_t i = 0; i < names.size(); ++i) {
      const std::string& name = names[i];
      REQUIRE_MESSAGE(helps[i].code == 0, name << " --help failed");
      std::vector<FlagSpec> specs = flags_from_help(helps[i].out);
      CHECK_MESSAGE(specs.size() >= 4, name << ": --help lists too few flags:\n" << helps[i].out);
      for (const FlagSpec& spec : specs) {
        bool numeric = spec.type == "INT" || spec.type == "UINT" || spec.type == "FLOAT";
        CHECK_MESSAGE(!(numeric && !spec.has_range),
                      name << " " << spec.name << ": a numeric flag whose --help states no range");
        for (const std::string& value : bad_values(spec))
          runs.push_back({name, spec.name + " " + value, name + " " + spec.name + " " + value,
                          spec.name, {}});
        if (!spec.is_switch && !spec.is_file)  // the flag given with no value at all
          runs.push_back({name, spec.name, name + " " + spec.name + " (no value)", spec.name, {}});
      }
      runs.push_back({name, "--no-such-flag 3", name + " --no-such-flag 3", "--no-such-flag", {}});
      runs.push_back({name, "--out " + quoted((work / "a_file").string()), name + " --out <a file>",
                      "--out", {}});
    }
    testing::run_concurrently(runs.size(), jobs, [&](std::size_t i) {
      runs[i].outcome = run(binaries / runs[i].name, runs[i].args, work, "run_" + std::to_string(i));
    });
    for (const BadRun& bad : runs) check_usage_error(bad.outcome, bad.what, bad.word);
    MESSAGE(runs.size() << " runs with bad flags over " << names.size() << " tutorials, "
                        << jobs << " at a time");
    fs::remove_all(work);
  }
}
