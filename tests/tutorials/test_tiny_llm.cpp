// 24_tiny_llm on a text this test writes: --resume continues exactly like an uninterrupted run
// (same losses, same weights and optimizer state), --generate loads the checkpoint and writes
// only characters of the text, and every unusable --text file or prompt ends the program with
// one "error: ..." line naming it (exit 1 at run time, 2 for a flag's value), never a crash.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "tensor/safetensors.hpp"
#include "tests/helpers.hpp"
#include "tests/programs.hpp"

namespace fs = std::filesystem;

namespace {

fs::path tiny_llm_binary() {
  return fs::path(testing::env_or("ATTN_TUTORIAL_DIR", "build/tutorials")) / "24_tiny_llm";
}

struct Run {
  int status = -1;  // the exit code, or 128 + the signal
  std::string out, err;
};

// Runs the tutorial with `args`, stdout and stderr captured in `dir`.
Run run_tiny_llm(const std::string& args, const testing::TempDir& dir) {
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  int status = std::system(("'" + tiny_llm_binary().string() + "' " + args + " > '" + out + "' 2> '" + err +
                            "' < /dev/null").c_str());
  Run run;
  run.status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WIFEXITED(status) ? WEXITSTATUS(status) : 255;
  run.out = testing::read_bytes(out);
  run.err = testing::read_bytes(err);
  return run;
}

// A short English text (about 900 characters), lower case and punctuation only: no 'Z', no '#'.
const char* const kText =
    "the quick brown fox jumps over the lazy dog. a small model reads this text one character at a\n"
    "time and learns which letter comes next. the dog sleeps in the sun and the fox runs in the\n"
    "field. every word here is short, and most of them come back again and again, so that even a\n"
    "tiny model can learn some of them in a few steps. the fox and the dog are friends; the sun is\n"
    "warm, the field is green, and the text goes on a little longer so that a part of it can be\n"
    "held out and never trained on. the model is tested on that part. it must not have seen it.\n"
    "the quick brown fox jumps over the lazy dog again, and the dog wakes up and runs after it.\n"
    "they run across the field, past the river and the old tree, until the sun goes down and the\n"
    "two of them rest in the grass. then the story starts over, as stories for models often do.\n";

std::string write_text(const testing::TempDir& dir, const std::string& name, const std::string& bytes) {
  std::ofstream(dir.file(name), std::ios::binary) << bytes;
  return dir.file(name);
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// A clean failure: the exit code, one line "error: ..." on stderr that names `word`.
void check_error(const Run& run, int code, const std::string& word) {
  INFO("stderr: " << run.err);
  CHECK(run.status == code);
  CHECK(run.err.rfind("error: ", 0) == 0);
  CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
  CHECK(run.err.find(word) != std::string::npos);
}

}  // namespace

TEST_SUITE("tutorials") {
  TEST_CASE("24_tiny_llm --resume continues exactly like an uninterrupted run; --generate writes from the checkpoint") {
    REQUIRE_MESSAGE(fs::exists(tiny_llm_binary()), tiny_llm_binary() << " is missing: build the tutorials first");
    testing::TempDir dir("tiny_llm");
    const std::string text = write_text(dir, "story.txt", kText);
    const std::string common = "--quick --steps 12 --eval-every 4 --text " + quoted(text);
    const std::string straight = dir.file("straight"), resumed = dir.file("resumed");

    Run whole = run_tiny_llm(common + " --out " + quoted(straight), dir);
    INFO("stdout: " << whole.out.substr(whole.out.size() > 3000 ? whole.out.size() - 3000 : 0));
    REQUIRE(whole.status == 0);
    Run first = run_tiny_llm(common + " --stop-after 4 --out " + quoted(resumed), dir);
    REQUIRE(first.status == 0);
    CHECK(tensor::load_safetensors(resumed + "/checkpoint.safetensors").metadata.at("step") == "4");
    Run second = run_tiny_llm(common + " --resume --out " + quoted(resumed), dir);
    INFO("resumed stdout: " << second.out.substr(second.out.size() > 3000 ? second.out.size() - 3000 : 0));
    REQUIRE(second.status == 0);
    CHECK(second.out.find("at step 4") != std::string::npos);

    // The uninterrupted run and the interrupted-then-resumed one end with the same checkpoint:
    // the same losses at every step, the same weights and optimizer state, bit for bit.
    tensor::SafetensorsFile a = tensor::load_safetensors(straight + "/checkpoint.safetensors");
    tensor::SafetensorsFile b = tensor::load_safetensors(resumed + "/checkpoint.safetensors");
    for (const char* key : {"step", "losses", "evals", "data_offset", "vocabulary", "held_out_loss"}) {
      CAPTURE(key);
      CHECK(a.metadata.at(key) == b.metadata.at(key));
    }
    CHECK(a.metadata.at("step") == "12");
    REQUIRE(a.tensors.size() == b.tensors.size());
    for (std::size_t i = 0; i < a.tensors.size(); ++i) {
      CAPTURE(a.tensors[i].first);
      CHECK(a.tensors[i].first == b.tensors[i].first);
      CHECK(testing::values(a.tensors[i].second) == testing::values(b.tensors[i].second));
    }

    // --generate: the prompt, then exactly --tokens characters, all from the text; the same seed
    // writes the same characters again.
    const std::string prompt = "the fox ";
    const std::string generate = "--generate " + quoted(prompt) + " --tokens 30 --out " + quoted(straight);
    Run written = run_tiny_llm(generate + " --seed 3", dir);
    INFO("generate stdout: " << written.out);
    REQUIRE(written.status == 0);
    const std::string rule(80, '-');
    std::size_t begin = written.out.find(rule + "\n");
    REQUIRE(begin != std::string::npos);
    begin += rule.size() + 1;
    std::size_t end = written.out.find("\n" + rule, begin);
    REQUIRE(end != std::string::npos);
    const std::string sample = written.out.substr(begin, end - begin);
    CHECK(sample.size() == prompt.size() + 30);  // the text is ASCII: one byte per character
    CHECK(sample.rfind(prompt, 0) == 0);
    const std::set<char> characters(kText, kText + std::string(kText).size());
    for (char c : sample) CHECK_MESSAGE(characters.count(c) == 1, "a character not in the text: " << int(c));
    CHECK(run_tiny_llm(generate + " --seed 3", dir).out == written.out);

    // A prompt with characters the text never had, an empty prompt, --generate with --resume.
    check_error(run_tiny_llm("--generate 'Zebra #1' --out " + quoted(straight), dir), 2, "'Z'");
    check_error(run_tiny_llm("--generate '' --out " + quoted(straight), dir), 2, "--generate");
    check_error(run_tiny_llm("--generate 'the' --resume --out " + quoted(straight), dir), 2, "--resume");
    // No checkpoint: --generate and --resume name the file they looked for.
    const std::string empty_out = dir.file("nothing_here");
    check_error(run_tiny_llm("--generate 'the' --out " + quoted(empty_out), dir), 2, "checkpoint.safetensors");
    check_error(run_tiny_llm(common + " --resume --out " + quoted(empty_out), dir), 2, "checkpoint.safetensors");
    // A checkpoint whose shape or vocabulary is damaged: --generate names the file and the key.
    const std::string checkpoint = straight + "/checkpoint.safetensors";
    const tensor::SafetensorsFile good = tensor::load_safetensors(checkpoint);
    struct Damage {
      std::string key, value;
    };
    for (const Damage& damage : {Damage{"heads", "3"}, Damage{"d_model", "99999"}, Damage{"context", "x"},
                                 Damage{"vocabulary", "ba"}, Damage{"vocabulary", ""}, Damage{"dropout", "nan"},
                                 Damage{"kv_heads", "3"}, Damage{"position", "alibi"}, Damage{"norm", ""},
                                 Damage{"mlp", "relu"}, Damage{"rope_base", "-1"}}) {
      CAPTURE(damage.key);
      CAPTURE(damage.value);
      tensor::SafetensorsFile file = good;
      file.metadata[damage.key] = damage.value;
      tensor::save_safetensors(checkpoint, file.tensors, file.metadata);
      Run damaged = run_tiny_llm("--generate 'the' --out " + quoted(straight), dir);
      check_error(damaged, 1, "metadata \"" + damage.key + "\"");
      CHECK(damaged.err.find(checkpoint) != std::string::npos);
    }
    tensor::save_safetensors(checkpoint, good.tensors, good.metadata);
    CHECK(run_tiny_llm(generate + " --seed 3", dir).out == written.out);

    // Resuming on another text (another vocabulary) is refused, naming the key.
    const std::string other = write_text(dir, "other.txt", std::string(kText) + "ZZZ ### more\n");
    check_error(run_tiny_llm("--quick --steps 12 --text " + quoted(other) + " --resume --out " + quoted(resumed), dir),
                1, "vocabulary");
  }

  TEST_CASE("24_tiny_llm refuses an unusable --text file with one error line naming it") {
    REQUIRE_MESSAGE(fs::exists(tiny_llm_binary()), tiny_llm_binary() << " is missing: build the tutorials first");
    testing::TempDir dir("tiny_llm_text");
    const std::string out = " --quick --out " + quoted(dir.file("out"));

    const std::string empty = write_text(dir, "empty.txt", "");
    check_error(run_tiny_llm("--text " + quoted(empty) + out, dir), 1, empty);

    std::string garbage;  // bytes of a binary file: every byte value, NUL included
    for (int i = 0; i < 4096; ++i) garbage += char((i * 7919 + 13) % 256);
    const std::string binary = write_text(dir, "binary.bin", garbage);
    check_error(run_tiny_llm("--text " + quoted(binary) + out, dir), 1, binary);

    const std::string latin1 = write_text(dir, "latin1.txt", std::string(kText) + "caf\xe9 au lait\n");
    Run not_utf8 = run_tiny_llm("--text " + quoted(latin1) + out, dir);
    check_error(not_utf8, 1, latin1);
    CHECK(not_utf8.err.find("UTF-8") != std::string::npos);

    const std::string control = write_text(dir, "control.txt", std::string(kText) + "bell\x07\n");
    check_error(run_tiny_llm("--text " + quoted(control) + out, dir), 1, control);

    const std::string short_text = write_text(dir, "short.txt", "hello world\n");
    check_error(run_tiny_llm("--text " + quoted(short_text) + out, dir), 1, short_text);

    if (::geteuid() == 0) {
      MESSAGE("running as root: a file without read permission is still readable, not tested");
    } else {
      const std::string locked = write_text(dir, "locked.txt", kText);
      ::chmod(locked.c_str(), 0);
      check_error(run_tiny_llm("--text " + quoted(locked) + out, dir), 1, locked);
    }

    // Not a file at all: a usage error, found when the flags are parsed.
    check_error(run_tiny_llm("--text " + quoted(dir.file("missing.txt")) + out, dir), 2, "--text");
    check_error(run_tiny_llm("--text " + quoted(dir.path.string()) + out, dir), 2, "--text");

    // The text itself is fine: the same run with it works (so the failures above are the files').
    const std::string good = write_text(dir, "good.txt", kText);
    CHECK(run_tiny_llm("--text " + quoted(good) + out, dir).status == 0);
  }
}
