// Checker of tutorials/exercises/greedy_step.cpp: exercise::greedy_step against the step of
// nn::greedy_decode (argmax of the last position with autograd::argmax, eos once finished), on
// hand-made logits with the traps, then in a loop on a tiny untrained nn::Transformer, whose
// result must equal nn::greedy_decode's.
#include <cstdint>
#include <string>
#include <vector>

#include "nn/data.hpp"
#include "nn/nn.hpp"
#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<std::int64_t> greedy_step(const std::vector<std::int64_t>& tokens,
                                      const std::vector<float>& logits, std::vector<bool>& finished,
                                      int B, int T, int V, std::int64_t eos);  // the learner's
}

using namespace exercise_check;
using autograd::Tensor;

namespace {

struct Step {
  std::vector<std::int64_t> tokens;  // [B, T + 1]
  std::vector<bool> finished;        // [B]
};

// One step as nn::greedy_decode takes it, reading the logits at `position` (T - 1 is right) and
// padding finished rows with eos when `pad_finished` (true is right).
Step library_step(const std::vector<std::int64_t>& tokens, const std::vector<float>& logits,
                  std::vector<bool> finished, int B, int T, int V, std::int64_t eos, int position,
                  bool pad_finished) {
  Tensor scores(tensor::from_vector(logits, {B, T, V}));
  std::vector<std::int64_t> next =
      autograd::argmax(scores.select(1, position), -1).to_vector<std::int64_t>();
  Step step{{}, finished};
  for (int b = 0; b < B; ++b) {
    if (pad_finished && finished[b]) next[b] = eos;
    step.finished[b] = finished[b] || next[b] == eos;
    step.tokens.insert(step.tokens.end(), tokens.begin() + b * T, tokens.begin() + (b + 1) * T);
    step.tokens.push_back(next[b]);
  }
  return step;
}

std::vector<double> as_doubles(const std::vector<std::int64_t>& v) {
  return {v.begin(), v.end()};
}
std::vector<double> as_doubles(const std::vector<bool>& v) {
  return {v.begin(), v.end()};
}

// Calls the learner's step and compares its tokens and finished flags with the library's;
// returns the learner's (equal to the library's when this returns).
Step check_step(const Case& test_case, const std::vector<std::int64_t>& tokens,
                const std::vector<float>& logits, const std::vector<bool>& finished, int B, int T,
                int V, std::int64_t eos) {
  Step expected = library_step(tokens, logits, finished, B, T, V, eos, T - 1, true);
  Step first_position = library_step(tokens, logits, finished, B, T, V, eos, 0, true);
  Step unpadded = library_step(tokens, logits, finished, B, T, V, eos, T - 1, false);
  Step got{{}, finished};
  got.tokens = exercise::greedy_step(tokens, logits, got.finished, B, T, V, eos);

  Output tokens_out{
      .name = "tokens",
      .shape = {B, T + 1},
      .expected = as_doubles(expected.tokens),
      .hint =
          "row b is tokens[b, 0..T-1] followed by next = argmax_v logits[b, T - 1, v]\n"
          "(logits[(b * T + T - 1) * V + v]), or eos when finished[b].",
      .rtol = 0,
      .atol = 0};
  tokens_out.mistakes = {
      {"logits of the first position used instead of the last",
       "use the logits of the LAST position, t = T - 1: they score the token after the whole\n"
       "prefix (position 0 has only read BOS).",
       as_doubles(first_position.tokens)},
      {"finished sequences not padded with eos",
       "a finished sequence (finished[b] true) gets eos, whatever its logits say.",
       as_doubles(unpadded.tokens)},
  };
  expect_close(test_case, tokens_out, got.tokens);

  Output finished_out{
      .name = "finished",
      .shape = {B},
      .expected = as_doubles(expected.finished),
      .hint = "finished[b] becomes true when the appended token is eos (and stays true).",
      .rtol = 0,
      .atol = 0};
  expect_close(test_case, finished_out, got.finished);
  return got;
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "greedy_step", [] {
    const std::int64_t BOS = nn::data::BOS, EOS = nn::data::EOS;  // 1 and 2

    // 1. Hand-made logits for B 3, T 3, V 7: position 0's argmax differs from the last's,
    //    sequence 1 is already finished, sequence 2's best next token is eos.
    {
      const int B = 3, T = 3, V = 7;
      Generator gen(14);
      std::vector<float> logits = normal_values({B, T, V}, 0, 1, gen);
      auto at = [&](int b, int t, int v) -> float& { return logits[(b * T + t) * V + v]; };
      at(0, 0, 6) = 5.0f;        // a trap at position 0
      at(0, T - 1, 4) = 4.0f;    // sequence 0: next is 4
      at(1, T - 1, 5) = 4.0f;    // sequence 1 prefers 5, but it is finished: eos
      at(2, T - 1, EOS) = 4.0f;  // sequence 2: next is eos, so it finishes
      std::vector<std::int64_t> tokens = {BOS, 3, 5, BOS, 4, EOS, BOS, 6, 6};
      check_step({1, 3, "hand-made logits [3, 3, 7]; tokens [3, 3]; finished {0, 1, 0}; eos 2"},
                 tokens, logits, {false, true, false}, B, T, V, EOS);
    }

    // 2. The step in a loop on a tiny untrained Transformer (seed 7: sequence 0 produces eos
    //    after 3 tokens and is then padded, sequence 1 runs to max_len).
    tensor::Generator model_gen(7);
    nn::TransformerConfig config;
    config.src_vocab = config.tgt_vocab = 8;
    config.max_len = 12;
    config.layer.d_model = 16;
    config.layer.nhead = 2;
    config.layer.dim_feedforward = 32;
    config.layer.dropout = 0.0;
    config.num_encoder_layers = config.num_decoder_layers = 1;
    nn::Transformer model(config, model_gen);
    Tensor src(tensor::from_vector(std::vector<std::int64_t>{3, 4, 5, 6, 7, 3, 5, 4}, {2, 4}));
    const int B = 2, V = 8, max_len = 6;

    model.eval();
    autograd::NoGradGuard no_grad;
    Tensor memory = model.encode(src);
    std::vector<std::int64_t> tokens(B, BOS);  // [B, 1]
    std::vector<bool> finished(B, false);
    int T = 1;
    for (int step = 0; step < max_len; ++step) {
      Tensor logits =
          model.decode(Tensor(tensor::from_vector(tokens, {B, T})), memory);  // [B, T, V]
      Step next =
          check_step({2, 3,
                      "step " + std::to_string(step + 1) +
                          " of greedy decoding with a tiny nn::Transformer: tokens [2, " +
                          std::to_string(T) + "], logits [2, " + std::to_string(T) + ", 8]"},
                     tokens, logits.to_vector<float>(), finished, B, T, V, EOS);
      tokens = next.tokens;
      finished = next.finished;
      ++T;
      if (finished[0] && finished[1]) break;
    }

    // 3. The loop's tokens (without the leading BOS) are nn::greedy_decode's.
    Tensor reference = nn::greedy_decode(model, src, Tensor(), max_len, BOS, EOS);  // [B, L]
    std::vector<std::int64_t> generated;
    for (int b = 0; b < B; ++b)
      generated.insert(generated.end(), tokens.begin() + b * T + 1, tokens.begin() + (b + 1) * T);
    Output generated_out{.name = "generated",
                         .shape = {B, T - 1},
                         .expected = as_doubles(reference.to_vector<std::int64_t>()),
                         .hint = "your steps in a loop should give nn::greedy_decode's tokens.",
                         .rtol = 0,
                         .atol = 0};
    expect_close({3, 3, "the whole decoding equals nn::greedy_decode (max_len 6)"}, generated_out,
                 generated);
  });
}
