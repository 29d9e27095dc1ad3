// sampling.hpp — how a language model turns the logits of the next position into a token.
//
// Letters: B rows (sequences in a batch), V vocabulary size. logits [B, V] are the model's
// scores for the next token of each row; every rule below turns a row into a probability
// distribution over the V tokens and draws one token from it:
//
//   greedy        temperature 0: all the probability on the largest logit (the lowest index
//                 wins a tie), so "sampling" always gives the argmax
//   temperature   p = softmax(logits / T): T < 1 sharpens towards the argmax, T > 1 flattens
//                 towards uniform, T = 1 is the model's own distribution
//   top-k         keep the k most likely tokens, renormalise (k = 1 is greedy)
//   top-p         (nucleus) keep the smallest set of most likely tokens whose probability
//                 reaches p, renormalise: the cut adapts to how sure the model is
//
// The rules apply in that order, as in Hugging Face's generate(): temperature first, then top-k
// on the tempered distribution, then top-p on what top-k kept (renormalised). Both cuts walk the
// tokens from the most likely down, ties broken by the lower token index, so the kept set is
// always the same for the same logits:
//   top-k keeps exactly min(k, V) tokens (PyTorch/HF keep every token tied with the k-th
//   instead, which may be more than k);
//   top-p keeps tokens until the running sum first reaches p (>= p): the token that crosses p is
//   kept, so at least one token always is.
// A logit of -inf is a token that may never be drawn (probability exactly 0).
//
// sampling_distribution gives those probabilities exactly (in float64), so a learner and the
// tests can compare draws with them; sample_next_token draws from exactly that distribution.
#pragma once

#include <cstdint>

#include "autograd/tensor.hpp"
#include "tensor/random.hpp"

namespace nn {

using autograd::Tensor;
using tensor::Generator;

// Which rule picks the next token. Fill by name: {.temperature = 0.8, .top_p = 0.9}.
// (Existing callers write {temperature, top_k}; top_p comes last so that still means the same.)
struct SamplingOptions {
  double temperature = 0.0;  // 0: greedy (argmax); > 0: sample from softmax(logits / T)
  std::int64_t top_k = 0;    // 0: no cut; k > 0: only the k most likely tokens
  double top_p = 1.0;        // 1: no cut; 0 < p < 1: the nucleus of probability p
};

// Throws std::invalid_argument naming `op` and the bad option unless temperature >= 0 (and
// finite), top_k >= 0 and 0 < top_p <= 1.
void check_sampling_options(const SamplingOptions& options, const char* op);

// The distribution each row's next token is drawn from: logits [B, V] (any float dtype, any
// device) -> probabilities [B, V] float64 on the same device, each row summing to 1. Greedy
// (temperature 0) gives a one-hot row. Throws on a NaN or +inf logit, or a row of only -inf.
Tensor sampling_distribution(const Tensor& logits, const SamplingOptions& options);

// One token per row of logits [B, V], drawn from sampling_distribution(logits, options) with
// one uniform number per row from `gen` (inverse of the cumulative distribution, tokens in index
// order). Greedy draws nothing from gen. Returns [B] int64 on the logits' device.
Tensor sample_next_token(const Tensor& logits, const SamplingOptions& options, Generator& gen);

}  // namespace nn
