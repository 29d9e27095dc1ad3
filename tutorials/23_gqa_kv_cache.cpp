// 23_gqa_kv_cache — What do multi-query (MQA) and grouped-query attention (GQA) save?
//                   多查询注意力（MQA）和分组查询注意力（GQA）是什么？它们节省了什么？
//
// Short answer
//   When a decoder generates, every new token attends over the keys and values of all earlier
//   tokens, kept in the KV cache. Per sequence the cache holds
//       2 (keys and values) · layers · kv_heads · head_dim · tokens · bytes per number.
//   Standard multi-head attention (MHA) has one key/value head per query head (kv_heads = H).
//   MQA keeps the H query heads but only ONE key/value head, shared by all of them; GQA sits in
//   between: G key/value heads, each shared by a group of H / G query heads (LLaMA-2-70B,
//   LLaMA-3, Mistral). The cache, and the bytes every decoding step must read from memory,
//   shrink by H / kv_heads; the query heads and nearly all the parameters stay. The LLaMA-2-7B
//   shape (MHA) needs 2 GiB of fp16 cache per 4096-token sequence; with 8 kv heads 0.5 GiB, with
//   one 64 MiB. GQA with kv_heads = H is exactly MHA and with kv_heads = 1 exactly MQA.
//
// What this program shows
//   1. the formula against the bytes nn::GPT's KV caches actually hold, for several shapes;
//   2. on paper: the LLaMA-2-7B shape with 32 (MHA), 8 (GQA-8) and 1 (MQA) kv heads: cache per
//      token and per sequence, parameters, sequences that fit next to the weights on an 80 GB GPU
//      (kv_cache_7b.png);
//   3. GQA checked against attention written head by head: kv_heads = H is MHA (also bit for bit
//      the module without the option), kv_heads = 1 is MQA, and GQA is MHA whose key/value
//      projections are tied within each group;
//   4. decode time per token, with and without the cache, by kv heads (measured, never asserted;
//      decode_time.png), and that the cache gives the same tokens;
//   5. the same small model trained with 1, 2 and 4 kv heads on a copy task: parameters, cache,
//      held-out loss and accuracy (gqa_training.png).
//
// Run:  build/tutorials/23_gqa_kv_cache   (--steps, --prefill, --decode; --quick for a short run)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/measure.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/tutorial.hpp"

using namespace nn;
using autograd::NoGradGuard;

namespace {

// ---- the cache formula -------------------------------------------------------------------------

// 2 (keys and values) * layers * kv_heads * head_dim * tokens * bytes, for one sequence.
double kv_cache_bytes(double layers, double kv_heads, double head_dim, double tokens,
                      double bytes_per_number) {
  return 2 * layers * kv_heads * head_dim * tokens * bytes_per_number;
}

// What the caches really hold: the bytes of the storage behind every layer's keys and values.
double bytes_held(const std::vector<KVCache>& caches) {
  double total = 0;
  for (const KVCache& cache : caches)
    total += double(cache.k.data().storage()->nbytes() + cache.v.data().storage()->nbytes());
  return total;
}

// A GPT of LLaMA's shape (rotary positions, RMSNorm, SwiGLU) with `kv_heads` key/value heads.
GPTConfig modern_config(std::int64_t vocab, std::int64_t context, std::int64_t d_model,
                        std::int64_t heads, std::int64_t kv_heads, std::int64_t layers) {
  return GPTConfig{.vocab = vocab,
                   .context = context,
                   .d_model = d_model,
                   .nhead = heads,
                   .num_layers = layers,
                   .dim_feedforward = swiglu_hidden_dim(d_model, 8),
                   .position = "rope",
                   .norm = "rms",
                   .mlp = "swiglu",
                   .num_kv_heads = kv_heads};
}

// ---- attention written head by head ------------------------------------------------------------

// Causal self-attention of `mha` on x [B, T, E], one head at a time with its own slices of the
// projections: query head h attends with key/value head kv_of(h). Independent of the module's
// forward (no split_heads, no repeat_kv): only slices, matmul and softmax.
Tensor attention_by_hand(MultiheadAttention& mha, const Tensor& x,
                         const std::function<std::int64_t(std::int64_t)>& kv_of) {
  auto project = [&](const Tensor& input, Linear& layer) {
    return autograd::matmul(input, layer.weight.t()) + layer.bias;
  };
  const std::int64_t D = mha.head_dim, T = x.size(1);
  Tensor q = project(x, *mha.q_proj);  // [B, T, H*D]
  Tensor k = project(x, *mha.k_proj);  // [B, T, Hkv*D]
  Tensor v = project(x, *mha.v_proj);  // [B, T, Hkv*D]
  Tensor future = causal_mask(T, T);   // [T, T], true above the diagonal
  std::vector<Tensor> heads;
  for (std::int64_t h = 0; h < mha.num_heads; ++h) {
    const std::int64_t g = kv_of(h);
    Tensor q_h = q.slice(2, h * D, (h + 1) * D), k_g = k.slice(2, g * D, (g + 1) * D);
    Tensor v_g = v.slice(2, g * D, (g + 1) * D);                                     // [B, T, D]
    Tensor scores = autograd::matmul(q_h, k_g.transpose(1, 2)) / std::sqrt(double(D));  // [B, T, T]
    scores = autograd::masked_fill(scores, future, -INFINITY);
    heads.push_back(autograd::matmul(autograd::softmax(scores, -1), v_g));
  }
  return project(autograd::cat(heads, 2), *mha.out_proj);  // [B, T, E]
}

// ---- the copy task -----------------------------------------------------------------------------

// x_1 .. x_n SEP x_1 .. x_n: after the separator the model must repeat what it saw, which only
// attention can do (each answer token sits n positions back). Symbols 0..S-1, SEP = S.
struct CopyTask {
  std::int64_t symbols, n;
  std::int64_t sep() const { return symbols; }
  std::int64_t vocab() const { return symbols + 1; }
  std::int64_t length() const { return 2 * n + 1; }
  // A batch: inputs [B, 2n] (the sequence without its last token) and targets [B * 2n], -100
  // (ignored) where the next token is random and nothing can predict it.
  std::pair<Tensor, Tensor> batch(std::int64_t batch_size, Generator& gen) const {
    std::vector<std::int64_t> draws =
        tensor::randint(0, symbols, {batch_size, n}, gen).to_vector<std::int64_t>();
    std::vector<std::int64_t> inputs, targets;
    for (std::int64_t b = 0; b < batch_size; ++b) {
      std::vector<std::int64_t> sequence(draws.begin() + b * n, draws.begin() + (b + 1) * n);
      sequence.push_back(sep());
      sequence.insert(sequence.end(), draws.begin() + b * n, draws.begin() + (b + 1) * n);
      inputs.insert(inputs.end(), sequence.begin(), sequence.end() - 1);
      for (std::int64_t t = 1; t < length(); ++t) targets.push_back(t > n ? sequence[t] : -100);
    }
    return {Tensor(tensor::from_vector(inputs, {batch_size, length() - 1})),
            Tensor(tensor::from_vector(targets, {batch_size * (length() - 1)}))};
  }
};

struct Evaluation {
  double loss, accuracy;  // on the copied half: mean cross-entropy, fraction of argmax right
};

Evaluation evaluate(GPT& model, const CopyTask& task, const Tensor& inputs, const Tensor& targets) {
  NoGradGuard no_grad;
  model.eval();
  Tensor logits = model.forward(inputs).reshape({-1, task.vocab()});  // [B * 2n, V]
  double loss = autograd::cross_entropy(logits, targets).item();
  std::vector<std::int64_t> guess = autograd::argmax(logits, -1).to_vector<std::int64_t>();
  std::vector<std::int64_t> truth = targets.to_vector<std::int64_t>();
  double right = 0, counted = 0;
  for (std::size_t i = 0; i < truth.size(); ++i)
    if (truth[i] >= 0) right += guess[i] == truth[i], counted += 1;
  model.train();
  return {loss, right / counted};
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "23_gqa_kv_cache",
    .chinese = "多查询注意力（MQA）和分组查询注意力（GQA）是什么？它们节省了什么？",
    .english = "What do multi-query (MQA) and grouped-query attention (GQA) save?",
    .answer = "The KV cache: decoding keeps 2 * layers * kv_heads * head_dim * tokens * bytes of keys and\n"
              "values per sequence, and reads all of it for every new token. MHA has kv_heads = H; MQA\n"
              "shares one key/value head among all H query heads, GQA one per group of H / G. Cache and\n"
              "memory traffic shrink by H / kv_heads, while the query heads and almost all parameters\n"
              "stay; GQA with G = H is MHA and with G = 1 is MQA.",
    .article = "",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  std::int64_t steps = 400, batch_size = 32, prefill = 192, decode = 16;
  double lr = 3e-3;
  flags.add("--steps", steps, "training steps of each copy-task model (part 5)", tutorial::between(1, 100000));
  flags.add("--batch", batch_size, "sequences per training step (part 5)", tutorial::between(1, 4096));
  flags.add("--lr", lr, "peak learning rate of part 5 (AdamW, warmup then cosine)", tutorial::positive(10));
  flags.add("--prefill", prefill, "tokens already in the cache when decoding is timed (part 4)",
            tutorial::between(1, 2048));
  flags.add("--decode", decode, "new tokens timed per model (part 4)", tutorial::between(1, 512));
  flags.parse(argc, argv);
  flags.quick(steps, 12), flags.quick(batch_size, 16), flags.quick(prefill, 12), flags.quick(decode, 3);
  tutorial::Checks checks;

  tutorial::section("1. The KV cache: formula vs the bytes it holds");
  std::printf("  cache bytes = 2 (k and v) * layers * kv_heads * head_dim * tokens * bytes per number,\n"
              "  per sequence; nn::GPT's caches after a prompt of `tokens` tokens, batch 2:\n\n");
  std::printf("  layers heads kv_heads head_dim tokens dtype      formula     measured   k per layer\n");
  struct CacheShape {
    std::int64_t layers, heads, kv_heads, head_dim, tokens;
    DType dtype;
  };
  const std::vector<CacheShape> shapes = {{2, 4, 4, 8, 24, DType::Float32}, {2, 4, 2, 8, 24, DType::Float32},
                                     {2, 4, 1, 8, 24, DType::Float32}, {3, 8, 2, 4, 17, DType::Float64},
                                     {1, 6, 3, 6, 9, DType::Float32}};
  bool formula_holds = true;
  {
    NoGradGuard no_grad;
    Generator gen(options.seed);
    const std::int64_t batch = 2;
    for (const CacheShape& s : shapes) {
      GPT model(modern_config(16, s.tokens, s.heads * s.head_dim, s.heads, s.kv_heads, s.layers), gen);
      model.to(s.dtype);
      model.eval();
      Tensor prompt(tensor::randint(0, 16, {batch, s.tokens}, gen));
      std::vector<KVCache> caches;
      // All but one token at once (a prompt), then the last one (a decoding step appends).
      model.forward_cached(prompt.slice(1, 0, s.tokens - 1), caches);
      model.forward_cached(prompt.slice(1, s.tokens - 1, s.tokens), caches);
      double bytes_per_number = s.dtype == DType::Float64 ? 8 : 4;
      double formula = batch * kv_cache_bytes(s.layers, s.kv_heads, s.head_dim, s.tokens, bytes_per_number);
      double measured = bytes_held(caches);
      formula_holds = formula_holds && formula == measured &&
                      caches[0].k.shape() == tensor::Shape{batch, s.kv_heads, s.tokens, s.head_dim};
      std::printf("  %6lld %5lld %8lld %8lld %6lld %-7s %9.0f B  %9.0f B   %s\n", (long long)s.layers,
                  (long long)s.heads, (long long)s.kv_heads, (long long)s.head_dim, (long long)s.tokens,
                  tensor::dtype_name(s.dtype).c_str(), formula, measured,
                  tensor::shape_str(caches[0].k.shape()).c_str());
    }
  }
  checks.check(formula_holds, "every cache holds exactly 2 * layers * kv_heads * head_dim * tokens * bytes "
                              "per sequence, keys [B, kv_heads, tokens, head_dim]");

  tutorial::section("2. On paper: the LLaMA-2-7B shape, 4096 tokens, fp16");
  // 32 layers, 32 query heads of 128, d_model 4096, SwiGLU hidden 11008, vocabulary 32000.
  const double layers7b = 32, heads7b = 32, head_dim7b = 128, d7b = 4096, hidden7b = 11008,
               vocab7b = 32000, tokens7b = 4096, fp16 = 2, gpu_bytes = 80e9;
  struct Variant {
    const char* name;
    double kv_heads;
  };
  const std::vector<Variant> variants = {{"MHA (as released)", 32}, {"GQA-8", 8}, {"MQA", 1}};
  std::vector<double> cache_per_sequence, weight_bytes;
  std::printf("  %.0f layers, %.0f query heads of %.0f (d_model %.0f), SwiGLU hidden %.0f, vocabulary %.0f:\n\n",
              layers7b, heads7b, head_dim7b, d7b, hidden7b, vocab7b);
  std::printf("  %-18s %8s %14s %16s %14s %20s\n", "", "kv heads", "cache / token", "cache / sequence",
              "parameters", "sequences in 80 GB");
  for (const Variant& variant : variants) {
    // Parameters: embeddings and head, per layer q and o [d, d], k and v [kv*128, d], the SwiGLU
    // (three [hidden, d] matrices) and two RMSNorm weights, and the final norm.
    double kv_dim = variant.kv_heads * head_dim7b;
    double per_layer = 2 * d7b * d7b + 2 * kv_dim * d7b + 3 * hidden7b * d7b + 2 * d7b;
    double parameters = 2 * vocab7b * d7b + layers7b * per_layer + d7b;
    double per_token = kv_cache_bytes(layers7b, variant.kv_heads, head_dim7b, 1, fp16);
    double per_sequence = kv_cache_bytes(layers7b, variant.kv_heads, head_dim7b, tokens7b, fp16);
    double fits = std::floor((gpu_bytes - fp16 * parameters) / per_sequence);
    cache_per_sequence.push_back(per_sequence);
    weight_bytes.push_back(fp16 * parameters);
    std::printf("  %-18s %8.0f %14s %16s %13.2fB %20.0f\n", variant.name, variant.kv_heads, tutorial::human_bytes(per_token).c_str(),
                tutorial::human_bytes(per_sequence).c_str(), parameters / 1e9, fits);
  }
  std::printf("  (parameters from the shape: 6.74B for MHA is the published count of LLaMA-2-7B; GQA-8\n"
              "  drops 3/4 of the k and v projections, about 12%%, which LLaMA-2-70B spent on a wider MLP)\n");
  checks.close(cache_per_sequence[0], 2.0 * 1024 * 1024 * 1024, 0, "LLaMA-2-7B: 2 GiB of fp16 cache per 4096-token sequence");
  checks.close(cache_per_sequence[0] / cache_per_sequence[1], 4, 0, "GQA-8 needs 32 / 8 = 4x less cache");
  checks.close(cache_per_sequence[0] / cache_per_sequence[2], 32, 0, "MQA needs 32x less cache");
  {
    viz::LinePlot plot("KV cache of the LLaMA-2-7B shape, 4096 tokens per sequence, fp16");
    plot.set_x_label("sequences in the batch").set_y_label("GiB").set_log_y(true);
    std::vector<double> batch_sizes;
    for (int b = 1; b <= 64; ++b) batch_sizes.push_back(b);
    for (std::size_t i = 0; i < variants.size(); ++i) {
      std::vector<double> gib;
      for (double b : batch_sizes) gib.push_back(b * cache_per_sequence[i] / (1024.0 * 1024 * 1024));
      plot.add_series(std::string(variants[i].name) + " cache", batch_sizes, gib);
    }
    plot.add_reference_line(weight_bytes[0] / (1024.0 * 1024 * 1024), "fp16 weights (MHA)");
    plot.add_reference_line(gpu_bytes / (1024.0 * 1024 * 1024), "80 GB GPU");
    tutorial::save_picture(plot, options, "kv_cache_7b.png",
                           "the MHA cache passes the size of the weights after a handful of sequences; "
                           "on this log scale GQA-8's line runs 4x lower and MQA's 32x lower");
  }

  tutorial::section("3. GQA between MHA and MQA, checked head by head");
  {
    // float64, so that "equal" means equal to rounding: 8 query heads of 4 features.
    Generator gen(options.seed + 3);
    const std::int64_t E = 32, H = 8, T = 6;
    Tensor x(tensor::randn({2, T, E}, gen, DType::Float64));  // [B, T, E]
    auto gqa = [&](std::int64_t kv_heads, std::uint64_t seed) {
      Generator init(seed);
      auto mha = std::make_shared<MultiheadAttention>(E, H, 0.0, true, init, 0, 0, kv_heads);
      mha->to(DType::Float64);
      for (auto& p : mha->parameters())  // non-zero biases, so a bias on the wrong head shows
        if (p.dim() == 1) p.data().copy_(tensor::randn(p.shape(), init, DType::Float64));
      return mha;
    };
    auto output = [&](MultiheadAttention& mha) { return mha(x, x, x, {.is_causal = true}).output; };
    NoGradGuard no_grad;
    for (std::int64_t kv_heads : {H, std::int64_t(2), std::int64_t(1)}) {
      auto mha = gqa(kv_heads, options.seed + 10);
      const std::int64_t groups = H / kv_heads;
      double diff = tutorial::max_abs_diff(
          output(*mha), attention_by_hand(*mha, x, [&](std::int64_t h) { return h / groups; }));
      std::string name = kv_heads == H ? "kv_heads = H = 8: MHA, head h with its own k, v"
                         : kv_heads == 1 ? "kv_heads = 1: MQA, every head with the one k, v"
                                         : "kv_heads = 2: GQA, heads 0-3 share k, v 0; heads 4-7 share 1";
      std::printf("  %-62s k_proj %s\n", name.c_str(), tensor::shape_str(mha->k_proj->weight.shape()).c_str());
      checks.small(diff, 1e-12, name + " (vs attention by hand)");
    }
    // kv_heads = H changes nothing: the same numbers as the module built without the option.
    auto with_option = gqa(H, options.seed + 11);
    Generator plain_init(options.seed + 11);
    MultiheadAttention plain(E, H, 0.0, true, plain_init);
    plain.to(DType::Float64);
    for (auto& p : plain.parameters())
      if (p.dim() == 1) p.data().copy_(tensor::randn(p.shape(), plain_init, DType::Float64));
    checks.check(tutorial::max_abs_diff(output(*with_option), output(plain)) == 0,
                 "num_kv_heads = num_heads gives bit for bit the output of plain MultiheadAttention");
    // GQA is MHA whose k and v projections are tied within each group: copy each kv head's rows
    // of k_proj / v_proj to all heads of its group and MHA gives the GQA's output. (This is how
    // the GQA paper converts an MHA checkpoint the other way: average the group's heads.)
    auto grouped = gqa(2, options.seed + 12);
    Generator mha_init(options.seed + 13);
    MultiheadAttention tied(E, H, 0.0, true, mha_init);
    tied.to(DType::Float64);
    const std::int64_t D = E / H, groups = H / 2;
    for (auto [from, to] : {std::pair{grouped->q_proj, tied.q_proj}, std::pair{grouped->out_proj, tied.out_proj}}) {
      to->weight.data().copy_(from->weight.data());
      to->bias.data().copy_(from->bias.data());
    }
    for (auto [from, to] : {std::pair{grouped->k_proj, tied.k_proj}, std::pair{grouped->v_proj, tied.v_proj}})
      for (std::int64_t h = 0; h < H; ++h) {
        const std::int64_t g = h / groups;
        to->weight.data().slice(0, h * D, (h + 1) * D).copy_(from->weight.data().slice(0, g * D, (g + 1) * D));
        to->bias.data().slice(0, h * D, (h + 1) * D).copy_(from->bias.data().slice(0, g * D, (g + 1) * D));
      }
    checks.small(tutorial::max_abs_diff(output(tied), output(*grouped)), 1e-12,
                 "GQA-2 = MHA with k_proj, v_proj rows repeated within each group of 4 heads");
    std::printf("  parameters: MHA %lld, GQA-2 %lld, MQA %lld (q_proj and out_proj stay; k_proj, v_proj shrink)\n",
                (long long)gqa(H, 1)->num_parameters(), (long long)gqa(2, 1)->num_parameters(),
                (long long)gqa(1, 1)->num_parameters());
  }

  tutorial::section("4. Decode time per token, with and without the cache, by kv heads");
  // A model of LLaMA's shape, untrained (the cost does not depend on the weights): 8 query
  // heads of 16, 2 layers, batch 4. `prefill` tokens are in the context, then `decode` new ones
  // are generated greedily, each step timed: with the cache only the new token runs through the
  // model; without, the whole sequence so far.
  const std::int64_t decode_heads = 8, decode_batch = 4;
  std::vector<double> kv_axis, cached_ms, recomputed_ms;
  bool same_tokens = true;
  std::printf("  d_model 128, 8 heads of 16, 2 layers, batch %lld, %lld tokens in context, %lld new\n"
              "  (CPU time of one thread):\n\n",
              (long long)decode_batch, (long long)prefill, (long long)decode);
  std::printf("  kv heads   cache at the end   parameters   ms/token cached   ms/token recomputed\n");
  {
    NoGradGuard no_grad;
    for (std::int64_t kv_heads : {std::int64_t(8), std::int64_t(4), std::int64_t(2), std::int64_t(1)}) {
      Generator gen(options.seed + 20);
      GPT model(modern_config(64, prefill + decode, 128, decode_heads, kv_heads, 2), gen);
      model.eval();
      Tensor prompt(tensor::randint(0, 64, {decode_batch, prefill}, gen));
      Tensor cached_tokens, recomputed_tokens;
      std::vector<KVCache> caches;
      auto decode_cached = [&] {
        caches.clear();
        Tensor logits = model.forward_cached(prompt, caches), sequence = prompt;
        for (std::int64_t t = 0; t < decode; ++t) {
          Tensor next = sample_next_token(logits.select(1, -1), {}, gen).unsqueeze(1);  // [B, 1]
          sequence = autograd::cat({sequence, next}, 1);
          if (t + 1 < decode) logits = model.forward_cached(next, caches);
        }
        cached_tokens = sequence;
      };
      auto decode_recomputing = [&] {
        Tensor sequence = prompt;
        for (std::int64_t t = 0; t < decode; ++t) {
          Tensor next = sample_next_token(model.forward(sequence).select(1, -1), {}, gen).unsqueeze(1);
          sequence = autograd::cat({sequence, next}, 1);
        }
        recomputed_tokens = sequence;
      };
      // The prefill is the same work both ways; time it alone and take it off the cached run.
      double prefill_seconds = tutorial::best_thread_cpu_seconds(3, [&] {
        std::vector<KVCache> scratch;
        model.forward_cached(prompt, scratch);
      });
      double cached = tutorial::best_thread_cpu_seconds(3, decode_cached) - prefill_seconds;
      double recomputed = tutorial::best_thread_cpu_seconds(2, decode_recomputing);
      same_tokens = same_tokens && tutorial::max_abs_diff(cached_tokens, recomputed_tokens) == 0;
      kv_axis.push_back(double(kv_heads));
      // The cached run computes decode - 1 new steps after the prefill; recomputing runs decode
      // forwards over the whole sequence.
      cached_ms.push_back(1e3 * std::max(cached, 0.0) / double(std::max<std::int64_t>(decode - 1, 1)));
      recomputed_ms.push_back(1e3 * recomputed / double(decode));
      std::printf("  %8lld   %16s   %10lld   %15.3f   %19.3f\n", (long long)kv_heads, tutorial::human_bytes(bytes_held(caches)).c_str(),
                  (long long)model.num_parameters(), cached_ms.back(), recomputed_ms.back());
    }
  }
  checks.check(same_tokens, "for every kv_heads, decoding with the cache gives the same tokens as recomputing");
  std::printf("\n  (measured, not checked: other programs on the machine add noise. Here repeat_kv copies\n"
              "  the kv heads out to all 8 query heads at every step, as LLaMA's reference code does, so\n"
              "  fewer kv heads save little time on a CPU whose caches hold everything; a GPU kernel that\n"
              "  reads each kv head once per group, at long contexts where reading the cache dominates,\n"
              "  turns the H / kv_heads fewer bytes into time.)\n");
  {
    viz::LinePlot plot("Decode time per new token by kv heads (8 query heads)");
    plot.set_x_label("kv heads").set_y_label("ms per token").set_log_y(true);
    plot.add_series("recomputing the whole sequence", kv_axis, recomputed_ms);
    plot.add_series("with the KV cache", kv_axis, cached_ms);
    tutorial::save_picture(plot, options, "decode_time.png",
                           "the cache line sits far below recomputing at every kv_heads; along the x axis "
                           "both stay nearly flat on a CPU (the savings of GQA are memory, section 1-2)");
  }

  tutorial::section("5. Trained with 4, 2 and 1 kv heads: a copy task");
  const CopyTask task{.symbols = 10, .n = 8};
  std::printf("  x1..x8 SEP x1..x8 (10 symbols): after SEP each token is the one 8 back, so attention must\n"
              "  find it. 4 query heads of 8 (d_model 32), 2 layers, RoPE + RMSNorm + SwiGLU; loss on the\n"
              "  copied half, %lld steps of %lld sequences, a fixed held-out set of 512:\n\n",
              (long long)steps, (long long)batch_size);
  Generator held_out_gen(options.seed + 100);
  auto [held_inputs, held_targets] = task.batch(512, held_out_gen);
  struct Trained {
    std::int64_t kv_heads, parameters;
    double cache_bytes_per_token;
    std::vector<double> losses;
    Evaluation before, after;
  };
  std::vector<Trained> trained;
  for (std::int64_t kv_heads : {std::int64_t(4), std::int64_t(2), std::int64_t(1)}) {
    Generator model_gen(options.seed + 200), data_gen(options.seed + 300);  // the same for each
    GPT model(modern_config(task.vocab(), task.length() - 1, 32, 4, kv_heads, 2), model_gen);
    Trained run{kv_heads, model.num_parameters(), kv_cache_bytes(2, kv_heads, 8, 1, 4), {}, {}, {}};
    run.before = evaluate(model, task, held_inputs, held_targets);
    AdamW optimizer(model.parameters(), lr, 0.9, 0.98, 1e-8, 0.01);
    nn::DivergenceGuard guard(tutorial::lower_lr_advice(lr));
    const std::int64_t warmup = std::max<std::int64_t>(1, steps / 10);
    tutorial::Progress progress(steps);
    tutorial::Stopwatch clock;
    for (std::int64_t step = 0; step < steps; ++step) {
      double factor = step < warmup ? double(step + 1) / warmup
                                    : 0.5 * (1 + std::cos(M_PI * double(step - warmup) / double(steps - warmup)));
      optimizer.set_lr(lr * factor);
      auto [inputs, targets] = task.batch(batch_size, data_gen);
      Tensor loss = autograd::cross_entropy(model.forward(inputs).reshape({-1, task.vocab()}), targets);
      optimizer.zero_grad();
      loss.backward();
      guard.check(step + 1, loss.item(), clip_grad_norm_(model.parameters(), 1.0));
      optimizer.step();
      run.losses.push_back(loss.item());
      progress.update(step + 1, loss.item(), double(batch_size * task.n) * (step + 1) / clock.seconds());
    }
    progress.finish();
    run.after = evaluate(model, task, held_inputs, held_targets);
    trained.push_back(run);
  }
  std::printf("\n  kv heads   parameters   cache / token   held-out loss (start -> end)   copied tokens right\n");
  for (const Trained& run : trained)
    std::printf("  %8lld   %10lld   %11.0f B   %12.3f -> %.3f          %6.1f%%\n", (long long)run.kv_heads,
                (long long)run.parameters, run.cache_bytes_per_token, run.before.loss, run.after.loss,
                100 * run.after.accuracy);
  std::printf("  (chance: loss ln 10 = %.3f, 10%% right)\n", std::log(10.0));
  for (const Trained& run : trained)
    checks.check(run.after.loss < run.before.loss,
                 "kv_heads = " + std::to_string(run.kv_heads) + ": the held-out loss went down");
  checks.check(trained[0].parameters > trained[1].parameters && trained[1].parameters > trained[2].parameters,
               "fewer kv heads, fewer parameters (only k_proj and v_proj shrink)");
  {
    viz::LinePlot plot("Copy task: training loss with 4, 2 and 1 kv heads (4 query heads)");
    plot.set_x_label("step").set_y_label("loss on the copied half");
    for (const Trained& run : trained)
      tutorial::add_loss_curve(plot, std::to_string(run.kv_heads) + " kv heads", run.losses);
    tutorial::save_picture(plot, options, "gqa_training.png",
                           "the three curves fall together: on this task one shared k, v head per "
                           "group costs little; where they part, fewer kv heads learn slower");
  }

  int code = checks.finish();
  char answer[900];
  std::snprintf(answer, sizeof answer,
                "The KV cache: 2 * layers * kv_heads * head_dim * tokens * bytes per sequence, matched byte for\n"
                "byte by the caches here. For the LLaMA-2-7B shape at 4096 tokens in fp16 that is %s (MHA),\n"
                "%s with 8 kv heads, %s with one: 4x and 32x more sequences per GPU, for %.0f%% fewer\n"
                "parameters. GQA with kv_heads = H was MHA and with 1 was MQA (checked). Decoding one token\n"
                "took %.2f ms with the cache vs %.2f ms recomputing (8 kv heads); trained with 4/2/1 kv heads\n"
                "the copy task reached %.0f%% / %.0f%% / %.0f%% of copied tokens right.",
                tutorial::human_bytes(cache_per_sequence[0]).c_str(), tutorial::human_bytes(cache_per_sequence[1]).c_str(),
                tutorial::human_bytes(cache_per_sequence[2]).c_str(), 100 * (1 - weight_bytes[1] / weight_bytes[0]), cached_ms[0],
                recomputed_ms[0], 100 * trained[0].after.accuracy, 100 * trained[1].after.accuracy,
                100 * trained[2].after.accuracy);
  tutorial::print_answer(kQuestion, answer);
  return code;
} catch (...) {
  return tutorial::report_error();
}
