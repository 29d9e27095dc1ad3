// 26_bpe — How does BPE build a vocabulary?
//          BPE（字节对编码）是如何构建词表的？
//
// Short answer
//   Start from the 256 byte values, so any text (any bytes at all) can be written down. Then
//   repeat: count every pair of adjacent tokens in the training text, give the most frequent pair
//   a new id, and replace its occurrences (left to right, never overlapping) by that id. Each
//   merge is one new vocabulary entry; the list of merges, in order, is the tokenizer. Encoding new
//   text applies the merges in the order they were learned; decoding just concatenates each
//   token's bytes, so decode(encode(s)) == s for every s. A bigger vocabulary means fewer tokens
//   per text (common words become one token), at the price of a larger embedding table.
//
// What this program shows
//   1. training by hand on "aaabdaaabac": each merge and the sequence after it;
//   2. training on a real text (default /usr/share/common-licenses/GPL-3, --text FILE; its last
//      tenth is held out): the first merges with their counts, the library's merges checked
//      against a slow trainer written here that counts every pair again after each merge;
//   3. compression at several vocabulary sizes: bytes per token on the training part and on the
//      held-out part, and tokens per word; the small vocabularies are the first merges of the
//      large one (checked against training them directly);
//   4. round trips of arbitrary bytes: random bytes, NUL, invalid UTF-8, the whole text (checked);
//   5. the vocabulary file written, read back and encoding the same (checked), and the longest
//      tokens learned;
//   6. a picture: tokens per word and bytes per token against the vocabulary size.
//
// Run:  build/tutorials/26_bpe   (--text FILE, --max-bytes, --vocab, --sizes; --quick for CI)
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "llm/bpe.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/tutorial.hpp"

using llm::BPETokenizer;
using llm::escape_bytes;
using Ids = std::vector<std::int64_t>;

const tutorial::Question kQuestion{
    .program = "26_bpe",
    .chinese = "BPE（字节对编码）是如何构建词表的？",
    .english = "How does BPE build a vocabulary?",
    .answer = "Start from the 256 bytes (so any text can be encoded); repeatedly count adjacent token pairs\n"
              "in the training text, give the most frequent pair a new id and replace it everywhere (left\n"
              "to right, no overlaps). The merges, in order, are the vocabulary; encoding applies them in\n"
              "that order, decoding concatenates bytes. More merges: fewer tokens per word.",
    .article = "",
};

namespace {

// Used when the default text is not on this machine (it comes with Debian's base-files).
const char* kFallbackText =
    "A tokenizer turns text into numbers. Byte pair encoding starts from single bytes and learns "
    "which neighbours often stand together: the and the, in and ing, tion and ation. Each merge "
    "adds one token to the vocabulary. The more merges, the fewer tokens a text needs, and the "
    "longer the words that become a single token. The learned merges are applied in the same order "
    "to new text, and the bytes of the tokens, written one after the other, give the text back. ";

// The slow trainer, written out for checking: count every adjacent pair again after each merge
// (std::map orders pairs, so the first pair with the highest count is the smallest: the same tie
// rule as the library's), then replace its occurrences left to right. Returns the merges and how
// often each pair occurred when it was merged.
std::pair<std::vector<BPETokenizer::Merge>, std::vector<std::int64_t>> slow_train(const std::string& text,
                                                                                std::int64_t merges_wanted) {
  Ids ids;
  for (char c : text) ids.push_back(static_cast<unsigned char>(c));
  std::vector<BPETokenizer::Merge> merges;
  std::vector<std::int64_t> counts_at_merge;
  for (std::int64_t m = 0; m < merges_wanted; ++m) {
    std::map<BPETokenizer::Merge, std::int64_t> counts;
    for (std::size_t i = 0; i + 1 < ids.size(); ++i) ++counts[{ids[i], ids[i + 1]}];
    BPETokenizer::Merge best{-1, -1};
    std::int64_t best_count = 0;
    for (const auto& [pair, count] : counts)
      if (count > best_count) best = pair, best_count = count;
    if (best_count < 2) break;
    merges.push_back(best);
    counts_at_merge.push_back(best_count);
    Ids merged;
    for (std::size_t i = 0; i < ids.size();) {
      if (i + 1 < ids.size() && ids[i] == best.first && ids[i + 1] == best.second) {
        merged.push_back(256 + m);
        i += 2;
      } else {
        merged.push_back(ids[i++]);
      }
    }
    ids.swap(merged);
  }
  return {merges, counts_at_merge};
}

std::int64_t count_words(const std::string& text) {
  std::int64_t words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool blank = c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f';
    if (!blank && !in_word) ++words;
    in_word = !blank;
  }
  return words;
}

std::string show(const BPETokenizer& bpe, std::int64_t id) {
  return "\"" + escape_bytes(bpe.token_bytes(id), /*show_space=*/true) + "\"";
}

// `text` padded with spaces to `width` columns: printf's %-10s counts bytes, and '␣' is 3 bytes
// in UTF-8 but one column, so count the bytes that start a character instead.
std::string pad(const std::string& text, std::size_t width) {
  std::size_t columns = 0;
  for (char c : text) columns += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return text + std::string(columns < width ? width - columns : 0, ' ');
}

}  // namespace

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  const std::string default_text = "/usr/share/common-licenses/GPL-3";
  std::string text_path = default_text;
  std::int64_t vocab = 2048, show_merges = 20, checked_merges = 60;
  std::vector<std::int64_t> sizes = {256, 300, 400, 512, 768, 1024, 2048};
  flags.add_input_file("--text", text_path, "the text to train on (its last tenth is held out)");
  flags.add("--vocab", vocab, "the vocabulary size to train up to (256 bytes + merges)", tutorial::between(257, 65536));
  flags.add("--sizes", sizes, "vocabulary sizes to compare (each at most --vocab)", tutorial::between(256, 65536));
  flags.add("--show", show_merges, "how many of the first merges to print", tutorial::between(0, 1000));
  flags.add("--check-merges", checked_merges, "merges checked against the slow trainer", tutorial::between(0, 5000));
  // Training passes over the whole text once per merge: a 50 MB file would take hours. A longer
  // file is cut to its first --max-bytes (said so), and long trainings print their progress.
  std::int64_t max_bytes = std::int64_t(1) << 20;
  flags.add("--max-bytes", max_bytes, "use at most the first N bytes of --text (training time grows with it)",
            tutorial::between(20, std::int64_t(1) << 26));
  std::string save_dir;
  flags.add_output_folder("--save", save_dir,
                          "folder to write the training bytes, the merges and the held-out tokens into as .npy "
                          "(for the Python twin)");
  flags.parse(argc, argv);
  std::int64_t text_limit = 0;  // bytes of the text used (0: all)
  if (options.quick) {          // well under a second (flags given win)
    flags.quick(vocab, 320), flags.quick(show_merges, 8), flags.quick(checked_merges, 10);
    flags.quick(sizes, std::vector<std::int64_t>{256, 270, 290, 320});
    text_limit = 6000;
  }
  for (std::int64_t size : sizes)
    tutorial::Flags::require(size <= vocab, "--sizes " + std::to_string(size) + " is larger than --vocab " +
                                                std::to_string(vocab));
  tutorial::Checks checks;

  // ---- 1 ------------------------------------------------------------------------------------
  tutorial::section("1. By hand: \"aaabdaaabac\"");
  {
    const std::string tiny = "aaabdaaabac";
    const BPETokenizer bpe = BPETokenizer::train(tiny, 1000);
    Ids ids(tiny.begin(), tiny.end());
    auto sequence = [&](const Ids& tokens) {
      std::string out;
      for (std::int64_t id : tokens) out += (out.empty() ? "" : " ") + (id < 256 ? std::string(1, char(id)) : std::to_string(id));
      return out;
    };
    std::printf("  start (bytes):          %s\n", sequence(ids).c_str());
    for (std::size_t m = 0; m < bpe.merges().size(); ++m) {
      const auto [left, right] = bpe.merges()[m];
      ids = bpe.truncated(std::int64_t(m) + 1).encode(tiny);
      std::printf("  merge %zu: %s + %s -> %lld %s %s\n", m, pad(show(bpe, left), 4).c_str(),
                  pad(show(bpe, right), 4).c_str(), (long long)(256 + m), pad(show(bpe, 256 + m), 7).c_str(),
                  sequence(ids).c_str());
    }
    std::printf("  then every pair occurs once: training stops with %lld tokens\n", (long long)bpe.vocab_size());
    std::printf("  (merge 1: (a, b) and (256, a) both occur twice; the tie goes to the smaller pair, left id first)\n");
    checks.check(bpe.merges() == slow_train(tiny, 1000).first,
                 "the library's merges equal the slow trainer's (count all pairs again after each merge)");
    checks.check(bpe.decode(ids) == tiny, "decoding the final sequence gives \"aaabdaaabac\" back");
  }

  // ---- 2 ------------------------------------------------------------------------------------
  tutorial::section("2. Training on a real text");
  std::string text;
  std::string text_name = text_path;
  if (text_path == default_text && !std::filesystem::is_regular_file(default_text)) {
    text = "";
    for (int i = 0; i < 8; ++i) text += kFallbackText;
    text_name = "a paragraph built into this program (" + default_text + " is not on this machine)";
  } else {
    // Only the bytes that will be used are read: a huge file is cut, not loaded whole.
    std::error_code error;
    const std::uintmax_t file_bytes = std::filesystem::file_size(text_path, error);
    if (error) throw std::runtime_error("--text " + text_path + ": cannot read its size (" + error.message() + ")");
    const std::int64_t wanted = std::min<std::int64_t>(std::int64_t(file_bytes), max_bytes);
    std::ifstream in(text_path, std::ios::binary);
    text.resize(std::size_t(wanted));
    if (!in || !in.read(text.data(), wanted))
      throw std::runtime_error("--text " + text_path + ": cannot read the file");
    if (std::int64_t(file_bytes) > max_bytes)
      std::printf("  --text %s has %llu bytes: using the first %lld (--max-bytes; training time grows with it)\n",
                  text_path.c_str(), (unsigned long long)file_bytes, (long long)max_bytes);
  }
  if (text_limit > 0 && std::int64_t(text.size()) > text_limit) text.resize(text_limit);
  if (text.size() < 20) throw std::runtime_error("--text " + text_path + " has " + std::to_string(text.size()) +
                                                 " bytes; BPE needs a text to learn from (at least 20 bytes)");
  const std::size_t split = text.size() - text.size() / 10;
  const std::string train_text = text.substr(0, split), held_out = text.substr(split);
  std::printf("  %s: %zu bytes, %lld words; training on the first %zu bytes, the last %zu held out\n",
              text_name.c_str(), text.size(), (long long)count_words(text), train_text.size(), held_out.size());
  tutorial::Stopwatch watch;
  // A progress line every tenth of the merges when the training is long (merges x bytes large).
  const std::int64_t merges_wanted = vocab - 256;
  const bool long_training = double(merges_wanted) * double(train_text.size()) > 5e8;
  std::int64_t next_report = merges_wanted / 10;
  const BPETokenizer bpe = BPETokenizer::train(train_text, vocab, [&](std::int64_t done) {
    if (!long_training || done < next_report) return;
    next_report += std::max<std::int64_t>(1, merges_wanted / 10);
    const double seconds = watch.seconds();
    std::printf("  training: %lld of %lld merges, %.1f s, about %.0f s to go\n", (long long)done,
                (long long)merges_wanted, seconds, seconds * double(merges_wanted - done) / double(done));
    std::fflush(stdout);
  });
  const double train_seconds = watch.seconds();
  std::printf("  trained up to %lld tokens (%zu merges) in %.3f s\n", (long long)bpe.vocab_size(),
              bpe.merges().size(), train_seconds);
  if (bpe.vocab_size() < vocab)
    std::printf("  (stopped before %lld: no pair occurs twice any more)\n", (long long)vocab);
  if (long_training && checked_merges > 0)
    std::printf("  checking merges against the slow trainer (it counts the whole text again per merge)...\n");
  std::fflush(stdout);
  const auto [slow_merges, slow_counts] = slow_train(train_text, std::min<std::int64_t>(checked_merges, bpe.merges().size()));
  std::printf("  the first merges (the pair, how often it occurred when merged, the new token):\n");
  for (std::int64_t m = 0; m < std::min<std::int64_t>(show_merges, std::int64_t(slow_merges.size())); ++m) {
    const auto [left, right] = bpe.merges()[m];
    std::printf("  %4lld  %s + %s %6lld x  -> %lld %s\n", (long long)m, pad(show(bpe, left), 10).c_str(),
                pad(show(bpe, right), 10).c_str(), (long long)slow_counts[m], (long long)(256 + m),
                show(bpe, 256 + m).c_str());
  }
  checks.check(std::equal(slow_merges.begin(), slow_merges.end(), bpe.merges().begin()) &&
                   slow_merges.size() == std::min<std::size_t>(checked_merges, bpe.merges().size()),
               "the first " + std::to_string(slow_merges.size()) +
                   " merges equal the slow trainer's (which counts every pair again after each merge)");

  // ---- 3 ------------------------------------------------------------------------------------
  tutorial::section("3. Compression by vocabulary size");
  const std::int64_t held_out_words = std::max<std::int64_t>(1, count_words(held_out));
  std::printf("  %10s %12s %14s %12s %16s %14s\n", "vocab", "train tokens", "bytes/token", "held-out", "bytes/token",
              "tokens/word");
  std::vector<double> plot_sizes, plot_tokens_per_word, plot_bytes_per_token;
  double first_tpw = 0, last_tpw = 0, last_bpt = 0;
  std::int64_t first_size = 256, last_size = 256;
  for (std::int64_t size : sizes) {
    const std::int64_t merges = std::min<std::int64_t>(size - 256, bpe.merges().size());
    const BPETokenizer smaller = bpe.truncated(merges);
    const std::size_t train_tokens = smaller.encode(train_text).size();
    const std::size_t held_tokens = std::max<std::size_t>(1, smaller.encode(held_out).size());
    const double bytes_per_token = double(held_out.size()) / double(held_tokens);
    const double tokens_per_word = double(held_tokens) / double(held_out_words);
    std::printf("  %10lld %12zu %14.2f %12zu %16.2f %14.2f\n", (long long)smaller.vocab_size(), train_tokens,
                double(train_text.size()) / double(std::max<std::size_t>(1, train_tokens)), held_tokens, bytes_per_token,
                tokens_per_word);
    std::fflush(stdout);  // a row at a time: on a long text each takes a while
    plot_sizes.push_back(double(smaller.vocab_size()));
    plot_tokens_per_word.push_back(tokens_per_word);
    plot_bytes_per_token.push_back(bytes_per_token);
    if (plot_sizes.size() == 1) first_tpw = tokens_per_word, first_size = smaller.vocab_size();
    last_tpw = tokens_per_word, last_bpt = bytes_per_token, last_size = smaller.vocab_size();
  }
  std::printf("  (bytes/token on the held-out tenth is the honest number: the merges never saw it)\n");
  {
    // Training is greedy: the first k merges of the big vocabulary are what training to 256 + k
    // gives directly.
    const std::int64_t k = std::min<std::int64_t>(40, bpe.merges().size());
    checks.check(bpe.truncated(k).merges() == BPETokenizer::train(train_text, 256 + k).merges(),
                 "the first " + std::to_string(k) + " merges of the large vocabulary = training to " +
                     std::to_string(256 + k) + " directly");
    const BPETokenizer bytes_only = bpe.truncated(0);
    checks.check(bytes_only.encode(held_out).size() == held_out.size(),
                 "with no merges, one token per byte");
  }

  // ---- 4 ------------------------------------------------------------------------------------
  tutorial::section("4. Any bytes survive the round trip");
  {
    std::mt19937_64 rng(options.seed);
    std::vector<std::pair<std::string, std::string>> samples = {
        {"the whole text", text},
        {"NUL bytes", std::string(5, '\0') + std::string("a\0b", 3) + std::string(3, '\0')},
        {"invalid UTF-8", std::string("\xff\xfe\xc3\x28 \xa0\xa1 \xe2\x28\xa1 \xf0\x28\x8c\xbc")},
        {"valid UTF-8 (Chinese)", "字节对编码 byte pair encoding"},
        {"empty", ""},
    };
    std::string random_bytes;
    for (int i = 0; i < 2000; ++i) random_bytes += char(rng() % 256);
    samples.push_back({"2000 random bytes", random_bytes});
    bool all = true;
    for (const auto& [name, sample] : samples) {
      const Ids ids = bpe.encode(sample);
      const bool same = bpe.decode(ids) == sample;
      all = all && same;
      std::printf("  %-24s %6zu bytes -> %6zu tokens -> %s\n", name.c_str(), sample.size(), ids.size(),
                  same ? "the same bytes" : "DIFFERENT bytes");
    }
    checks.check(all, "decode(encode(s)) == s for every sample, byte for byte");
  }

  // ---- 5 ------------------------------------------------------------------------------------
  tutorial::section("5. The vocabulary file");
  const std::string vocab_path = tutorial::output_path(options, "vocab.bpe");
  bpe.save(vocab_path);
  {
    std::ifstream in(vocab_path);
    std::string line;
    std::printf("  %s starts:\n", vocab_path.c_str());
    for (int i = 0; i < 5 && std::getline(in, line); ++i) std::printf("    %s\n", line.c_str());
  }
  const BPETokenizer loaded = BPETokenizer::load(vocab_path);
  checks.check(loaded.merges() == bpe.merges() && loaded.encode(held_out) == bpe.encode(held_out),
               "read back: the same merges, the same tokens for the held-out text");
  std::vector<std::int64_t> by_length;
  for (std::int64_t id = 256; id < bpe.vocab_size(); ++id) by_length.push_back(id);
  std::stable_sort(by_length.begin(), by_length.end(), [&](std::int64_t a, std::int64_t b) {
    return bpe.token_bytes(a).size() > bpe.token_bytes(b).size();
  });
  std::printf("  the longest tokens:");
  for (std::size_t i = 0; i < std::min<std::size_t>(8, by_length.size()); ++i)
    std::printf(" %s", show(bpe, by_length[i]).c_str());
  std::printf("\n");

  {
    // For the Python twin: it trains on the same bytes and must learn the same merges, then
    // encodes the held-out bytes into the same ids.
    auto bytes_of = [](const std::string& s) {
      Ids bytes;
      for (char c : s) bytes.push_back(static_cast<unsigned char>(c));
      return autograd::from_vector(bytes, {std::int64_t(bytes.size())});
    };
    Ids merge_ids;
    for (const auto& [left, right] : bpe.merges()) merge_ids.push_back(left), merge_ids.push_back(right);
    const Ids held_out_ids = bpe.encode(held_out);
    tutorial::save_npy_files(save_dir, {
        {"train_bytes", bytes_of(train_text)},
        {"vocab_size", autograd::from_vector(Ids{vocab}, {1})},  // asked for; training may stop sooner
        {"merges", autograd::from_vector(merge_ids, {std::int64_t(bpe.merges().size()), 2})},  // [M, 2]
        {"held_out_bytes", bytes_of(held_out)},
        {"held_out_ids", autograd::from_vector(held_out_ids, {std::int64_t(held_out_ids.size())})},
    });
  }

  // ---- 6 ------------------------------------------------------------------------------------
  tutorial::section("6. Picture");
  viz::LinePlot plot("Held-out text: tokens per word, bytes per token");
  plot.set_x_label("vocabulary size (256 bytes + merges)").set_y_label("held-out");
  plot.set_markers(viz::MarkerMode::always);
  plot.add_series("tokens per word", plot_sizes, plot_tokens_per_word);
  plot.add_series("bytes per token", plot_sizes, plot_bytes_per_token);
  tutorial::save_picture(plot, options, "bpe_tokens_per_word.png",
                         "tokens per word falls fast with the first merges (common pieces like \"e␣\", \"the\"), "
                         "then slower: each extra merge helps fewer words");

  char answer[1200];
  std::snprintf(answer, sizeof answer,
                "Start from 256 byte tokens; repeatedly merge the most frequent adjacent pair (ties: the smallest\n"
                "pair) into a new token. On %zu bytes of training text, %zu merges took %.3f s; on held-out text a\n"
                "word took %.2f tokens with a vocabulary of %lld and %.2f with %lld (%.2f bytes per token).\n"
                "Encoding applies the merges in the order learned; decoding concatenates bytes, so every byte\n"
                "string came back exactly (random bytes, NUL, invalid UTF-8 included).",
                train_text.size(), bpe.merges().size(), train_seconds, first_tpw, (long long)first_size, last_tpw,
                (long long)last_size,
                last_bpt);
  tutorial::print_answer(kQuestion, answer);
  return checks.finish();
} catch (...) {
  return tutorial::report_error();
}
