// 12_train_transformer --resume with a damaged checkpoint: every missing, garbage or out-of-range
// key ends the program with exit 1 and one "error: ..." line naming the file and the key, never a
// crash or a run that starts from nonsense.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>

#include "tensor/factory.hpp"
#include "tensor/safetensors.hpp"
#include "tests/programs.hpp"

namespace fs = std::filesystem;
using testing::env_or;
using testing::read_text;

namespace {

// Runs a shell command; its stderr lands in `err`. Returns the exit status, or 128 + the signal.
int run_with_stderr_in(const std::string& command, const fs::path& err) {
  int status = std::system((command + " > /dev/null 2> '" + err.string() + "'").c_str());
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

}  // namespace

TEST_SUITE("tutorials") {
  TEST_CASE("12_train_transformer --resume refuses a damaged checkpoint, naming the file and key") {
    fs::path binary = fs::path(env_or("ATTN_TUTORIAL_DIR", "build/tutorials")) / "12_train_transformer";
    REQUIRE_MESSAGE(fs::exists(binary), binary << " is missing: build the tutorials first");
    fs::path work = fs::temp_directory_path() / ("attn_resume_checks_" + std::to_string(::getpid()));
    fs::remove_all(work);
    fs::create_directories(work);
    const std::string base = "'" + binary.string() + "' --quick --steps 6 --eval-every 100 --checkpoint-every 100 --out '" +
                             (work / "run").string() + "'";
    REQUIRE(run_with_stderr_in(base, work / "first.err") == 0);
    const fs::path checkpoint = work / "run" / "checkpoint.safetensors";
    const tensor::SafetensorsFile good = tensor::load_safetensors(checkpoint.string());
    REQUIRE(good.metadata.at("step") == "6");

    struct Damage {
      std::string what, key, value;  // value "" with erase: the key is removed
      bool erase = false;
    };
    const Damage damages[] = {
        {"a missing step", "step", "", true},
        {"a negative step", "step", "-5"},
        {"a step that is not a number", "step", "four"},
        {"a step beyond this run's --steps", "step", "400"},
        {"a generator offset below zero", "data_offset", "-1"},
        {"a generator offset with junk", "model_offset", "12x"},
        {"a NaN among the losses", "losses", "1.5,nan,1,1,1,1"},
        {"too few losses for the step", "losses", "1.5,1"},
        {"accuracy pairs cut in half", "accuracy", "4"},
        {"training time that is infinite", "seconds", "inf"},
    };
    for (const Damage& damage : damages) {
      CAPTURE(damage.what);
      tensor::SafetensorsFile file = good;
      if (damage.erase)
        file.metadata.erase(damage.key);
      else
        file.metadata[damage.key] = damage.value;
      tensor::save_safetensors(checkpoint.string(), file.tensors, file.metadata);
      fs::path err = work / "resume.err";
      int status = run_with_stderr_in(base + " --resume", err);
      std::string message = read_text(err);
      INFO("stderr: " << message);
      CHECK(status == 1);
      CHECK(message.rfind("error: ", 0) == 0);
      CHECK(message.find(checkpoint.string()) != std::string::npos);
      CHECK(message.find("metadata \"" + damage.key + "\"") != std::string::npos);
    }

    // An optimizer step count that no int64 holds (converting it used to be undefined behaviour).
    for (double steps : {std::numeric_limits<double>::quiet_NaN(), 1e300}) {
      CAPTURE(steps);
      tensor::SafetensorsFile file = good;
      for (auto& [name, array] : file.tensors)
        if (name == "optimizer.steps") array = tensor::scalar(steps, tensor::DType::Float64);
      tensor::save_safetensors(checkpoint.string(), file.tensors, file.metadata);
      fs::path err = work / "resume.err";
      int status = run_with_stderr_in(base + " --resume", err);
      std::string message = read_text(err);
      INFO("stderr: " << message);
      CHECK(status == 1);
      CHECK(message.find(checkpoint.string()) != std::string::npos);
      CHECK(message.find("'optimizer.steps' is ") != std::string::npos);
    }

    // The undamaged file still resumes.
    tensor::save_safetensors(checkpoint.string(), good.tensors, good.metadata);
    CHECK(run_with_stderr_in(base + " --resume", work / "resume.err") == 0);
    fs::remove_all(work);
  }
}
