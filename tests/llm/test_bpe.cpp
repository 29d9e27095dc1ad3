// The byte-level BPE tokenizer (llm/bpe.hpp): merges worked out by hand on small texts (ties and
// overlapping pairs included), training and encoding against slow reference versions written here
// (count every pair again after each merge; apply the merges one rank at a time), byte-exact round
// trips on random bytes, and the vocabulary file: round trip, and malformed files refused with
// their line number.
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "llm/bpe.hpp"
#include "tests/helpers.hpp"

using llm::BPETokenizer;
using testing::error_message;
using testing::TempDir;
using Merges = std::vector<BPETokenizer::Merge>;
using Ids = std::vector<std::int64_t>;

namespace {

// Replaces every occurrence of (left, right) in ids by `id`, left to right, never overlapping.
Ids bpe_test_replace(const Ids& ids, std::int64_t left, std::int64_t right, std::int64_t id) {
  Ids out;
  for (std::size_t i = 0; i < ids.size();) {
    if (i + 1 < ids.size() && ids[i] == left && ids[i + 1] == right) {
      out.push_back(id);
      i += 2;
    } else {
      out.push_back(ids[i++]);
    }
  }
  return out;
}

Ids bpe_test_bytes(const std::string& text) {
  Ids ids;
  for (char c : text) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

// Training the slow way: count all pairs again after every merge (std::map, ordered by pair, so
// the first pair with the highest count is the smallest: the documented tie rule).
Merges bpe_test_train(const std::string& text, std::int64_t vocab_size) {
  Ids ids = bpe_test_bytes(text);
  Merges merges;
  while (256 + std::int64_t(merges.size()) < vocab_size) {
    std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> counts;
    for (std::size_t i = 0; i + 1 < ids.size(); ++i) ++counts[{ids[i], ids[i + 1]}];
    std::pair<std::int64_t, std::int64_t> best{-1, -1};
    std::int64_t best_count = 0;
    for (const auto& [pair, count] : counts)
      if (count > best_count) best = pair, best_count = count;
    if (best_count < 2) break;
    const std::int64_t id = 256 + std::int64_t(merges.size());
    merges.push_back(best);
    ids = bpe_test_replace(ids, best.first, best.second, id);
  }
  return merges;
}

// Encoding the slow way: merge 0 everywhere, then merge 1, ... (rank order).
Ids bpe_test_encode(const Merges& merges, const std::string& text) {
  Ids ids = bpe_test_bytes(text);
  for (std::size_t rank = 0; rank < merges.size(); ++rank)
    ids = bpe_test_replace(ids, merges[rank].first, merges[rank].second, 256 + std::int64_t(rank));
  return ids;
}

std::string bpe_test_random_text(std::mt19937_64& rng, std::size_t length, const std::string& alphabet) {
  std::string text;
  for (std::size_t i = 0; i < length; ++i) text += alphabet[rng() % alphabet.size()];
  return text;
}

std::string bpe_test_random_bytes(std::mt19937_64& rng, std::size_t length) {
  std::string bytes;
  for (std::size_t i = 0; i < length; ++i) bytes += char(rng() % 256);
  return bytes;
}

}  // namespace

TEST_CASE("BPE: the merges of \"aaabdaaabac\", worked out by hand") {
  // a = 97, b = 98, c = 99, d = 100.
  // Pairs: aa x4 (positions 0-1, 1-2, 5-6, 6-7), ab x2, bd, da, ba, ac x1.
  //   merge 0: (a, a) -> 256.  Left to right, no overlap: aaab -> [aa] a b, so the text is
  //            256 a b d 256 a b a c.
  // Pairs now: (256, a) x2, (a, b) x2, (b, d), (d, 256), (b, a), (a, c) x1. A tie at 2: the
  //   smaller pair wins, comparing the left id first: (97, 98) < (256, 97).
  //   merge 1: (a, b) -> 257.  Text: 256 257 d 256 257 a c.
  // Pairs: (256, 257) x2, the rest once.
  //   merge 2: (256, 257) -> 258 ("aaab").  Text: 258 d 258 a c.
  // Every pair now occurs once: training stops at 259 tokens even when more are asked.
  BPETokenizer bpe = BPETokenizer::train("aaabdaaabac", 1000);
  CHECK(bpe.merges() == Merges{{97, 97}, {97, 98}, {256, 257}});
  CHECK(bpe.vocab_size() == 259);
  CHECK(bpe.token_bytes(258) == "aaab");
  CHECK(bpe.encode("aaabdaaabac") == Ids{258, 100, 258, 97, 99});
  CHECK(bpe.decode({258, 100, 258, 97, 99}) == "aaabdaaabac");
  // A vocabulary size cuts training short: 257 tokens is the first merge alone.
  CHECK(BPETokenizer::train("aaabdaaabac", 257).merges() == Merges{{97, 97}});
  CHECK(BPETokenizer::train("aaabdaaabac", 256).merges().empty());
}

TEST_CASE("BPE: ties go to the smaller pair; overlapping pairs are counted, replaced left to right") {
  // "xyxyzwzw": x = 120, y = 121, z = 122, w = 119. (x, y) and (z, w) both occur twice; the
  // smaller left id wins: (120, 121) first. Then 256 256 z w z w: (z, w) x2 -> 257.
  CHECK(BPETokenizer::train("xyxyzwzw", 300).merges() == Merges{{120, 121}, {122, 119}});
  // Where the pairs stand in the text does not matter, only their ids: (x, y) still comes first.
  CHECK(BPETokenizer::train("zwzwxyxy", 300).merges() == Merges{{120, 121}, {122, 119}});
  // "aaaa": (a, a) occurs 3 times (overlapping), and is replaced as [aa][aa]; then (256, 256)
  // occurs once: stop.
  CHECK(BPETokenizer::train("aaaa", 300).merges() == Merges{{97, 97}});
  // "aaa" twice over, "aaa.aaa": (a, a) x4 -> [aa] a . [aa] a; then (256, a) x2 -> 257.
  BPETokenizer bpe = BPETokenizer::train("aaa.aaa", 300);
  CHECK(bpe.merges() == Merges{{97, 97}, {256, 97}});
  // Encoding applies the merges in rank order: rank 0 turns aaaaa into [aa][aa]a (left to
  // right), rank 1 turns the pair ([aa], a) at the end into [aaa]: [aa][aaa].
  CHECK(bpe.encode("aaaaa") == Ids{256, 257});
  CHECK(BPETokenizer(Merges{{97, 97}}).encode("aaa") == Ids{256, 97});
}

TEST_CASE("BPE: training and encoding agree with the slow reference versions") {
  std::mt19937_64 rng(18);
  for (int trial = 0; trial < 12; ++trial) {
    // Small alphabets make many ties and long runs of one letter (overlaps).
    const std::string alphabet = trial % 3 == 0 ? "ab" : trial % 3 == 1 ? "abc " : "the cat sat on a mat\n";
    const std::string text = bpe_test_random_text(rng, 200 + 50 * trial, alphabet);
    const std::int64_t vocab = 256 + 5 + 7 * trial;
    CAPTURE(trial);
    BPETokenizer bpe = BPETokenizer::train(text, vocab);
    const Merges expected = bpe_test_train(text, vocab);
    CHECK(bpe.merges() == expected);
    // The first k merges of a larger vocabulary are the merges of a smaller one.
    CHECK(bpe.truncated(3).merges() == BPETokenizer::train(text, 259).merges());
    for (int sample = 0; sample < 4; ++sample) {
      const std::string other = bpe_test_random_text(rng, 1 + rng() % 80, alphabet + "xyz");
      CHECK(bpe.encode(other) == bpe_test_encode(bpe.merges(), other));
    }
    CHECK(bpe.encode(text) == bpe_test_encode(bpe.merges(), text));
  }
}

TEST_CASE("BPE: decode(encode(s)) == s for any bytes, NUL and invalid UTF-8 included") {
  std::mt19937_64 rng(26);
  const std::string english =
      "the quick brown fox jumps over the lazy dog; the dog sleeps, the fox runs. ";
  std::string corpus;
  for (int i = 0; i < 20; ++i) corpus += english;
  corpus += std::string("\0\0\xff\xfe\xc3\x28", 6) + "caf\xc3\xa9 \xe2\x82\xac";
  const BPETokenizer on_text = BPETokenizer::train(corpus, 400);
  const BPETokenizer on_bytes = BPETokenizer::train(bpe_test_random_bytes(rng, 3000) + corpus, 500);
  CHECK(on_text.vocab_size() > 256);
  for (const BPETokenizer* bpe : {&on_text, &on_bytes}) {
    CHECK(bpe->encode("").empty());
    CHECK(bpe->decode({}).empty());
    for (int trial = 0; trial < 30; ++trial) {
      std::string s = bpe_test_random_bytes(rng, rng() % 300);
      if (trial % 3 == 0) s += english;  // text that merges
      if (trial % 5 == 0) s = std::string(rng() % 50 + 1, '\0');
      CAPTURE(trial);
      const Ids ids = bpe->encode(s);
      CHECK(bpe->decode(ids) == s);
      for (std::int64_t id : ids) CHECK((id >= 0 && id < bpe->vocab_size()));
    }
  }
  // English text compresses; the ids decode to the same bytes.
  CHECK(on_text.encode(english).size() < english.size() / 2);
  const std::int64_t vocab = on_text.vocab_size();
  CHECK(error_message([&] { on_text.decode({97, vocab}); })
            .find("id " + std::to_string(vocab) + " at position 1 is outside 0.." +
                  std::to_string(vocab - 1)) != std::string::npos);
  CHECK(error_message([&] { on_text.decode({-1}); }).find("outside") != std::string::npos);
  CHECK(error_message([&] { BPETokenizer::train("abc", 255); }).find("below 256") != std::string::npos);
  CHECK(error_message([&] { BPETokenizer(Merges{{97, 256}}); }).find("not a token yet") != std::string::npos);
  CHECK(error_message([&] { BPETokenizer(Merges{{97, 97}, {97, 97}}); }).find("merged twice") !=
        std::string::npos);
}

TEST_CASE("BPE vocabulary files: round trip, comments, and malformed files with line numbers") {
  TempDir dir("bpe");
  std::mt19937_64 rng(27);
  const std::string text = bpe_test_random_text(rng, 2000, "ab c\n\t\"\\#") + std::string("\0\xff\0\xff", 4);
  const BPETokenizer bpe = BPETokenizer::train(text, 300);
  REQUIRE(bpe.vocab_size() == 300);
  const std::string path = dir.file("vocab.bpe");
  bpe.save(path);
  const std::string saved = testing::read_bytes(path);
  CHECK(saved.rfind("bpe-tokenizer v1\nmerges 44\n", 0) == 0);
  const BPETokenizer loaded = BPETokenizer::load(path);
  CHECK(loaded.merges() == bpe.merges());
  CHECK(loaded.encode(text) == bpe.encode(text));
  CHECK(dir.names() == std::vector<std::string>{"vocab.bpe"});  // no temporary left behind

  // Written by hand: comments, blank lines, CRLF line ends.
  CHECK(BPETokenizer::parse("bpe-tokenizer v1\r\nmerges 2\r\n# the first merges\r\n97 97  # aa\r\n\r\n256\t97\r\n",
                            "hand")
            .merges() == Merges{{97, 97}, {256, 97}});

  auto refused = [&](const std::string& content, const std::string& expected) {
    const std::string file = dir.file("bad.bpe");
    std::ofstream(file, std::ios::binary) << content;
    const std::string message = error_message([&] { BPETokenizer::load(file); });
    INFO(message);
    CHECK(message.find("BPETokenizer::load: " + file + ": " + expected) != std::string::npos);
  };
  refused("", "line 1: expected the header \"bpe-tokenizer v1\" (the file is empty)");
  refused("bpe-tokenizer v2\nmerges 0\n", "line 1: expected the header");
  refused("bpe-tokenizer v1\n", "line 2: expected \"merges N\"");
  refused("bpe-tokenizer v1\nmerges -3\n", "line 2: expected \"merges N\"");
  refused("bpe-tokenizer v1\nmerges 1x\n97 97\n", "line 2: expected \"merges N\"");
  refused("bpe-tokenizer v1\nmerges 1\n97\n", "line 3: expected two token ids");
  refused("bpe-tokenizer v1\nmerges 1\n97 -1\n", "line 3: expected two token ids");
  refused("bpe-tokenizer v1\nmerges 1\n97 98 99\n", "line 3: expected two token ids");
  refused("bpe-tokenizer v1\nmerges 2\n97 97\n# note\n257 97\n",
          "line 5: merge 1 creates token 257 but uses 257, which does not exist yet");
  refused("bpe-tokenizer v1\nmerges 2\n97 97\n97 97\n", "line 4: the pair 97 97 was already merged on line 3");
  refused("bpe-tokenizer v1\nmerges 3\n97 97\n97 98\n", "line 5: the file ends after 2 of the 3 merges");
  refused("bpe-tokenizer v1\nmerges 1\n97 97\n97 98\n", "line 4: more merges than the 1 announced on line 2");
  refused(std::string("bpe-tokenizer v1\nmerges 1\n") + std::string("97\0 97\n", 7),
          "line 3: expected two token ids");
  CHECK(error_message([&] { BPETokenizer::load(dir.file("missing.bpe")); })
            .find("missing.bpe: cannot open the file") != std::string::npos);
  // A file that cannot be written leaves the old one alone.
  CHECK(error_message([&] { bpe.save(dir.file("no/such/folder.bpe")); }).find("cannot write") !=
        std::string::npos);
  CHECK(testing::read_bytes(path) == saved);
}
