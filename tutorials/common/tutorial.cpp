// tutorial.cpp — the one file of the tutorials that includes CLI11 (see tutorial.hpp).
#include "tutorials/common/tutorial.hpp"

#include <CLI/CLI.hpp>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <sstream>
#include <system_error>

#include "tensor/ops.hpp"

namespace fs = std::filesystem;

namespace tutorial {

// ---- the question --------------------------------------------------------------------------------

namespace {

void print_indented(const std::string& text, const char* indent) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) std::printf("%s%s\n", indent, line.c_str());
}

void print_question(const Question& q) {
  std::printf("%s\n", q.program.c_str());
  std::printf("  问题:     %s\n", q.chinese.c_str());
  std::printf("  Question: %s\n", q.english.c_str());
  if (!q.article.empty()) std::printf("  (from the interview article 《%s》)\n", q.article.c_str());
  std::printf("\nShort answer:\n");
  print_indented(q.answer, "  ");
}

}  // namespace

void print_answer(const Question& question, const std::string& answer) {
  std::printf("\n== Answer ==\n");
  std::printf("  Q: %s\n", question.english.c_str());
  print_indented(answer, "  ");
}

// ---- errors --------------------------------------------------------------------------------------

int report_error() {
  std::fflush(stdout);  // what the program printed so far comes before the error
  auto say = [](const std::string& message) {
    std::string one_line = message;
    std::replace(one_line.begin(), one_line.end(), '\n', ' ');
    std::fprintf(stderr, "error: %s\n", one_line.c_str());
  };
  try {
    throw;
  } catch (const UsageError& e) {
    say(e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    say("out of memory (try smaller sizes: --batch, --d-model, --len ...)");
    return 1;
  } catch (const std::exception& e) {
    say(e.what());
    return 1;
  } catch (...) {
    say("an unknown error");
    return 1;
  }
}

// ---- flags ---------------------------------------------------------------------------------------

namespace {

std::string format_number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", x);
  return text;
}

std::string describe(const Range& range) {
  return std::string(range.min_excluded ? "(" : "[") + format_number(range.min) + ", " +
         format_number(range.max) + "]";
}

// A CLI11 check that the text is a finite number in `range` (a whole number written in digits
// when `whole`). It runs before CLI11 converts the text to the variable's type.
CLI::Validator range_check(Range range, bool whole) {
  return CLI::Validator(
      [range, whole](std::string& text) -> std::string {
        char* end = nullptr;
        double x = std::strtod(text.c_str(), &end);
        if (text.empty() || end == text.c_str() || *end != '\0')
          return "'" + text + "' is not a number";
        if (whole && text.find_first_not_of("+-0123456789") != std::string::npos)
          return "'" + text + "' is not a whole number written in digits";
        bool inside = std::isfinite(x) && (range.min_excluded ? x > range.min : x >= range.min) &&
                      x <= range.max;
        if (!inside) return text + " is not in " + describe(range);
        return "";
      },
      "in " + describe(range));
}

int thread_cap() { return std::max(8, 4 * omp_get_num_procs()); }

// Makes `folder` (and its parents) and checks that a file can be written into it.
void check_writable_folder(const std::string& flag, const std::string& folder) {
  if (folder.empty()) throw UsageError(flag + ": the folder name is empty");
  std::error_code error;
  if (fs::exists(folder) && !fs::is_directory(folder))
    throw UsageError(flag + " " + folder + ": is a file, not a folder");
  fs::create_directories(folder, error);
  if (error || !fs::is_directory(folder))
    throw UsageError(flag + " " + folder + ": cannot create the folder" +
                     (error ? " (" + error.message() + ")" : " (a file of that name exists)"));
  fs::path probe = fs::path(folder) / (".write-test." + std::to_string(::getpid()));
  bool written = static_cast<bool>(std::ofstream(probe) << "x");
  fs::remove(probe, error);
  if (!written) throw UsageError(flag + " " + folder + ": the folder is not writable");
}

}  // namespace

struct Flags::Impl {
  CLI::App app;
  std::map<const void*, CLI::Option*> by_variable;  // to answer given(&variable)
  std::vector<std::pair<std::string, std::string*>> output_folders;  // (flag, folder)

  explicit Impl(const std::string& description, const std::string& name) : app(description, name) {}
  CLI::Option* remember(const void* variable, CLI::Option* option) {
    by_variable[variable] = option;
    return option;
  }
};

Flags::Flags(const Question& question, bool with_device)
    : impl_(std::make_unique<Impl>(question.english, question.program)), question_(question) {
  options.out = "out/" + question.program;
  CLI::App& app = impl_->app;
  app.footer("Answers: " + question.english);
  impl_->remember(&options.seed, app.add_option("--seed", options.seed, "random seed")
                                     ->check(range_check(between(0, 9007199254740992.0), /*whole=*/true))
                                     ->capture_default_str());
  add_output_folder("--out", options.out, "folder for pictures and files");
  add_switch("--quick", options.quick, "a short run (a few seconds), as CI does");
  add("--threads", options.threads, "CPU threads (0 = one per core)",
      between(0, thread_cap()));
  if (with_device) add("--device", options.device, "where to run", {"cpu", "cuda", "cuda-sim"});
}

Flags::~Flags() = default;

void Flags::add(const std::string& name, std::int64_t& value, const std::string& help,
                Range range) {
  impl_->remember(&value, impl_->app.add_option(name, value, help)
                              ->check(range_check(range, /*whole=*/true))
                              ->capture_default_str());
}

void Flags::add(const std::string& name, int& value, const std::string& help, Range range) {
  impl_->remember(&value, impl_->app.add_option(name, value, help)
                              ->check(range_check(range, /*whole=*/true))
                              ->capture_default_str());
}

void Flags::add(const std::string& name, double& value, const std::string& help, Range range) {
  impl_->remember(&value, impl_->app.add_option(name, value, help)
                              ->check(range_check(range, /*whole=*/false))
                              ->capture_default_str());
}

void Flags::add(const std::string& name, std::vector<std::int64_t>& values,
                const std::string& help, Range range) {
  impl_->remember(&values, impl_->app.add_option(name, values, help)
                               ->delimiter(',')
                               ->check(range_check(range, /*whole=*/true))
                               ->capture_default_str());
}

void Flags::add(const std::string& name, std::string& value, const std::string& help,
                const std::vector<std::string>& choices) {
  std::string listed;
  for (const std::string& choice : choices) listed += (listed.empty() ? "" : ", ") + choice;
  CLI::Validator one_of(
      [choices, listed](std::string& text) -> std::string {
        if (std::find(choices.begin(), choices.end(), text) != choices.end()) return "";
        return "'" + text + "' is not one of " + listed;
      },
      "one of " + listed);
  impl_->remember(&value,
                  impl_->app.add_option(name, value, help)->check(one_of)->capture_default_str());
}

void Flags::add_text(const std::string& name, std::string& value, const std::string& help) {
  impl_->remember(&value, impl_->app.add_option(name, value, help)->capture_default_str());
}

void Flags::add_input_file(const std::string& name, std::string& value, const std::string& help) {
  CLI::Validator existing_file(
      [](std::string& path) -> std::string {
        if (fs::is_directory(path)) return path + " is a folder, not a file";
        if (!fs::is_regular_file(path)) return "no file " + path;
        return "";
      },
      "FILE");
  impl_->remember(&value, impl_->app.add_option(name, value, help)->check(existing_file));
}

void Flags::add_output_folder(const std::string& name, std::string& value,
                              const std::string& help) {
  impl_->remember(&value, impl_->app.add_option(name, value, help)->capture_default_str());
  impl_->output_folders.emplace_back(name, &value);
}

void Flags::add_switch(const std::string& name, bool& value, const std::string& help) {
  impl_->remember(&value, impl_->app.add_flag(name, value, help));
}

void Flags::parse(int argc, char** argv) {
  CLI::App& app = impl_->app;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    std::exit(0);
  } catch (const CLI::CallForAllHelp&) {
    std::printf("%s", app.help("", CLI::AppFormatMode::All).c_str());
    std::exit(0);
  } catch (const CLI::ParseError& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
  for (auto& [flag, folder] : impl_->output_folders)
    if (!folder->empty() || given(folder)) check_writable_folder(flag, *folder);  // "" = none
  if (options.threads > 0) omp_set_num_threads(options.threads);
  print_question(question_);
}

bool Flags::given(const void* value) const {
  auto found = impl_->by_variable.find(value);
  if (found == impl_->by_variable.end())
    throw std::logic_error("Flags::given: no flag is bound to that variable");
  return found->second->count() > 0;
}

void Flags::require(bool holds, const std::string& message) {
  if (!holds) throw UsageError(message);
}

// ---- output --------------------------------------------------------------------------------------

void section(const std::string& title) { std::printf("\n== %s ==\n", title.c_str()); }

std::string output_path(const Options& options, const std::string& name) {
  return (fs::path(options.out) / name).string();
}

void announce_file(const std::string& path, const std::string& look_for) {
  std::printf("  wrote %s\n", path.c_str());
  if (!look_for.empty()) std::printf("        look for: %s\n", look_for.c_str());
}

// ---- checks --------------------------------------------------------------------------------------

double max_abs_diff(const autograd::Tensor& a, const autograd::Tensor& b) {
  if (a.shape() != b.shape())
    throw std::invalid_argument("max_abs_diff: shapes " + tensor::shape_str(a.shape()) + " and " +
                                tensor::shape_str(b.shape()) + " differ");
  auto on_cpu = [](const autograd::Tensor& t) {
    return t.data().to(tensor::kCPU).to(tensor::DType::Float64);
  };
  return tensor::max_abs_diff(on_cpu(a), on_cpu(b));
}

bool Checks::check(bool passed, const std::string& what) {
  std::printf("  [%s] %s\n", passed ? "ok" : "FAILED", what.c_str());
  (passed ? passed_ : failures_)++;
  return passed;
}

bool Checks::close(double got, double expected, double tolerance, const std::string& what) {
  bool passed = std::fabs(got - expected) <= tolerance;
  char detail[160];
  std::snprintf(detail, sizeof detail, " (got %.10g, expected %.10g, tolerance %.1e)", got,
                expected, tolerance);
  return check(passed, what + detail);
}

bool Checks::small(double max_diff, double tolerance, const std::string& what) {
  bool passed = max_diff <= tolerance;  // false for NaN
  char detail[96];
  std::snprintf(detail, sizeof detail, " (max |diff| %.2g %s tol %.0e)", max_diff,
                passed ? "<=" : ">", tolerance);
  return check(passed, what + detail);
}

bool Checks::same(const autograd::Tensor& got, const autograd::Tensor& expected,
                  double tolerance, const std::string& what) {
  return small(max_abs_diff(got, expected), tolerance, what);
}

int Checks::finish() const {
  std::printf("\n%d checks passed, %d failed\n", passed_, failures_);
  return failures_ == 0 ? 0 : 1;
}

}  // namespace tutorial
