// llm/beam_search: against an exhaustive search over every sequence of a small vocabulary (the
// independent reference: each sequence scored on its own, log-softmax and length penalty written
// out here), on a hand-built scorer and on a small GPT; width 1 against greedy decoding; with and
// without the KV cache; and for the encoder-decoder Transformer against nn::greedy_decode.
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "llm/beam_search.hpp"
#include "nn/data.hpp"
#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using namespace llm;
using nn::Generator;
using testing::error_message;

namespace {

using Tokens = std::vector<std::int64_t>;
// The next-token logits after a whole sequence (start included).
using LogitsOf = std::function<std::vector<double>(const Tokens& sequence)>;

// log p(v | sequence) = z_v - log sum_j exp(z_j), written out.
double log_prob_of(const std::vector<double>& z, std::int64_t v) {
  double total = 0;
  for (double x : z) total += std::exp(x);
  return z[v] - std::log(total);
}

double penalty_by_hand(std::size_t length, double alpha, LengthPenalty kind) {
  return kind == LengthPenalty::gnmt ? std::pow((5.0 + double(length)) / 6.0, alpha)
                                     : std::pow(double(length), alpha);
}

// Every hypothesis a search could return: each sequence of up to max_new tokens that ends with
// eos, and each of exactly max_new tokens without eos; scored one by one; best first.
std::vector<Hypothesis> exhaustive(const LogitsOf& logits_of, const Tokens& start, std::int64_t V,
                                   const BeamSearchOptions& options) {
  std::vector<Hypothesis> all;
  std::function<void(Tokens&, double)> grow = [&](Tokens& tokens, double log_prob) {
    Tokens sequence = start;
    sequence.insert(sequence.end(), tokens.begin(), tokens.end());
    std::vector<double> z = logits_of(sequence);
    for (std::int64_t v = 0; v < V; ++v) {
      tokens.push_back(v);
      double total = log_prob + log_prob_of(z, v);
      bool ends = v == options.eos;
      if (ends || std::int64_t(tokens.size()) == options.max_new_tokens) {
        double score = total / penalty_by_hand(tokens.size(), options.alpha, options.length_penalty);
        all.push_back({tokens, total, score, ends});
      } else {
        grow(tokens, total);
      }
      tokens.pop_back();
    }
  };
  Tokens empty;
  grow(empty, 0.0);
  std::sort(all.begin(), all.end(),
            [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
  return all;
}

// The search's model made from logits_of: one call scores every live beam.
NextTokenLogits as_model(const LogitsOf& logits_of) {
  return [logits_of](const Tensor& sequences, const std::vector<std::int64_t>&) {
    const std::int64_t N = sequences.size(0), T = sequences.size(1);
    std::vector<std::int64_t> ids = sequences.to_vector<std::int64_t>();
    std::vector<double> flat;
    for (std::int64_t n = 0; n < N; ++n) {
      std::vector<double> z = logits_of(Tokens(ids.begin() + n * T, ids.begin() + (n + 1) * T));
      flat.insert(flat.end(), z.begin(), z.end());
    }
    return Tensor(tensor::from_vector(flat, {N, std::int64_t(flat.size()) / N}));
  };
}

// A scorer whose logits depend on the whole prefix (a hash of it), V = 4, eos = 3.
std::vector<double> hashed_logits(const Tokens& sequence) {
  double h = 0.37;
  for (std::int64_t t : sequence) h = std::fmod(h * 7.31 + double(t) * 1.93 + 0.11, 17.0);
  std::vector<double> z(4);
  for (int v = 0; v < 4; ++v) z[v] = 2.0 * std::sin(h * (v + 1.3) + 0.7 * v);
  return z;
}

void check_same(const std::vector<Hypothesis>& got, const std::vector<Hypothesis>& expected,
                double tolerance) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("hypothesis " << i);
    CHECK(got[i].tokens == expected[i].tokens);
    CHECK(got[i].finished == expected[i].finished);
    CHECK(std::fabs(got[i].log_prob - expected[i].log_prob) <= tolerance);
    CHECK(std::fabs(got[i].score - expected[i].score) <= tolerance);
  }
}

// Greedy decoding written out: the argmax (lowest index on ties) until eos or max_new tokens.
Tokens greedy_by_hand(const LogitsOf& logits_of, Tokens sequence, std::int64_t max_new,
                      std::int64_t eos) {
  Tokens generated;
  for (std::int64_t step = 0; step < max_new; ++step) {
    std::vector<double> z = logits_of(sequence);
    std::int64_t best = std::max_element(z.begin(), z.end()) - z.begin();
    generated.push_back(best);
    sequence.push_back(best);
    if (best == eos) break;
  }
  return generated;
}

}  // namespace

TEST_CASE("length_penalty: GNMT's ((5 + len) / 6)^alpha and len^alpha") {
  CHECK(length_penalty(7, 0.6, LengthPenalty::gnmt) == doctest::Approx(std::pow(2.0, 0.6)));
  CHECK(length_penalty(1, 0.6, LengthPenalty::gnmt) == doctest::Approx(1.0));
  CHECK(length_penalty(9, 0.5, LengthPenalty::power) == doctest::Approx(3.0));
  CHECK(length_penalty(9, 0.0, LengthPenalty::power) == 1.0);
}

TEST_CASE("beam_search: a wide enough beam is an exhaustive search (hand-built scorer)") {
  // V = 4 with eos 3: at most 3^t live prefixes after t steps, so 27 beams keep every prefix
  // of max_new_tokens 3, and the best 27 hypotheses must be the exhaustive search's best 27.
  for (double alpha : {0.0, 0.6, 1.5})
    for (LengthPenalty kind : {LengthPenalty::gnmt, LengthPenalty::power}) {
      INFO("alpha " << alpha << (kind == LengthPenalty::gnmt ? " gnmt" : " power"));
      BeamSearchOptions options{.beam_width = 27, .max_new_tokens = 3, .eos = 3,
                                .alpha = alpha, .length_penalty = kind};
      std::vector<Hypothesis> got = beam_search(as_model(hashed_logits), {2, 0}, options);
      std::vector<Hypothesis> all = exhaustive(hashed_logits, {2, 0}, 4, options);
      all.resize(27);
      check_same(got, all, 1e-12);
    }
  // Without eos every hypothesis has max_new_tokens tokens: all 4^3 = 64 of them, ranked.
  BeamSearchOptions no_eos{.beam_width = 64, .max_new_tokens = 3};
  std::vector<Hypothesis> got = beam_search(as_model(hashed_logits), {1}, no_eos);
  check_same(got, exhaustive(hashed_logits, {1}, 4, no_eos), 1e-12);
}

TEST_CASE("beam_search: beam width 1 is greedy decoding") {
  for (Tokens start : {Tokens{0}, Tokens{1, 2}, Tokens{3, 3, 1}}) {
    BeamSearchOptions options{.beam_width = 1, .max_new_tokens = 6, .eos = 3};
    std::vector<Hypothesis> got = beam_search(as_model(hashed_logits), start, options);
    REQUIRE(got.size() == 1);
    Tokens greedy = greedy_by_hand(hashed_logits, start, 6, 3);
    CHECK(got[0].tokens == greedy);
    // Its log-probability, summed here token by token.
    double log_prob = 0;
    Tokens sequence = start;
    for (std::int64_t t : greedy) {
      log_prob += log_prob_of(hashed_logits(sequence), t);
      sequence.push_back(t);
    }
    CHECK(got[0].log_prob == doctest::Approx(log_prob).epsilon(1e-12));
  }
}

TEST_CASE("beam_search: a case built so that greedy loses and a beam of 2 finds the best") {
  // Tokens a = 0, b = 1, eos = 2. First: a 0.5, b 0.4, eos 0.1. After a: a 0.35, b 0.35, eos 0.3
  // (a flat continuation); after b: eos 0.9. Later: eos 0.98. Greedy takes a and ends with
  // a a eos = 0.5 * 0.35 * 0.98 = 0.1715; b eos = 0.4 * 0.9 = 0.36 is better.
  LogitsOf table = [](const Tokens& sequence) {
    std::vector<double> p;
    if (sequence.size() == 1) p = {0.5, 0.4, 0.1};
    else if (sequence.size() == 2) p = sequence[1] == 0 ? std::vector<double>{0.35, 0.35, 0.3}
                                                        : std::vector<double>{0.05, 0.05, 0.9};
    else p = {0.01, 0.01, 0.98};
    for (double& x : p) x = std::log(x);
    return p;
  };
  BeamSearchOptions options{.beam_width = 1, .max_new_tokens = 3, .eos = 2};
  std::vector<Hypothesis> greedy = beam_search(as_model(table), {9}, options);
  CHECK(greedy[0].tokens == Tokens{0, 0, 2});
  CHECK(greedy[0].log_prob == doctest::Approx(std::log(0.5 * 0.35 * 0.98)));
  options.beam_width = 2;
  std::vector<Hypothesis> beam = beam_search(as_model(table), {9}, options);
  CHECK(beam[0].tokens == Tokens{1, 2});
  CHECK(beam[0].log_prob == doctest::Approx(std::log(0.36)));
  CHECK(beam[0].finished);
  std::vector<Hypothesis> all = exhaustive(table, {9}, 3, options);
  CHECK(all[0].tokens == beam[0].tokens);  // the best of all sequences
}

TEST_CASE("beam_search on a GPT: exhaustive when wide, greedy when 1, cached = recomputed") {
  Generator gen(31);
  nn::GPT gpt({4, 12, 16, 2, 2, 32, 0.0, "gelu"}, gen);  // vocab 4, context 12
  Tensor prompt(tensor::from_vector(std::vector<std::int64_t>{1, 0, 2, 2, 1, 0}, {2, 3}));
  // The reference scores each sequence with one full forward, no cache, no beams.
  LogitsOf logits_of = [&](const Tokens& sequence) {
    autograd::NoGradGuard no_grad;
    Tensor ids(tensor::from_vector(sequence, {1, std::int64_t(sequence.size())}));
    return gpt.forward(ids).select(1, -1).to_vector<double>();
  };
  gpt.eval();
  BeamSearchOptions options{.beam_width = 27, .max_new_tokens = 3, .eos = 3, .alpha = 0.8};
  std::vector<std::vector<Hypothesis>> best(2);
  for (int b = 0; b < 2; ++b) {
    best[b] = exhaustive(logits_of, prompt.select(0, b).to_vector<std::int64_t>(), 4, options);
    best[b].resize(27);
  }
  for (bool use_cache : {true, false}) {
    INFO((use_cache ? "cached" : "recomputed"));
    std::vector<std::vector<Hypothesis>> got = beam_search(gpt, prompt, options, use_cache);
    REQUIRE(got.size() == 2);
    for (int b = 0; b < 2; ++b) check_same(got[b], best[b], 1e-5);
  }
  // Width 1 without eos: the tokens of GPT::generate's greedy decoding.
  gpt.train();  // beam_search switches to eval itself and restores the mode
  Tensor greedy = gpt.generate(prompt, 8, {}, gen);  // [2, 11]
  std::vector<std::vector<Hypothesis>> one = beam_search(gpt, prompt, {.beam_width = 1, .max_new_tokens = 8});
  CHECK(gpt.is_training());
  for (int b = 0; b < 2; ++b) {
    std::vector<std::int64_t> row = greedy.select(0, b).to_vector<std::int64_t>();
    CHECK(one[b][0].tokens == Tokens(row.begin() + 3, row.end()));
  }
}

TEST_CASE("beam_search on a larger GPT: the cached search (caches reordered) equals the recomputed one") {
  Generator gen(32);
  nn::GPT gpt({16, 24, 16, 2, 2, 32, 0.0, "gelu"}, gen);
  Tensor prompt(tensor::from_vector(std::vector<std::int64_t>{3, 4, 5, 6, 7, 8}, {2, 3}));
  BeamSearchOptions options{.beam_width = 4, .max_new_tokens = 10, .eos = 5, .alpha = 0.6};
  auto cached = beam_search(gpt, prompt, options, true);
  auto recomputed = beam_search(gpt, prompt, options, false);
  for (int b = 0; b < 2; ++b) check_same(cached[b], recomputed[b], 1e-5);
}

TEST_CASE("beam_search on an encoder-decoder Transformer: width 1 = greedy_decode, cached = recomputed") {
  Generator gen(33);
  nn::TransformerConfig config;
  config.src_vocab = config.tgt_vocab = 10;
  config.max_len = 8;
  config.layer = nn::LayerConfig{8, 2, 12, 0.0, "relu", false, 1e-5};
  nn::Transformer model(config, gen);
  Tensor src(tensor::from_vector(std::vector<std::int64_t>{3, 4, 5, 6, 7, 8, 9, 3}, {2, 4}));
  using nn::data::BOS;
  using nn::data::EOS;
  Tensor greedy = nn::greedy_decode(model, src, Tensor(), 6, BOS, EOS);  // [2, <= 6]
  auto one = beam_search(model, src, Tensor(), BOS, {.beam_width = 1, .max_new_tokens = 6, .eos = EOS});
  for (int b = 0; b < 2; ++b) {
    std::vector<std::int64_t> row = greedy.select(0, b).to_vector<std::int64_t>();
    auto end = std::find(row.begin(), row.end(), EOS);  // greedy_decode pads with eos after it
    Tokens expected(row.begin(), end == row.end() ? end : end + 1);
    CHECK(one[b][0].tokens == expected);
  }
  Tensor padding(tensor::from_vector(std::vector<bool>{false, false, false, false,  //
                                                       false, false, true, true},
                                     {2, 4}));
  BeamSearchOptions options{.beam_width = 3, .max_new_tokens = 7, .eos = EOS, .alpha = 0.6};
  auto cached = beam_search(model, src, padding, BOS, options, true);
  auto recomputed = beam_search(model, src, padding, BOS, options, false);
  for (int b = 0; b < 2; ++b) check_same(cached[b], recomputed[b], 1e-5);
}

TEST_CASE("beam_search: bad options are clear errors") {
  NextTokenLogits model = as_model(hashed_logits);
  CHECK(error_message([&] { beam_search(model, {0}, {.beam_width = 0}); })
            .find("beam_width must be >= 1") != std::string::npos);
  CHECK(error_message([&] { beam_search(model, {0}, {.max_new_tokens = 0}); })
            .find("max_new_tokens must be >= 1") != std::string::npos);
  CHECK(error_message([&] { beam_search(model, {0}, {.alpha = -0.5}); })
            .find("alpha") != std::string::npos);
  CHECK(error_message([&] { beam_search(model, {0}, {.eos = 7}); })
            .find("eos 7 is not a token of a vocabulary of 4") != std::string::npos);
  Generator gen(1);
  nn::GPT gpt({8, 6, 8, 2, 1, 16, 0.0, "gelu"}, gen);
  Tensor prompt(tensor::from_vector(std::vector<std::int64_t>{1, 2, 3}, {1, 3}));
  CHECK(error_message([&] { beam_search(gpt, prompt, {.max_new_tokens = 5}); })
            .find("more than the GPT's context of 6") != std::string::npos);
}
