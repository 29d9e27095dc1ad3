#include "nn/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/factory.hpp"
#include "tensor/shape.hpp"

namespace nn {

void check_sampling_options(const SamplingOptions& options, const char* op) {
  const std::string where = std::string(op) + ": ";
  if (!(options.temperature >= 0) || !std::isfinite(options.temperature))
    throw std::invalid_argument(where + "temperature must be >= 0 and finite (0 = greedy), got " +
                                std::to_string(options.temperature));
  if (options.top_k < 0)
    throw std::invalid_argument(where + "top_k must be >= 0 (0 = no top-k cut), got " +
                                std::to_string(options.top_k));
  if (!(options.top_p > 0 && options.top_p <= 1))
    throw std::invalid_argument(where + "top_p must be in (0, 1] (1 = no nucleus cut), got " +
                                std::to_string(options.top_p));
}

namespace sampling_detail {

// One row's distribution: z [V] (a row of logits) -> p [V], as described in sampling.hpp.
std::vector<double> row_distribution(const double* z, std::int64_t V,
                                     const SamplingOptions& options, std::int64_t row) {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument("sampling_distribution: row " + std::to_string(row) + " " + what);
  };
  std::int64_t best = -1;  // the argmax, the lowest index on ties
  for (std::int64_t i = 0; i < V; ++i) {
    if (std::isnan(z[i]) || z[i] == INFINITY)
      fail("has a logit of " + std::to_string(z[i]) + " at token " + std::to_string(i) +
           ": the model's output is not finite");
    if (z[i] > -INFINITY && (best < 0 || z[i] > z[best])) best = i;
  }
  if (best < 0) fail("has every logit -inf: no token may be drawn");
  std::vector<double> p(V, 0.0);
  if (options.temperature == 0) {  // greedy
    p[best] = 1.0;
    return p;
  }

  // Temperature: p = softmax(z / T). Subtracting the max changes nothing (softmax is
  // shift-invariant) and keeps every exp(...) <= 1, so nothing overflows.
  for (std::int64_t i = 0; i < V; ++i) p[i] = std::exp((z[i] - z[best]) / options.temperature);

  // The tokens from the most likely down, ties by the lower index (a stable sort of 0..V-1).
  // Sorting the logits, not p: two different logits may round to the same p.
  std::vector<std::int64_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return z[a] > z[b]; });

  // Top-k: only the first k of that order keep their weight.
  std::int64_t kept = V;
  if (options.top_k > 0 && options.top_k < V) kept = options.top_k;

  // Top-p on what top-k kept, renormalised: keep the shortest prefix of the order whose
  // probability reaches p. The token that crosses p is part of the nucleus.
  if (options.top_p < 1) {
    double kept_total = 0;
    for (std::int64_t r = 0; r < kept; ++r) kept_total += p[order[r]];
    double running = 0;
    std::int64_t nucleus = kept;
    for (std::int64_t r = 0; r < kept; ++r) {
      running += p[order[r]] / kept_total;
      if (running >= options.top_p) {
        nucleus = r + 1;
        break;
      }
    }
    kept = nucleus;
  }
  for (std::int64_t r = kept; r < V; ++r) p[order[r]] = 0.0;

  // Renormalise what is left so that the row sums to 1.
  double total = 0;
  for (double v : p) total += v;
  for (double& v : p) v /= total;
  return p;
}

// The logits as float64 values on the CPU, checked to be [B, V].
std::vector<double> logit_rows(const Tensor& logits, const char* op) {
  if (logits.dim() != 2 || logits.size(1) == 0)
    throw std::invalid_argument(std::string(op) + ": expected logits [B, V] with V >= 1, got " +
                                tensor::shape_str(logits.shape()));
  return logits.data().to_vector<double>();
}

}  // namespace sampling_detail

Tensor sampling_distribution(const Tensor& logits, const SamplingOptions& options) {
  check_sampling_options(options, "sampling_distribution");
  std::vector<double> z = sampling_detail::logit_rows(logits, "sampling_distribution");
  const std::int64_t B = logits.size(0), V = logits.size(1);
  std::vector<double> probabilities;
  probabilities.reserve(z.size());
  for (std::int64_t b = 0; b < B; ++b) {
    std::vector<double> p = sampling_detail::row_distribution(&z[b * V], V, options, b);
    probabilities.insert(probabilities.end(), p.begin(), p.end());
  }
  return Tensor(tensor::from_vector(probabilities, {B, V}).to(logits.device()));  // [B, V]
}

Tensor sample_next_token(const Tensor& logits, const SamplingOptions& options, Generator& gen) {
  check_sampling_options(options, "sample_next_token");
  std::vector<double> z = sampling_detail::logit_rows(logits, "sample_next_token");
  const std::int64_t B = logits.size(0), V = logits.size(1);
  std::vector<std::int64_t> chosen(B);
  // Greedy needs no random numbers (and draws none, so a greedy step leaves gen as it was).
  std::vector<double> u;
  if (options.temperature > 0) u = tensor::rand({B}, gen, tensor::DType::Float64).to_vector<double>();
  for (std::int64_t b = 0; b < B; ++b) {
    std::vector<double> p = sampling_detail::row_distribution(&z[b * V], V, options, b);
    if (options.temperature == 0) {
      chosen[b] = std::max_element(p.begin(), p.end()) - p.begin();  // the one-hot's token
      continue;
    }
    // Invert the cumulative distribution at u in [0, 1): the first token whose running sum
    // passes u. Token i is picked for u in [p_0 + ... + p_{i-1}, p_0 + ... + p_i): an interval
    // of length p_i. A token of probability 0 is never picked.
    std::int64_t last_possible = 0;
    double running = 0;
    chosen[b] = -1;
    for (std::int64_t i = 0; i < V; ++i) {
      if (p[i] == 0) continue;
      last_possible = i;
      running += p[i];
      if (u[b] < running) {
        chosen[b] = i;
        break;
      }
    }
    // u just below 1 and a running sum rounded just below 1: the last token that may be drawn.
    if (chosen[b] < 0) chosen[b] = last_possible;
  }
  return Tensor(tensor::from_vector(chosen, {B}).to(logits.device()));  // [B]
}

}  // namespace nn
