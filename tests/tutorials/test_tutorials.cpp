// Every tutorial program runs with --quick and exits 0 (each one checks its own results and
// exits non-zero when a check fails), and answers --help.
#include <doctest/doctest.h>

#include "tensor/safetensors.hpp"
#include "tests/programs.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>
#include <sys/wait.h>

namespace fs = std::filesystem;

namespace {

using testing::env_or;

// Runs a shell command with its output in `log`; returns the exit status.
int run(const std::string& command, const fs::path& log) {
  int status = std::system((command + " > '" + log.string() + "' 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string tail(const fs::path& file, std::size_t max_chars = 3000) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  return s.size() > max_chars ? "..." + s.substr(s.size() - max_chars) : s;
}

// Names of the tutorial sources: tutorials/NN_name.cpp -> NN_name.
std::set<std::string> tutorial_names(const fs::path& source_dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(source_dir / "tutorials"))
    if (entry.path().extension() == ".cpp") names.insert(entry.path().stem().string());
  return names;
}

}  // namespace

TEST_SUITE("tutorials") {
  TEST_CASE("every tutorial runs with --quick, checks itself and exits 0; --help works") {
    fs::path binaries = env_or("ATTN_TUTORIAL_DIR", "build/tutorials");
    fs::path sources = env_or("ATTN_SOURCE_DIR", ".");
    std::set<std::string> names = tutorial_names(sources);
    REQUIRE_MESSAGE(!names.empty(), "no tutorials found under " << (sources / "tutorials"));
    // ATTN_TUTORIALS="12_train_transformer 24_tiny_llm ...": only these (the sanitizer run
    // builds a few); each must be one of the sources.
    if (const std::string only = env_or("ATTN_TUTORIALS", ""); !only.empty()) {
      std::set<std::string> chosen;
      std::istringstream words(only);
      for (std::string name; words >> name;) {
        REQUIRE_MESSAGE(names.count(name), "ATTN_TUTORIALS names " << name << ", which is not in "
                                                                   << (sources / "tutorials"));
        chosen.insert(name);
      }
      names = chosen;
    }
    fs::path work = fs::temp_directory_path() / ("attn_tutorials_" + std::to_string(::getpid()));
    fs::create_directories(work);
    std::vector<std::string> list(names.begin(), names.end());
    for (const std::string& name : list)
      REQUIRE_MESSAGE(fs::exists(binaries / name),
                      (binaries / name) << " is missing: build the tutorials first (make tutorials)");
    // Two at a time: a --quick run is short and partly serial, so the second core is otherwise
    // idle for much of it. Each outcome is checked afterwards, in order.
    struct QuickRun {
      int status = -1, help_status = -1;
    };
    std::vector<QuickRun> runs(list.size());
    testing::run_concurrently(list.size(), testing::test_jobs(2), [&](std::size_t i) {
      const std::string& name = list[i];
      std::string binary = "'" + (binaries / name).string() + "'";
      runs[i].status = run(binary + " --quick --out '" + (work / name).string() + "'",
                           work / (name + ".log"));
      runs[i].help_status = run(binary + " --help", work / (name + ".help"));
    });
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string& name = list[i];
      INFO("tutorial " << name);
      INFO("output of the run:\n" << tail(work / (name + ".log")));
      CHECK_MESSAGE(runs[i].status == 0, name << " --quick exited with status " << runs[i].status);
      CHECK(runs[i].help_status == 0);
    }
    fs::remove_all(work);
  }

  TEST_CASE("12_train_transformer --resume continues exactly like an uninterrupted run") {
    fs::path binary = fs::path(env_or("ATTN_TUTORIAL_DIR", "build/tutorials")) / "12_train_transformer";
    REQUIRE_MESSAGE(fs::exists(binary), binary << " is missing: build the tutorials first");
    fs::path work = fs::temp_directory_path() / ("attn_resume_" + std::to_string(::getpid()));
    fs::create_directories(work);
    std::string run_cmd = "'" + binary.string() + "' --quick --eval-every 100 --checkpoint-every 100 ";
    // One run of 20 steps, and one of 10 steps continued to 20 from its checkpoint.
    REQUIRE(run(run_cmd + "--steps 20 --out '" + (work / "straight").string() + "'", work / "a.log") == 0);
    REQUIRE(run(run_cmd + "--steps 10 --out '" + (work / "resumed").string() + "'", work / "b.log") == 0);
    int resumed = run(run_cmd + "--steps 20 --resume --out '" + (work / "resumed").string() + "'", work / "c.log");
    INFO(tail(work / "c.log"));
    REQUIRE(resumed == 0);
    auto metadata = [&](const char* dir) {
      return tensor::load_safetensors((work / dir / "checkpoint.safetensors").string()).metadata;
    };
    auto straight = metadata("straight"), continued = metadata("resumed");
    CHECK(straight.at("step") == "20");
    CHECK(continued.at("step") == "20");
    // Every per-step loss, written with 17 digits (nn::join_numbers), is identical.
    CHECK(straight.at("losses") == continued.at("losses"));
    CHECK(straight.at("data_offset") == continued.at("data_offset"));
    fs::remove_all(work);
  }
}
