// 26_bpe and 27_lora run as a hostile user would run them: a --text far longer than training can
// take is cut to --max-bytes (said so) instead of running for hours, and a large learning rate
// (big weights, big logits) does not make the merge/unmerge self-checks fail on float rounding.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "tests/helpers.hpp"
#include "tests/programs.hpp"

namespace {

struct ProgramRun {
  int status = -1;  // the exit code, or 128 + the signal
  std::string out, err;
};

// Runs build/tutorials/<program> with `args`, stdout and stderr captured in `dir`.
ProgramRun run_tutorial_program(const std::string& program, const std::string& args,
                                const testing::TempDir& dir) {
  const std::string binary =
      (std::filesystem::path(testing::env_or("ATTN_TUTORIAL_DIR", "build/tutorials")) / program).string();
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  const int status =
      std::system(("'" + binary + "' " + args + " > '" + out + "' 2> '" + err + "' < /dev/null").c_str());
  ProgramRun run;
  run.status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WIFEXITED(status) ? WEXITSTATUS(status) : 255;
  run.out = testing::read_bytes(out);
  run.err = testing::read_bytes(err);
  return run;
}

}  // namespace

TEST_CASE("26_bpe: a --text longer than --max-bytes is cut to its first bytes, and says so") {
  testing::TempDir dir("bpe_long_text");
  std::mt19937_64 rng(26);
  std::string text;
  const std::string letters = "abcde \n";
  for (int i = 0; i < 300000; ++i) text += letters[rng() % letters.size()];
  const std::string path = dir.file("long.txt");
  std::ofstream(path, std::ios::binary) << text;
  const ProgramRun run = run_tutorial_program(
      "26_bpe",
      "--text '" + path + "' --max-bytes 3000 --vocab 290 --sizes 256,290 --check-merges 5 --show 2 --out '" +
          dir.file("out") + "'",
      dir);
  INFO(run.out, run.err);
  CHECK(run.status == 0);
  CHECK(run.out.find("has 300000 bytes: using the first 3000 (--max-bytes") != std::string::npos);
  CHECK(run.out.find("training on the first 2700 bytes, the last 300 held out") != std::string::npos);
  // And the limit is a checked flag.
  const ProgramRun bad = run_tutorial_program("26_bpe", "--quick --max-bytes 19", dir);
  CHECK(bad.status == 2);
  CHECK(bad.err.find("error: --max-bytes") != std::string::npos);
}

TEST_CASE("27_lora: a large learning rate does not fail the merge/unmerge checks on float rounding") {
  // --lr 10 and --lora-lr 10 give logits in the hundreds and merged weights in the thousands:
  // merged and unmerged outputs then differ by float32 rounding far above a fixed 1e-4.
  testing::TempDir dir("lora_large_lr");
  const ProgramRun run =
      run_tutorial_program("27_lora", "--quick --lr 10 --lora-lr 10 --out '" + dir.file("out") + "'", dir);
  INFO(run.out, run.err);
  CHECK(run.status == 0);
  CHECK(run.out.find("[ok] unmerge gives the pretrained W back") != std::string::npos);
  CHECK(run.out.find("[ok] r=2: logits with B·A merged into W") != std::string::npos);
}
