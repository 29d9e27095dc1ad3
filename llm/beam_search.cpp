#include "llm/beam_search.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "autograd/grad_mode.hpp"
#include "autograd/ops.hpp"
#include "nn/transformer.hpp"
#include "tensor/factory.hpp"
#include "tensor/shape.hpp"

namespace llm {

double length_penalty(std::int64_t length, double alpha, LengthPenalty kind) {
  if (length < 1) throw std::invalid_argument("length_penalty: length must be >= 1");
  if (alpha == 0) return 1.0;
  const double len = double(length);
  return kind == LengthPenalty::gnmt ? std::pow((5.0 + len) / 6.0, alpha) : std::pow(len, alpha);
}

namespace beam_detail {

void check_options(const BeamSearchOptions& options) {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("beam_search: " + what);
  };
  if (options.beam_width < 1)
    fail("beam_width must be >= 1 (1 = greedy), got " + std::to_string(options.beam_width));
  if (options.max_new_tokens < 1)
    fail("max_new_tokens must be >= 1, got " + std::to_string(options.max_new_tokens));
  if (options.eos < -1) fail("eos must be a token id, or -1 for none, got " + std::to_string(options.eos));
  if (!(options.alpha >= 0) || !std::isfinite(options.alpha))
    fail("alpha (length normalisation) must be >= 0 and finite, got " + std::to_string(options.alpha));
}

// log_softmax of each row of logits [N, V], in float64.
std::vector<double> log_probabilities(const Tensor& logits, std::int64_t N) {
  if (logits.dim() != 2 || logits.size(0) != N || logits.size(1) < 1)
    throw std::invalid_argument("beam_search: the model gave logits " +
                                tensor::shape_str(logits.shape()) + " for " + std::to_string(N) +
                                " beams; expected [" + std::to_string(N) + ", V]");
  const std::int64_t V = logits.size(1);
  std::vector<double> z = logits.data().to_vector<double>();
  for (std::int64_t n = 0; n < N; ++n) {
    double* row = &z[n * V];
    double top = -INFINITY;
    for (std::int64_t v = 0; v < V; ++v) {
      if (std::isnan(row[v]) || row[v] == INFINITY)
        throw std::invalid_argument("beam_search: the logits of beam " + std::to_string(n) +
                                    " are not finite (" + std::to_string(row[v]) + " at token " +
                                    std::to_string(v) + ")");
      top = std::max(top, row[v]);
    }
    if (top == -INFINITY)
      throw std::invalid_argument("beam_search: every logit of beam " + std::to_string(n) +
                                  " is -inf");
    // log softmax(z)_v = z_v - log sum_j exp(z_j), with the max taken out for stability.
    double total = 0;
    for (std::int64_t v = 0; v < V; ++v) total += std::exp(row[v] - top);
    const double log_total = top + std::log(total);
    for (std::int64_t v = 0; v < V; ++v) row[v] -= log_total;
  }
  return z;
}

// The live beams as token ids [N, start + t].
Tensor sequences_of(const std::vector<std::int64_t>& start,
                    const std::vector<std::vector<std::int64_t>>& beams) {
  std::vector<std::int64_t> flat;
  for (const auto& beam : beams) {
    flat.insert(flat.end(), start.begin(), start.end());
    flat.insert(flat.end(), beam.begin(), beam.end());
  }
  const std::int64_t N = std::int64_t(beams.size());
  return Tensor(tensor::from_vector(flat, {N, std::int64_t(flat.size()) / N}));
}

// Eval mode and no gradients for the duration of a search; the model's mode restored after,
// also when the search throws.
class Inference {
 public:
  explicit Inference(nn::Module& model) : model_(model), was_training_(model.is_training()) {
    model.eval();
  }
  ~Inference() { model_.train(was_training_); }
  Inference(const Inference&) = delete;
  Inference& operator=(const Inference&) = delete;

 private:
  autograd::NoGradGuard no_grad_;
  nn::Module& model_;
  bool was_training_;
};

// Row `b` of ids [B, T] as a vector.
std::vector<std::int64_t> row_of(const Tensor& ids, std::int64_t b) {
  return ids.select(0, b).to_vector<std::int64_t>();
}

void check_ids(const Tensor& ids, const char* what) {
  if (ids.dim() != 2 || ids.dtype() != tensor::DType::Int64 || ids.size(0) < 1 || ids.size(1) < 1)
    throw std::invalid_argument(std::string("beam_search: ") + what +
                                " must be int64 token ids [B, T] with B, T >= 1, got " +
                                tensor::dtype_name(ids.dtype()) + " " +
                                tensor::shape_str(ids.shape()));
}

// [N] int64 indices as a tensor on `device`.
Tensor index_tensor(const std::vector<std::int64_t>& indices, tensor::Device device) {
  return Tensor(tensor::from_vector(indices, {std::int64_t(indices.size())}).to(device));
}

}  // namespace beam_detail

std::vector<Hypothesis> beam_search(const NextTokenLogits& next_logits,
                                    const std::vector<std::int64_t>& start,
                                    const BeamSearchOptions& options) {
  beam_detail::check_options(options);
  const std::int64_t K = options.beam_width;
  auto score_of = [&](double log_prob, std::size_t length) {
    return log_prob / length_penalty(std::int64_t(length), options.alpha, options.length_penalty);
  };
  // The best first; equal scores keep their order (the earlier one wins).
  auto keep_best = [&](std::vector<Hypothesis>& pool) {
    std::stable_sort(pool.begin(), pool.end(),
                     [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
    if (std::int64_t(pool.size()) > K) pool.resize(K);
  };

  // The live beams: their generated tokens and total log-probabilities, best first.
  std::vector<std::vector<std::int64_t>> beams = {{}};
  std::vector<double> beam_log_probs = {0.0};
  std::vector<std::int64_t> parents;  // empty on the first call
  std::vector<Hypothesis> finished;
  bool ran_out = true;  // false when the search stopped before max_new_tokens
  for (std::int64_t step = 0; step < options.max_new_tokens; ++step) {
    const std::int64_t N = std::int64_t(beams.size());
    Tensor logits = next_logits(beam_detail::sequences_of(start, beams), parents);  // [N, V]
    std::vector<double> log_probs = beam_detail::log_probabilities(logits, N);      // [N, V]
    const std::int64_t V = logits.size(1);
    if (options.eos >= V)
      throw std::invalid_argument("beam_search: eos " + std::to_string(options.eos) +
                                  " is not a token of a vocabulary of " + std::to_string(V));

    // Every extension (beam n, token v) with its total log-probability, best first. Listed in
    // the order (n, v), so a stable sort breaks ties by the lower beam, then the lower token.
    struct Candidate {
      double log_prob;
      std::int64_t beam, token;
    };
    std::vector<Candidate> candidates;
    candidates.reserve(N * V);
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t v = 0; v < V; ++v)
        if (log_probs[n * V + v] > -INFINITY)  // a -inf logit: a token that may never follow
          candidates.push_back({beam_log_probs[n] + log_probs[n * V + v], n, v});
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const Candidate& a, const Candidate& b) { return a.log_prob > b.log_prob; });

    // An extension by eos among the K best of the step is a finished hypothesis (one ranked
    // lower would not have been in the beam); the K best others are the next beams.
    std::vector<std::vector<std::int64_t>> next_beams;
    std::vector<double> next_log_probs;
    std::vector<std::int64_t> next_parents;
    for (std::int64_t rank = 0; rank < std::int64_t(candidates.size()); ++rank) {
      const Candidate& c = candidates[rank];
      if (std::int64_t(next_beams.size()) == K && rank >= K) break;  // nothing more can join
      std::vector<std::int64_t> tokens = beams[c.beam];
      tokens.push_back(c.token);
      if (c.token == options.eos) {
        if (rank >= K) continue;
        const std::size_t length = tokens.size();
        finished.push_back({std::move(tokens), c.log_prob, score_of(c.log_prob, length), true});
      } else if (std::int64_t(next_beams.size()) < K) {
        next_beams.push_back(std::move(tokens));
        next_log_probs.push_back(c.log_prob);
        next_parents.push_back(c.beam);
      }
    }
    keep_best(finished);
    beams = std::move(next_beams);
    beam_log_probs = std::move(next_log_probs);
    parents = std::move(next_parents);
    if (beams.empty()) {
      ran_out = false;
      break;
    }
    // Stop early when no live beam can still make the K finished: any continuation of the best
    // live beam has log-probability <= its own (<= 0), and the penalty grows with the length,
    // so its score is at most log_prob / length_penalty(max_new_tokens).
    if (step + 1 < options.max_new_tokens && std::int64_t(finished.size()) == K) {
      double bound = beam_log_probs[0] / length_penalty(options.max_new_tokens, options.alpha,
                                                        options.length_penalty);
      if (bound <= finished.back().score) {
        ran_out = false;
        break;
      }
    }
  }
  // At max_new_tokens the live beams are hypotheses too, unfinished.
  if (ran_out)
    for (std::size_t n = 0; n < beams.size(); ++n)
      finished.push_back({beams[n], beam_log_probs[n], score_of(beam_log_probs[n], beams[n].size()),
                          false});
  keep_best(finished);
  return finished;
}

void reorder_caches(std::vector<nn::KVCache>& caches, const std::vector<std::int64_t>& parents) {
  for (nn::KVCache& cache : caches) {
    if (!cache.k.defined()) continue;
    Tensor index = beam_detail::index_tensor(parents, cache.k.device());
    cache.k = autograd::index_select(cache.k, 0, index);  // [N, H, T, D]
    cache.v = autograd::index_select(cache.v, 0, index);
  }
}

std::vector<std::vector<Hypothesis>> beam_search(nn::GPT& model, const Tensor& prompt,
                                                 const BeamSearchOptions& options,
                                                 bool use_cache) {
  beam_detail::check_options(options);
  beam_detail::check_ids(prompt, "prompt");
  if (prompt.size(1) + options.max_new_tokens - 1 > model.config.context)
    throw std::invalid_argument(
        "beam_search: a prompt of " + std::to_string(prompt.size(1)) + " tokens and " +
        std::to_string(options.max_new_tokens) + " new ones need " +
        std::to_string(prompt.size(1) + options.max_new_tokens - 1) +
        " positions, more than the GPT's context of " + std::to_string(model.config.context));
  beam_detail::Inference inference(model);
  std::vector<std::vector<Hypothesis>> results;
  for (std::int64_t b = 0; b < prompt.size(0); ++b) {
    std::vector<nn::KVCache> caches;  // one per layer, [N, H, t, D]
    NextTokenLogits next = [&](const Tensor& sequences, const std::vector<std::int64_t>& parents) {
      const Tensor on_device = sequences.to(prompt.device());
      if (!use_cache) return model.forward(on_device).select(1, -1);  // the whole prefix again
      if (parents.empty()) return model.forward_cached(on_device, caches).select(1, -1);  // prompt
      reorder_caches(caches, parents);
      const std::int64_t t = on_device.size(1);
      return model.forward_cached(on_device.slice(1, t - 1, t), caches).select(1, -1);  // [N, V]
    };
    results.push_back(beam_search(next, beam_detail::row_of(prompt, b), options));
  }
  return results;
}

std::vector<std::vector<Hypothesis>> beam_search(nn::Transformer& model, const Tensor& src,
                                                 const Tensor& src_padding, std::int64_t bos,
                                                 const BeamSearchOptions& options,
                                                 bool use_cache) {
  beam_detail::check_options(options);
  beam_detail::check_ids(src, "src");
  if (options.max_new_tokens > model.config.max_len)
    throw std::invalid_argument("beam_search: max_new_tokens " +
                                std::to_string(options.max_new_tokens) +
                                " is more than the Transformer's max_len of " +
                                std::to_string(model.config.max_len));
  beam_detail::Inference inference(model);
  std::vector<std::vector<Hypothesis>> results;
  for (std::int64_t b = 0; b < src.size(0); ++b) {
    Tensor row = src.slice(0, b, b + 1);                                          // [1, S]
    Tensor padding = src_padding.defined() ? src_padding.slice(0, b, b + 1) : Tensor();
    Tensor memory = model.encode(row, padding);                                   // [1, S, E]
    std::vector<nn::KVCache> caches;
    NextTokenLogits next = [&](const Tensor& sequences, const std::vector<std::int64_t>& parents) {
      const std::int64_t N = sequences.size(0), t = sequences.size(1);
      // Every beam reads the same source: its memory (and padding) repeated N times.
      Tensor repeat = beam_detail::index_tensor(std::vector<std::int64_t>(N, 0), src.device());
      Tensor memory_n = autograd::index_select(memory, 0, repeat);  // [N, S, E]
      Tensor padding_n = padding.defined() ? autograd::index_select(padding, 0, repeat) : Tensor();
      const Tensor on_device = sequences.to(src.device());
      if (!use_cache) return model.decode(on_device, memory_n, padding_n).select(1, -1);
      if (!parents.empty()) reorder_caches(caches, parents);
      Tensor newest = parents.empty() ? on_device : on_device.slice(1, t - 1, t);
      return model.decode_cached(newest, memory_n, caches, padding_n).select(1, -1);  // [N, V]
    };
    results.push_back(beam_search(next, {bos}, options));
  }
  return results;
}

}  // namespace llm
