// 22_rmsnorm_swiglu — Why do LLaMA-style models use RMSNorm and SwiGLU instead of LayerNorm and
//                     a GELU MLP?
//                     为什么 LLaMA 这类模型用 RMSNorm 和 SwiGLU，而不用 LayerNorm 和 GELU 前馈层？
//
// Short answer
//   RMSNorm is LayerNorm without the mean: y = x / rms(x) * w, rms(x) = sqrt(mean(x^2) + eps).
//   It drops the mean subtraction and the bias. Then the output no longer ignores a shift of x
//   (x + c gives a different output); it still ignores the scale of x. The gradient follows: a
//   LayerNorm gradient is orthogonal to the all-ones vector and to x̂, a RMSNorm gradient only to
//   x. It costs one reduction per row instead of two, in the forward and in the backward, and
//   has C parameters instead of 2C, and in practice it trains as well.
//   SwiGLU replaces the MLP's activation with a gate: w2(silu(w1 x) * w3 x). That is three
//   matrices instead of two, so the hidden size goes from 4d to 8d/3 (2 * d * 4d = 3 * d * h) to
//   keep the parameters and FLOPs the same. At equal size it gives a lower loss in the
//   published comparisons ("GLU Variants Improve Transformer", Shazeer 2020), and here too: in
//   the default run the SwiGLU models end about 0.1 nats lower than the GELU ones, several times
//   the spread between seeds, while RMSNorm and LayerNorm end within that spread of each other.
//
// What this program shows
//   1. the two norms on one row: what each keeps (mean 0 and std 1, or RMS 1) and what each
//      ignores (a shift, a scale), checked numerically;
//   2. the gradients: dL/dx of both, derived in the comments and printed, checked against
//      central differences of plain-loop forwards and against autograd on random inputs; LayerNorm's gradient ⟂ 1 and ⟂ x̂, RMSNorm's ⟂ x only (cosines
//      printed and checked); the cost: reductions and parameters counted, kernels timed;
//   3. SwiGLU: the hidden size 8d/3, with the parameters counted on the modules and on paper for
//      GPT-2 small's and LLaMA-7B's widths;
//   4. one small pre-norm decoder (built here from nn modules) trained four ways (LayerNorm or RMSNorm x GELU or SwiGLU) on the same
//      stream of text from a random second-order Markov chain, whose lowest possible loss (its
//      entropy rate) the program computes; several seeds, loss curves in one picture
//      (norms_mlps_loss.png), final losses as mean ± spread in a table.
//
// Run:  build/tutorials/22_rmsnorm_swiglu   (--steps, --seeds, --d-model, --layers, --lr)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/measure.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/tutorial.hpp"
#include "viz/plot.hpp"

using namespace nn;
using autograd::NoGradGuard;

namespace {

// ---- small helpers on rows of numbers ----------------------------------------------------------

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  return dot(a, b) / std::sqrt(dot(a, a) * dot(b, b));
}
std::vector<double> row_of(const std::vector<double>& values, std::int64_t r, std::int64_t C) {
  return std::vector<double>(values.begin() + r * C, values.begin() + (r + 1) * C);
}
double mean_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

// ---- section 2: both backward passes, written out by hand --------------------------------------
// For one row x [C], upstream gradient g = dL/dy [C] and weight w [C]; gw = g * w (= dL/dx̂).
//
// LayerNorm:  mu = mean(x), var = mean((x - mu)^2), r = (var + eps)^(-1/2), x̂ = (x - mu) r,
//             y = x̂ w + b.
//   d mu / dx_i = 1/C;   d r / dx_i = -r^3 (x_i - mu) / C   (the sum of (x - mu) is 0)
//   dx̂_j / dx_i = r ([i = j] - 1/C) - x̂_j x̂_i / C * r
//   => dx = r (gw - mean(gw) 1 - x̂ mean(gw x̂))
//
// RMSNorm:    r = (mean(x^2) + eps)^(-1/2), x̂ = x r, y = x̂ w.
//   d r / dx_i = -r^3 x_i / C
//   dx̂_j / dx_i = r [i = j] - x̂_j x̂_i / C * r
//   => dx = r (gw - x̂ mean(gw x̂))
// RMSNorm's gradient lacks the "- mean(gw) 1" term: nothing was subtracted in the forward.
std::vector<double> layer_norm_dx_by_hand(const std::vector<double>& x, const std::vector<double>& g,
                                          const std::vector<double>& w, double eps) {
  const std::size_t C = x.size();
  double mu = mean_of(x), var = 0;
  for (double v : x) var += (v - mu) * (v - mu) / double(C);
  const double r = 1 / std::sqrt(var + eps);
  double mean_gw = 0, mean_gw_xhat = 0;
  for (std::size_t i = 0; i < C; ++i) {
    mean_gw += g[i] * w[i] / double(C);
    mean_gw_xhat += g[i] * w[i] * (x[i] - mu) * r / double(C);
  }
  std::vector<double> dx(C);
  for (std::size_t i = 0; i < C; ++i)
    dx[i] = r * (g[i] * w[i] - mean_gw - (x[i] - mu) * r * mean_gw_xhat);
  return dx;
}

std::vector<double> rms_norm_dx_by_hand(const std::vector<double>& x, const std::vector<double>& g,
                                        const std::vector<double>& w, double eps) {
  const std::size_t C = x.size();
  const double r = 1 / std::sqrt(dot(x, x) / double(C) + eps);
  double mean_gw_xhat = 0;
  for (std::size_t i = 0; i < C; ++i) mean_gw_xhat += g[i] * w[i] * x[i] * r / double(C);
  std::vector<double> dx(C);
  for (std::size_t i = 0; i < C; ++i) dx[i] = r * (g[i] * w[i] - x[i] * r * mean_gw_xhat);
  return dx;
}

// The same two norms' forward on one row by plain loops, for central differences: the hand
// formulas above are checked against these (independent of autograd), then against autograd.
double layer_norm_loss_by_loops(const std::vector<double>& x, const std::vector<double>& g,
                                const std::vector<double>& w, double eps) {  // sum(g * LN(x)); b adds a constant
  const double mu = mean_of(x);
  double var = 0;
  for (double v : x) var += (v - mu) * (v - mu) / double(x.size());
  double loss = 0;
  for (std::size_t i = 0; i < x.size(); ++i) loss += g[i] * (x[i] - mu) / std::sqrt(var + eps) * w[i];
  return loss;
}
double rms_norm_loss_by_loops(const std::vector<double>& x, const std::vector<double>& g,
                              const std::vector<double>& w, double eps) {  // sum(g * RMSNorm(x))
  const double rms = std::sqrt(dot(x, x) / double(x.size()) + eps);
  double loss = 0;
  for (std::size_t i = 0; i < x.size(); ++i) loss += g[i] * x[i] / rms * w[i];
  return loss;
}
// Largest |hand - (f(x + h e_i) - f(x - h e_i)) / 2h| over i.
template <class Loss>
double worst_against_central_differences(const std::vector<double>& by_hand, std::vector<double> x, Loss loss) {
  const double h = 1e-6;
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = loss(x);
    x[i] = keep - h;
    const double down = loss(x);
    x[i] = keep;
    worst = std::max(worst, std::fabs(by_hand[i] - (up - down) / (2 * h)));
  }
  return worst;
}

// ---- section 4: text from a second-order Markov chain ------------------------------------------
// Each symbol depends on the two before it: P(next = c | a, b). Because we know the chain, we know
// the lowest loss any model can reach on it: the entropy rate H = sum over pairs (a, b) of
// pi(a, b) * H(P(. | a, b)), with pi the stationary distribution of pairs. A model that only
// counted symbols (no context) would reach the unigram entropy, a much higher loss.
class MarkovText {
 public:
  MarkovText(std::int64_t vocab, std::uint64_t seed) : V_(vocab), next_(vocab * vocab * vocab) {
    Generator gen(seed);
    // Peaked rows (logits N(0, 2.5^2)): a few likely successors per context, as in text.
    std::vector<double> logits = tensor::normal({V_ * V_, V_}, 0, 2.5, gen, DType::Float64).to_vector<double>();
    for (std::int64_t ctx = 0; ctx < V_ * V_; ++ctx) {
      double top = *std::max_element(logits.begin() + ctx * V_, logits.begin() + (ctx + 1) * V_), total = 0;
      for (std::int64_t c = 0; c < V_; ++c) total += std::exp(logits[ctx * V_ + c] - top);
      for (std::int64_t c = 0; c < V_; ++c) next_[ctx * V_ + c] = std::exp(logits[ctx * V_ + c] - top) / total;
    }
    // The stationary distribution of pairs, by power iteration: (a, b) -> (b, c) w.p. P(c | a, b).
    pair_.assign(V_ * V_, 1.0 / double(V_ * V_));
    for (int it = 0; it < 2000; ++it) {
      std::vector<double> moved(V_ * V_, 0.0);
      for (std::int64_t a = 0; a < V_; ++a)
        for (std::int64_t b = 0; b < V_; ++b)
          for (std::int64_t c = 0; c < V_; ++c) moved[b * V_ + c] += pair_[a * V_ + b] * next_[(a * V_ + b) * V_ + c];
      pair_ = moved;
    }
    entropy_rate_ = 0;
    for (std::int64_t ctx = 0; ctx < V_ * V_; ++ctx)
      for (std::int64_t c = 0; c < V_; ++c) {
        const double p = next_[ctx * V_ + c];
        if (p > 0) entropy_rate_ -= pair_[ctx] * p * std::log(p);
      }
    std::vector<double> unigram(V_, 0.0);
    for (std::int64_t a = 0; a < V_; ++a)
      for (std::int64_t b = 0; b < V_; ++b) unigram[b] += pair_[a * V_ + b];
    unigram_entropy_ = 0;
    for (double p : unigram) unigram_entropy_ -= p > 0 ? p * std::log(p) : 0;
  }

  // `count` sequences of `length` symbols, row-major; the first pair drawn from pi, so every
  // position is distributed as in a long text.
  std::vector<std::int64_t> sample(std::int64_t count, std::int64_t length, Generator& gen) const {
    std::vector<double> u = tensor::rand({count, length}, gen, DType::Float64).to_vector<double>();
    std::vector<std::int64_t> out(count * length);
    for (std::int64_t s = 0; s < count; ++s) {
      const double* draws = &u[s * length];
      const std::int64_t first = pick(pair_.data(), V_ * V_, draws[0]);
      out[s * length] = first / V_;
      if (length > 1) out[s * length + 1] = first % V_;
      for (std::int64_t t = 2; t < length; ++t) {
        const std::int64_t ctx = out[s * length + t - 2] * V_ + out[s * length + t - 1];
        out[s * length + t] = pick(&next_[ctx * V_], V_, draws[t]);
      }
    }
    return out;
  }
  // -log P(next | two before) averaged over the positions t >= 2 of `sequences`: the true
  // chain's own loss on them (the best any model can expect).
  double chain_loss(const std::vector<std::int64_t>& sequences, std::int64_t length) const {
    double total = 0;
    std::int64_t n = 0;
    for (std::size_t s = 0; s + length <= sequences.size(); s += length)
      for (std::int64_t t = 2; t < length; ++t, ++n) {
        const std::int64_t ctx = sequences[s + t - 2] * V_ + sequences[s + t - 1];
        total -= std::log(next_[ctx * V_ + sequences[s + t]]);
      }
    return total / double(n);
  }
  double entropy_rate() const { return entropy_rate_; }
  double unigram_entropy() const { return unigram_entropy_; }
  std::int64_t vocab() const { return V_; }

 private:
  static std::int64_t pick(const double* probabilities, std::int64_t n, double u) {
    double cumulative = 0;
    for (std::int64_t i = 0; i < n; ++i)
      if ((cumulative += probabilities[i]) > u) return i;
    return n - 1;
  }
  std::int64_t V_;
  std::vector<double> next_, pair_;  // [V*V, V] and [V*V]
  double entropy_rate_ = 0, unigram_entropy_ = 0;
};

// ids [B, T] and targets [B, T] (the ids shifted by one) from sequences of T + 1 symbols. The
// first target of every row (predicted from one symbol only) is ignored: the loss then counts
// exactly the positions whose best possible loss is the entropy rate.
struct LMBatch {
  Tensor ids, targets;
};
LMBatch make_batch(const std::vector<std::int64_t>& sequences, std::int64_t B, std::int64_t T) {
  std::vector<std::int64_t> ids(B * T), targets(B * T);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < T; ++t) {
      ids[b * T + t] = sequences[b * (T + 1) + t];
      targets[b * T + t] = t == 0 ? -100 : sequences[b * (T + 1) + t + 1];
    }
  return {Tensor(tensor::from_vector(ids, {B, T})), Tensor(tensor::from_vector(targets, {B, T}))};
}

// ---- section 4: the model ----------------------------------------------------------------------
// A small GPT-style decoder built here from the nn modules, so that the norm and the MLP are the
// two constructor choices (nn::GPT always uses LayerNorm and a FeedForward). Pre-norm blocks:
//   h = h + attn(norm1(h)),  h = h + mlp(norm2(h)),  logits = head(norm(h)).
std::shared_ptr<UnaryModule> make_norm(const std::string& norm, std::int64_t d_model) {
  if (norm == "rms") return std::make_shared<RMSNorm>(d_model, 1e-5);  // same eps as LayerNorm's
  return std::make_shared<LayerNorm>(d_model, 1e-5);
}
std::shared_ptr<UnaryModule> make_mlp(const std::string& mlp, std::int64_t d_model, Generator& gen) {
  if (mlp == "swiglu") return std::make_shared<SwiGLU>(d_model, swiglu_hidden_dim(d_model), /*bias=*/false, gen);
  return std::make_shared<FeedForward>(d_model, 4 * d_model, "gelu", 0.0, gen);
}

class DecoderBlock : public Module {
 public:
  DecoderBlock(std::int64_t d_model, std::int64_t heads, const std::string& norm, const std::string& mlp,
               Generator& gen) {
    norm1 = register_module("norm1", make_norm(norm, d_model));
    attn = register_module("attn", std::make_shared<MultiheadAttention>(d_model, heads, 0.0, true, gen));
    norm2 = register_module("norm2", make_norm(norm, d_model));
    this->mlp = register_module("mlp", make_mlp(mlp, d_model, gen));
  }
  Tensor forward(const Tensor& h) {  // [B, T, E] -> [B, T, E]
    Tensor a = norm1->forward(h);
    Tensor out = h + attn->forward(a, a, a, {.is_causal = true}).output;
    return out + mlp->forward(norm2->forward(out));
  }
  std::string type_name() const override { return "DecoderBlock"; }
  std::shared_ptr<UnaryModule> norm1, norm2, mlp;
  std::shared_ptr<MultiheadAttention> attn;
};

class TinyDecoder : public Module {
 public:
  TinyDecoder(std::int64_t vocab, std::int64_t context, std::int64_t d_model, std::int64_t heads,
              std::int64_t layers, const std::string& norm, const std::string& mlp, Generator& gen) {
    tok_embed = register_module("tok_embed", std::make_shared<Embedding>(vocab, d_model, gen));
    pos_embed = register_module("pos_embed", std::make_shared<LearnedPositionalEmbedding>(context, d_model, gen));
    blocks = register_module("layers", std::make_shared<ModuleList<DecoderBlock>>());  // layers.<i>.*
    for (std::int64_t i = 0; i < layers; ++i)
      blocks->append(std::make_shared<DecoderBlock>(d_model, heads, norm, mlp, gen));
    this->norm = register_module("norm", make_norm(norm, d_model));
    head = register_module("head", std::make_shared<Linear>(d_model, vocab, false, gen));
  }
  Tensor forward(const Tensor& ids) {  // ids [B, T] -> logits [B, T, V]
    Tensor h = pos_embed->forward(tok_embed->forward(ids));  // [B, T, E]
    for (auto& block : blocks->items()) h = block->forward(h);
    return head->forward(norm->forward(h));
  }
  std::string type_name() const override { return "TinyDecoder"; }
  std::shared_ptr<Embedding> tok_embed;
  std::shared_ptr<LearnedPositionalEmbedding> pos_embed;
  std::shared_ptr<ModuleList<DecoderBlock>> blocks;
  std::shared_ptr<UnaryModule> norm;
  std::shared_ptr<Linear> head;
};

Tensor lm_loss(TinyDecoder& model, const LMBatch& batch) {
  Tensor logits = model.forward(batch.ids);  // [B, T, V]
  return autograd::cross_entropy(autograd::reshape(logits, {-1, logits.size(-1)}),
                                 autograd::reshape(batch.targets, {-1}));
}

struct Variant {
  std::string name, norm, mlp;
};

}  // namespace

const tutorial::Question kQuestion{
    .program = "22_rmsnorm_swiglu",
    .chinese = "为什么 LLaMA 这类模型用 RMSNorm 和 SwiGLU，而不用 LayerNorm 和 GELU 前馈层？",
    .english = "Why do LLaMA-style models use RMSNorm and SwiGLU instead of LayerNorm and a GELU MLP?",
    .answer = "RMSNorm is LayerNorm without the mean subtraction and the bias: y = x / rms(x) * w. It\n"
              "ignores only the scale of x, not a shift, so its gradient is orthogonal to x alone (LayerNorm's\n"
              "to 1 and x̂ too). It needs one reduction per row instead of two and half the parameters, and\n"
              "trains as well. SwiGLU gates the MLP, w2(silu(w1 x) * w3 x): three matrices, so a hidden\n"
              "size of 8d/3 instead of 4d keeps parameters and FLOPs equal; at equal size it tends to\n"
              "reach a lower loss (in the default run: by more than the seed spread; RMSNorm vs LayerNorm:\n"
              "within it).",
    .article = "",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  std::int64_t steps = 150, seeds = 3, d_model = 32, layers = 2, heads = 2, batch = 16, context = 24;
  double lr = 1e-2;
  flags.add("--steps", steps, "training steps per run", tutorial::between(1, 1000000));
  flags.add("--seeds", seeds, "seeds per variant (the spread between them is the noise level)", tutorial::between(1, 20));
  flags.add("--d-model", d_model, "model width (a multiple of the 2 heads)", tutorial::between(2, 1024));
  flags.add("--layers", layers, "decoder blocks", tutorial::between(1, 16));
  flags.add("--lr", lr, "AdamW learning rate", tutorial::positive(10));
  flags.parse(argc, argv);
  if (options.quick) {  // well under a second: one seed of a tiny model, a few steps
    flags.quick(steps, 6), flags.quick(seeds, 1), flags.quick(d_model, 16), flags.quick(layers, 1);
    batch = 4, context = 12;
  }
  tutorial::Flags::require(d_model % heads == 0, "--d-model " + std::to_string(d_model) + " is not a multiple of the " +
                                                     std::to_string(heads) + " attention heads");
  tutorial::Checks checks;

  // ------------------------------------------------------------------------------------------
  tutorial::section("1. Two norms on one row");
  std::printf("  LayerNorm: y = (x - mean(x)) / sqrt(var(x) + eps) * w + b      (2C parameters)\n"
              "  RMSNorm:   y = x / sqrt(mean(x^2) + eps) * w                    (C parameters)\n");
  Tensor row(tensor::from_vector(std::vector<double>{2.0, -1.0, 0.5, 3.5, 1.0, 0.0}, {1, 6}));
  const double eps = 1e-12;  // tiny, so that the invariances below hold to rounding
  Tensor ones = autograd::ones({6}, DType::Float64), zeros = autograd::zeros({6}, DType::Float64);
  Tensor ln = autograd::layer_norm(row, ones, zeros, eps), rms = autograd::rms_norm(row, ones, eps);
  auto print_row = [](const char* label, const Tensor& t) {
    std::printf("  %-14s", label);
    for (double v : t.to_vector<double>()) std::printf(" %7.3f", v);
    std::vector<double> v = t.to_vector<double>();
    std::printf("   mean %6.3f  rms %6.3f\n", mean_of(v), std::sqrt(dot(v, v) / double(v.size())));
  };
  print_row("x", row);
  print_row("LayerNorm(x)", ln);
  print_row("RMSNorm(x)", rms);
  {
    std::vector<double> l = ln.to_vector<double>(), r = rms.to_vector<double>();
    checks.small(std::fabs(mean_of(l)), 1e-12, "LayerNorm's output has mean 0");
    checks.close(std::sqrt(dot(l, l) / 6), 1.0, 1e-9, "LayerNorm's output has std (= RMS, its mean being 0) 1");
    checks.close(std::sqrt(dot(r, r) / 6), 1.0, 1e-9, "RMSNorm's output has RMS 1");
    checks.check(std::fabs(mean_of(r)) > 0.1, "RMSNorm's output keeps a mean (here " + std::to_string(mean_of(r)).substr(0, 5) + "): it is not centred");
  }
  // What each ignores: the output does not change when the input moves in that direction.
  Tensor shifted = row + 3.0, scaled = row * 2.5;
  const double ln_shift = tutorial::max_abs_diff(autograd::layer_norm(shifted, ones, zeros, eps), ln);
  const double rms_shift = tutorial::max_abs_diff(autograd::rms_norm(shifted, ones, eps), rms);
  const double ln_scale = tutorial::max_abs_diff(autograd::layer_norm(scaled, ones, zeros, eps), ln);
  const double rms_scale = tutorial::max_abs_diff(autograd::rms_norm(scaled, ones, eps), rms);
  std::printf("  max change of the output when x -> x + 3: LayerNorm %.1e, RMSNorm %.3f\n", ln_shift, rms_shift);
  std::printf("  max change of the output when x -> 2.5 x: LayerNorm %.1e, RMSNorm %.1e\n", ln_scale, rms_scale);
  checks.small(ln_shift, 1e-12, "LayerNorm ignores a shift of x (it subtracts the mean)");
  checks.check(rms_shift > 0.1, "RMSNorm does not ignore a shift of x");
  checks.small(std::max(ln_scale, rms_scale), 1e-12, "both ignore the scale of x");

  // ------------------------------------------------------------------------------------------
  tutorial::section("2. The gradients, derived and checked");
  double rms_cosine_with_x = 0, rms_cosine_with_ones = 0;  // for the answer at the end
  std::printf("  With gw = dL/dy * w and x̂ the normalised x (derivation in the source):\n"
              "    LayerNorm:  dL/dx = r (gw - mean(gw) 1 - x̂ mean(gw x̂)),   r = 1/sqrt(var + eps)\n"
              "    RMSNorm:    dL/dx = r (gw - x̂ mean(gw x̂)),                r = 1/sqrt(mean(x^2) + eps)\n");
  {
    const std::int64_t R = 8, C = 16;
    Generator gen(options.seed + 1);
    // Rows with a mean far from 0 (where the two norms differ most), weights near 1.
    Tensor x(tensor::normal({R, C}, 1.0, 1.5, gen, DType::Float64), true);
    Tensor w(tensor::uniform({C}, 0.5, 1.5, gen, DType::Float64), true);
    Tensor b(tensor::uniform({C}, -0.5, 0.5, gen, DType::Float64), true);
    Tensor g(tensor::uniform({R, C}, -1, 1, gen, DType::Float64));  // dL/dy
    const double norm_eps = 1e-5;
    autograd::sum(autograd::layer_norm(x, w, b, norm_eps) * g).backward();
    const std::vector<double> ln_dx = x.grad().to_vector<double>();
    x.zero_grad();
    autograd::sum(autograd::rms_norm(x, w, norm_eps) * g).backward();
    const std::vector<double> rms_dx = x.grad().to_vector<double>();

    const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), gv = g.to_vector<double>();
    double worst_ln = 0, worst_rms = 0;
    double fd_ln = 0, fd_rms = 0;  // hand formulas against central differences of the loops
    // Cosines of each row's gradient with the directions the norm ignores, worst over the rows.
    double ln_vs_ones = 0, ln_vs_xhat = 0, rms_vs_x = 0, rms_vs_ones = 0;
    const std::vector<double> one(C, 1.0);
    for (std::int64_t r = 0; r < R; ++r) {
      std::vector<double> xr = row_of(xv, r, C), gr = row_of(gv, r, C);
      std::vector<double> ln_hand = layer_norm_dx_by_hand(xr, gr, wv, norm_eps);
      std::vector<double> rms_hand = rms_norm_dx_by_hand(xr, gr, wv, norm_eps);
      std::vector<double> ln_auto = row_of(ln_dx, r, C), rms_auto = row_of(rms_dx, r, C);
      fd_ln = std::max(fd_ln, worst_against_central_differences(ln_hand, xr, [&](const std::vector<double>& xs) {
        return layer_norm_loss_by_loops(xs, gr, wv, norm_eps);
      }));
      fd_rms = std::max(fd_rms, worst_against_central_differences(rms_hand, xr, [&](const std::vector<double>& xs) {
        return rms_norm_loss_by_loops(xs, gr, wv, norm_eps);
      }));
      for (std::int64_t c = 0; c < C; ++c) {
        worst_ln = std::max(worst_ln, std::fabs(ln_hand[c] - ln_auto[c]));
        worst_rms = std::max(worst_rms, std::fabs(rms_hand[c] - rms_auto[c]));
      }
      std::vector<double> centred = xr;
      const double mu = mean_of(xr);
      for (double& v : centred) v -= mu;  // x̂ is (x - mean) scaled: the same direction
      ln_vs_ones = std::max(ln_vs_ones, std::fabs(cosine(ln_auto, one)));
      ln_vs_xhat = std::max(ln_vs_xhat, std::fabs(cosine(ln_auto, centred)));
      rms_vs_x = std::max(rms_vs_x, std::fabs(cosine(rms_auto, xr)));
      rms_vs_ones = std::max(rms_vs_ones, std::fabs(cosine(rms_auto, one)));
    }
    std::printf("  on %lld random rows of %lld (x ~ N(1, 1.5^2), eps %.0e), autograd's fused kernels against the\n"
                "  formulas above: max |diff| LayerNorm %.1e, RMSNorm %.1e\n",
                (long long)R, (long long)C, norm_eps, worst_ln, worst_rms);
    std::printf("  the formulas against float64 central differences (h = 1e-6) of the forward written as plain\n"
                "  loops: max |diff| LayerNorm %.1e, RMSNorm %.1e\n", fd_ln, fd_rms);
    checks.small(fd_ln, 1e-7, "LayerNorm's dL/dx by hand equals central differences of its forward");
    checks.small(fd_rms, 1e-7, "RMSNorm's dL/dx by hand equals central differences of its forward");
    checks.small(worst_ln, 1e-12, "LayerNorm's dL/dx by hand equals autograd's");
    checks.small(worst_rms, 1e-12, "RMSNorm's dL/dx by hand equals autograd's");
    std::printf("  largest |cosine| over the rows between dL/dx and a direction:\n"
                "    %-10s  with 1: %.1e   with x̂ (= x - mean): %.1e\n"
                "    %-10s  with 1: %.3f   with x: %.1e\n",
                "LayerNorm", ln_vs_ones, ln_vs_xhat, "RMSNorm", rms_vs_ones, rms_vs_x);
    std::printf("  A norm's output does not move along a direction it ignores, so its gradient has no\n"
                "  component there: LayerNorm ignores shifts (1) and scale (x̂), RMSNorm only scale (x).\n"
                "  (Along x̂ and x the cosine is eps / (var + eps) small, not 0: eps breaks the scale\n"
                "  invariance a little.) LayerNorm's gradient sums to 0 over each row exactly.\n");
    checks.small(ln_vs_ones, 1e-12, "LayerNorm's gradient is orthogonal to the all-ones vector");
    checks.small(ln_vs_xhat, 1e-4, "LayerNorm's gradient is orthogonal to x̂ (up to eps)");
    checks.small(rms_vs_x, 1e-4, "RMSNorm's gradient is orthogonal to x (up to eps)");
    checks.check(rms_vs_ones > 0.05, "RMSNorm's gradient is not orthogonal to 1 (a row's mean can move)");
    rms_cosine_with_x = rms_vs_x, rms_cosine_with_ones = rms_vs_ones;
  }
  {
    // The cost: per row, LayerNorm's forward needs two reductions (the mean, then the variance
    // around it) and its backward two (mean(gw) and mean(gw x̂)); RMSNorm needs one of each.
    const std::int64_t rows = options.quick ? 256 : 8192, C = options.quick ? 64 : 256;
    Generator gen(options.seed + 2);
    tensor::Array x = tensor::normal({rows, C}, 0, 1, gen), gy = tensor::normal({rows, C}, 0, 1, gen);
    tensor::Array w = tensor::ones({C}), b = tensor::zeros({C});
    const int repeats = options.quick ? 2 : 5;
    const double ln_seconds = tutorial::best_thread_cpu_seconds(repeats, [&] {
      tensor::LayerNormResult f = tensor::layer_norm(x, w, b, 1e-5);
      tensor::layer_norm_backward(gy, x, w, f.mean, f.rstd, true, true);
    });
    const double rms_seconds = tutorial::best_thread_cpu_seconds(repeats, [&] {
      tensor::RMSNormResult f = tensor::rms_norm(x, w, 1e-5);
      tensor::rms_norm_backward(gy, x, w, f.rstd, true);
    });
    std::printf("\n  cost per row of C values:     LayerNorm         RMSNorm\n"
                "    reductions, forward        2 (mean, var)     1 (mean of x^2)\n"
                "    reductions, backward       2                 1\n"
                "    parameters                 2C (w, b)         C (w)\n"
                "    saved for backward         mean, 1/std       1/rms\n"
                "  timed, forward + backward of [%lld, %lld] float32 (best of %d, one thread):\n"
                "    LayerNorm %.2f ms, RMSNorm %.2f ms (%.2fx)   (timings vary with the machine's load)\n",
                (long long)rows, (long long)C, repeats, 1e3 * ln_seconds, 1e3 * rms_seconds,
                ln_seconds / std::max(rms_seconds, 1e-12));
  }

  // ------------------------------------------------------------------------------------------
  tutorial::section("3. SwiGLU and its hidden size 8d/3");
  std::printf("  GELU MLP:  y = W2 gelu(W1 x)              W1 [4d, d], W2 [d, 4d]:          8 d^2 weights\n"
              "  SwiGLU:    y = w2(silu(w1 x) * w3 x)      w1, w3 [h, d], w2 [d, h]:        3 d h weights\n"
              "  equal when h = 8d/3; silu(z) = z sigmoid(z). The product makes each hidden unit a gated\n"
              "  (quadratic) function of x, where the GELU MLP's is a fixed curve of one projection.\n");
  {
    Generator gen(options.seed + 3);
    auto weights_of = [](Module& m) {  // the matrices' parameters (biases left out)
      std::int64_t n = 0;
      for (auto& [name, p] : m.named_parameters())
        if (name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0) n += p.numel();
      return n;
    };
    std::printf("  %8s %10s %12s %14s %14s %9s\n", "d", "4d (GELU)", "h (SwiGLU)", "GELU weights", "SwiGLU weights",
                "ratio");
    for (std::int64_t d : {d_model, std::int64_t(96)}) {  // counted on the modules
      const std::int64_t h = swiglu_hidden_dim(d);
      FeedForward mlp(d, 4 * d, "gelu", 0.0, gen);
      SwiGLU swiglu(d, h, /*bias=*/false, gen);
      const std::int64_t mlp_weights = weights_of(mlp), swiglu_weights = weights_of(swiglu);
      std::printf("  %8lld %10lld %12lld %14lld %14lld %9.4f   (counted on nn::FeedForward and nn::SwiGLU)\n",
                  (long long)d, (long long)(4 * d), (long long)h, (long long)mlp_weights, (long long)swiglu_weights,
                  double(swiglu_weights) / double(mlp_weights));
      checks.check(mlp_weights == 8 * d * d && swiglu_weights == 3 * d * h,
                   "d = " + std::to_string(d) + ": the modules hold 8 d^2 and 3 d h weights");
      checks.check(swiglu_weights <= mlp_weights && mlp_weights - swiglu_weights < 3 * d,
                   "d = " + std::to_string(d) + ": h = floor(8d/3) matches the GELU MLP to within 3d weights");
    }
    for (auto [d, multiple_of, who] : {std::tuple<std::int64_t, std::int64_t, const char*>{768, 1, "GPT-2 small's width"},
                                       {4096, 256, "LLaMA-7B (multiple_of 256)"}}) {
      const std::int64_t h = swiglu_hidden_dim(d, multiple_of);
      std::printf("  %8lld %10lld %12lld %14lld %14lld %9.4f   (%s, on paper)\n", (long long)d, (long long)(4 * d),
                  (long long)h, (long long)(8 * d * d), (long long)(3 * d * h), double(3 * d * h) / double(8 * d * d), who);
    }
    checks.check(swiglu_hidden_dim(4096, 256) == 11008, "d = 4096 rounded up to a multiple of 256 gives LLaMA-7B's 11008");
    std::printf("  FLOPs per token follow the weights (2 per weight), so at h = 8d/3 both cost the same.\n");
  }

  // ------------------------------------------------------------------------------------------
  tutorial::section("4. One small decoder, trained four ways");
  MarkovText text(/*vocab=*/12, options.seed + 7);
  std::printf("  text: a random second-order Markov chain over 12 symbols (each symbol depends on the two\n"
              "  before it). Lowest possible loss (its entropy rate): %.4f nats; a model that ignored the\n"
              "  context could reach only the unigram entropy, %.4f nats.\n",
              text.entropy_rate(), text.unigram_entropy());
  checks.check(text.entropy_rate() < text.unigram_entropy() - 0.3,
               "the context matters: the entropy rate is well below the unigram entropy");
  Generator held_out_gen(options.seed + 8);
  const std::int64_t held_out_rows = options.quick ? 16 : 256;
  const std::vector<std::int64_t> held_out_text = text.sample(held_out_rows, context + 1, held_out_gen);
  const LMBatch held_out = make_batch(held_out_text, held_out_rows, context);
  // The chain's own loss on the held-out positions that count (t >= 2, see make_batch).
  const double chain_loss = text.chain_loss(held_out_text, context + 1);
  std::printf("  held-out: %lld sequences of %lld; the true chain's own loss on them: %.4f nats\n",
              (long long)held_out_rows, (long long)context + 1, chain_loss);

  const std::vector<Variant> variants = {{"LayerNorm + GELU (GPT-2)", "layer", "gelu"},
                                         {"LayerNorm + SwiGLU", "layer", "swiglu"},
                                         {"RMSNorm + GELU", "rms", "gelu"},
                                         {"RMSNorm + SwiGLU (LLaMA)", "rms", "swiglu"}};
  std::printf("  model: pre-norm decoder, %lld blocks, d_model %lld, %lld heads, context %lld; GELU MLP 4d = %lld wide, SwiGLU\n"
              "  h = %lld; AdamW lr %.0e, batch %lld, %lld steps; %lld seed%s per variant. Within a seed all\n"
              "  four variants see the same batches.\n",
              (long long)layers, (long long)d_model, (long long)heads, (long long)context, (long long)(4 * d_model),
              (long long)swiglu_hidden_dim(d_model), lr, (long long)batch, (long long)steps, (long long)seeds,
              seeds == 1 ? "" : "s");
  std::printf("  (the GELU MLP's two biases, 5d per block, make its models slightly larger: SwiGLU has none)\n");

  struct Result {
    std::vector<double> final_loss;  // held-out loss at the end, per seed
    std::vector<double> curve;       // training loss per step, mean over seeds
    std::int64_t parameters = 0;
    double seconds = 0;
  };
  std::vector<Result> results(variants.size());
  tutorial::Stopwatch total_clock;
  for (std::size_t v = 0; v < variants.size(); ++v) {
    Result& r = results[v];
    r.curve.assign(steps, 0.0);
    for (std::int64_t seed = 0; seed < seeds; ++seed) {
      Generator model_gen(options.seed + 100 + seed), data_gen(options.seed + 200 + seed);
      TinyDecoder model(text.vocab(), context, d_model, heads, layers, variants[v].norm, variants[v].mlp, model_gen);
      r.parameters = model.num_parameters();
      AdamW optimizer(model.parameters(), lr);
      DivergenceGuard guard(tutorial::lower_lr_advice(lr));
      tutorial::Stopwatch clock;
      for (std::int64_t step = 1; step <= steps; ++step) {
        LMBatch train = make_batch(text.sample(batch, context + 1, data_gen), batch, context);
        Tensor loss = lm_loss(model, train);
        optimizer.zero_grad();
        loss.backward();
        guard.check(step, loss.item(), grad_norm(model.parameters()));
        optimizer.step();
        r.curve[step - 1] += loss.item() / double(seeds);
      }
      r.seconds += clock.seconds();
      NoGradGuard no_grad;
      r.final_loss.push_back(lm_loss(model, held_out).item());
    }
    std::printf("  %-26s %6lld parameters   held-out loss %.4f (mean of %lld)   %.1f s\n", variants[v].name.c_str(),
                (long long)r.parameters, mean_of(r.final_loss), (long long)seeds, r.seconds);
    std::fflush(stdout);
  }
  const double total_seconds = total_clock.seconds();

  tutorial::section("5. Results");
  std::printf("  %-26s %10s %18s %16s %12s\n", "variant", "parameters", "held-out loss", "above the chain", "train (last)");
  std::vector<double> means, spreads;
  for (std::size_t v = 0; v < variants.size(); ++v) {
    const Result& r = results[v];
    const double m = mean_of(r.final_loss);
    double spread = 0;  // sample standard deviation over seeds (0 with one seed)
    for (double l : r.final_loss) spread += (l - m) * (l - m);
    spread = r.final_loss.size() > 1 ? std::sqrt(spread / double(r.final_loss.size() - 1)) : 0.0;
    means.push_back(m), spreads.push_back(spread);
    const std::size_t tail = std::min<std::size_t>(10, r.curve.size());
    double last = 0;
    for (std::size_t k = r.curve.size() - tail; k < r.curve.size(); ++k) last += r.curve[k] / double(tail);
    std::printf("  %-26s %10lld %10.4f ± %.4f %16.4f %12.4f\n", variants[v].name.c_str(), (long long)r.parameters, m,
                spread, m - chain_loss, last);
  }
  std::printf("  (held-out loss: mean ± standard deviation over %lld seed%s; above the chain: the excess over the\n"
              "  true chain's loss %.4f on the same positions; train: mean of the last 10 steps' losses)\n",
              (long long)seeds, seeds == 1 ? "" : "s", chain_loss);
  const std::size_t best = std::min_element(means.begin(), means.end()) - means.begin();
  const std::size_t worst = std::max_element(means.begin(), means.end()) - means.begin();
  const double largest_spread = *std::max_element(spreads.begin(), spreads.end());
  std::printf("  lowest: %s (%.4f); highest: %s (%.4f); the gap %.4f against a seed spread of up to %.4f\n",
              variants[best].name.c_str(), means[best], variants[worst].name.c_str(), means[worst],
              means[worst] - means[best], largest_spread);

  {
    viz::LinePlot plot("Training loss, mean of " + std::to_string(seeds) + " seed" + (seeds == 1 ? "" : "s") +
                       ", smoothed over 10 steps");
    plot.set_x_label("step").set_y_label("cross-entropy (nats)").set_markers(viz::MarkerMode::never);
    for (std::size_t v = 0; v < variants.size(); ++v) {
      const std::vector<double>& l = results[v].curve;
      std::vector<double> at, smooth;
      for (std::size_t s = 0; s < l.size(); ++s) {
        const std::size_t from = s >= 9 ? s - 9 : 0;
        double sum = 0;
        for (std::size_t k = from; k <= s; ++k) sum += l[k];
        at.push_back(double(s + 1)), smooth.push_back(sum / double(s - from + 1));
      }
      plot.add_series(variants[v].name, at, smooth);
    }
    plot.add_reference_line(text.entropy_rate(), "entropy rate (lowest possible)");
    plot.add_reference_line(text.unigram_entropy(), "unigram entropy (no context)");
    tutorial::save_picture(plot, options, "norms_mlps_loss.png",
                           "all four curves fall from the unigram line towards the entropy-rate floor; "
                           "how far apart they end, against the spread between seeds in the table");
  }

  tutorial::section("6. Checks");
  for (std::size_t v = 0; v < variants.size(); ++v) {
    // No model can beat the true chain except by luck on a finite sample: allow 0.02 nats.
    checks.check(means[v] >= chain_loss - 0.02, variants[v].name + ": held-out loss is not below the true chain's (" +
                                                    std::to_string(chain_loss).substr(0, 6) + ") beyond sampling noise");
    if (!options.quick)
      checks.check(means[v] < text.unigram_entropy() - 0.3,
                   variants[v].name + ": the model learned to use the context (loss well below the unigram entropy)");
  }
  checks.check(results[0].parameters > results[2].parameters &&
                   results[0].parameters - results[2].parameters == 2 * layers * d_model + d_model,
               "RMSNorm saves one bias of d_model per norm (2 per block + the final one)");
  // Each choice's effect, averaged over the other choice: SwiGLU minus GELU, RMSNorm minus LayerNorm.
  const double swiglu_minus_gelu = (means[1] + means[3] - means[0] - means[2]) / 2;
  const double rms_minus_layer = (means[2] + means[3] - means[0] - means[1]) / 2;
  std::printf("  averaged over the other choice: SwiGLU - GELU %+.4f nats, RMSNorm - LayerNorm %+.4f nats\n"
              "  (seed spread up to %.4f)\n", swiglu_minus_gelu, rms_minus_layer, largest_spread);
  int code = checks.finish();
  char answer[1200];
  std::snprintf(answer, sizeof answer,
                "RMSNorm drops LayerNorm's mean subtraction and bias: its output ignores the scale of x but not a\n"
                "shift, so its gradient is orthogonal to x only (|cosine| <= %.0e with x, up to %.2f with 1 here),\n"
                "while LayerNorm's is also orthogonal to 1 and x̂; one reduction per row instead of two, C\n"
                "parameters instead of 2C.\n"
                "SwiGLU's third matrix is paid for with h = 8d/3 (LLaMA-7B: 11008 for d = 4096, +0.8%% weights).\n"
                "Trained four ways (%lld seed%s, %.1f s): held-out loss %s %.4f, %s %.4f, %s %.4f,\n%s %.4f; "
                "the chain's floor %.4f.\nSwiGLU - GELU: %+.4f nats, RMSNorm - LayerNorm: %+.4f nats (each averaged over the\n"
                "other choice), against a seed spread of up to %.4f.",
                rms_cosine_with_x, rms_cosine_with_ones, (long long)seeds, seeds == 1 ? "" : "s", total_seconds, "LN+GELU", means[0], "LN+SwiGLU", means[1],
                "RMS+GELU", means[2], "RMS+SwiGLU", means[3], chain_loss, swiglu_minus_gelu, rms_minus_layer,
                largest_spread);
  tutorial::print_answer(kQuestion, answer);
  return code;
} catch (...) {
  return tutorial::report_error();
}
