// beam_search.hpp — beam search: keep the `beam_width` most likely partial sequences at every
// step instead of only the single most likely next token (greedy).
//
// Greedy decoding commits to the best next token; a token that looks best now can lead to
// continuations that are all unlikely, so the whole sequence is less likely than another that
// started with a worse token. Beam search keeps K candidates ("beams"), extends each by every
// token, and keeps the K extensions with the highest total log-probability
//   log p(y_1..y_t | prompt) = sum_s log p(y_s | prompt, y_1..y_{s-1}).
// K = 1 is greedy; K >= V^max_new_tokens keeps every prefix: an exhaustive search.
//
// End of sequence. An extension by `eos` that ranks among the K best extensions of the step is a
// finished hypothesis: it leaves the beam and is collected (an eos ranked lower would not have
// made the beam, as in GNMT and Hugging Face); the K best non-eos extensions stay in the beam, so
// width 1 is exactly greedy decoding (with alpha 0). Search stops when max_new_tokens
// tokens were generated, when no beam is left, or when no live beam can still beat the K-th best
// finished hypothesis (checked exactly: a live beam's log-probability can only fall, and the
// length penalty below is at most its value at max_new_tokens).
//
// Length normalisation. Every token adds a negative log-probability, so raw totals favour short
// hypotheses (an early eos). Finished hypotheses are therefore ranked by
//   score = log_prob / length_penalty(len, alpha),   len = generated tokens, eos included:
//     LengthPenalty::gnmt    ((5 + len) / 6)^alpha   (Wu et al. 2016, "Google's Neural Machine
//                                                     Translation System"; alpha ~ 0.6 there)
//     LengthPenalty::power   len^alpha               (Hugging Face's length_penalty)
// alpha = 0 ranks by the total log-probability itself. Live beams always have the same length,
// so the choice only matters between hypotheses that ended at different steps.
//
// Ties are broken deterministically: equal totals by the lower beam index, then the lower token.
//
// Models. One generic search over a function giving the next-token logits of the live beams,
// and two front ends: nn::GPT (decoder-only; the prompt is the start) and nn::Transformer
// (encoder-decoder; the target starts with bos). With use_cache, each step runs only the newest
// token of each beam through the model, and the per-layer KV caches are reordered so that row i
// holds the keys and values of the beam that beam i continues (reorder_caches). A batch of
// prompts is searched one row after another.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "autograd/tensor.hpp"

namespace nn {
class GPT;
class Transformer;
struct KVCache;
}  // namespace nn

namespace llm {

using autograd::Tensor;

enum class LengthPenalty {
  gnmt,   // ((5 + len) / 6)^alpha
  power,  // len^alpha
};

// The divisor of a hypothesis's log-probability: length_penalty(len, 0, any) = 1. len >= 1.
double length_penalty(std::int64_t length, double alpha, LengthPenalty kind);

struct BeamSearchOptions {
  std::int64_t beam_width = 4;      // K >= 1 (1 = greedy)
  std::int64_t max_new_tokens = 16;  // >= 1
  std::int64_t eos = -1;            // the end-of-sequence token; -1: none
  double alpha = 0.0;               // length normalisation strength, >= 0 (0: none)
  LengthPenalty length_penalty = LengthPenalty::gnmt;
};

struct Hypothesis {
  std::vector<std::int64_t> tokens;  // generated tokens (no prompt, no bos); eos last if finished
  double log_prob = 0;               // total log-probability of those tokens
  double score = 0;                  // log_prob / length_penalty(tokens.size(), alpha)
  bool finished = false;             // ended with eos (false: stopped at max_new_tokens)
};

// The model behind a search: the next-token logits of every live beam.
//   sequences [N, t] int64   the live beams: the start (prompt, or bos) and their tokens so far
//   parents                  beam i extends row parents[i] of the previous call's sequences
//                            (empty on the first call, where N = 1): a cached model reorders its
//                            caches with it and then needs only the last column of sequences
// Returns logits [N, V] (log_softmax is taken by the search, in float64).
using NextTokenLogits =
    std::function<Tensor(const Tensor& sequences, const std::vector<std::int64_t>& parents)>;

// The search for one start sequence. Returns up to beam_width hypotheses, best score first.
// Throws std::invalid_argument on bad options, or when the logits are not [N, V] or a row has a
// NaN, a +inf, or only -inf.
std::vector<Hypothesis> beam_search(const NextTokenLogits& next_logits,
                                    const std::vector<std::int64_t>& start,
                                    const BeamSearchOptions& options);

// Decoder-only: prompt [B, T0] int64 -> for every row, its hypotheses (best first). Needs
// T0 + max_new_tokens - 1 <= the model's context. Runs in eval mode without gradients (the
// model's mode is restored).
std::vector<std::vector<Hypothesis>> beam_search(nn::GPT& model, const Tensor& prompt,
                                                 const BeamSearchOptions& options,
                                                 bool use_cache = true);

// Encoder-decoder: src [B, S] int64 (src_padding [B, S], true = PAD, or undefined) -> for every
// row, its hypotheses. Each target starts with bos (not part of the hypothesis's tokens); the
// source is encoded once. Needs max_new_tokens <= the model's max_len. With use_cache the
// decoder's self-attention is cached (Transformer::decode_cached); the cross-attention's keys
// and values of the source are recomputed each step.
std::vector<std::vector<Hypothesis>> beam_search(nn::Transformer& model, const Tensor& src,
                                                 const Tensor& src_padding, std::int64_t bos,
                                                 const BeamSearchOptions& options,
                                                 bool use_cache = true);

// Row i of every cache becomes row parents[i] of the old one (index_select on the batch dim):
// after a beam step, beam i continues beam parents[i], so it needs that beam's keys and values.
void reorder_caches(std::vector<nn::KVCache>& caches, const std::vector<std::int64_t>& parents);

}  // namespace llm
