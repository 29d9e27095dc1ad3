// 14_gpt_decoder — How is attention used in text generation: how does a decoder-only (GPT) model
//                  generate text?
//                  注意力机制在文本生成（Text Generation）中的应用有哪些？GPT 这类只有解码器的模型
//                  是如何生成文本的？
//                  (The interview article "Attention Mechanism原理与代码实例讲解——面试题和算法编程题
//                  解析" asks the first half and answers it in words only; this program runs it.)
//
// Short answer
//   A GPT is a stack of Transformer blocks with a causal mask: position t attends only to
//   positions <= t. It is trained as a language model — at every position, predict the next token
//   (cross-entropy on the sequence shifted by one) — all positions in one pass. To generate, feed
//   a prompt, turn the logits of the LAST position into a token, append it, and repeat:
//     greedy            argmax: the single most likely token (deterministic);
//     temperature T     sample from softmax(logits / T): T < 1 sharpens, T > 1 flattens;
//     top-k             sample only among the k most likely tokens (k = 1 is greedy).
//   Because of the causal mask, earlier positions never change when a token is appended, so their
//   keys and values can be kept: with a KV cache each step runs ONE new token through the model
//   (O(t) attention) instead of the whole prefix again (O(t^2)), giving the same tokens.
//
// What this program shows
//   1. the data: two-digit additions written as text, "37+45=082"; 10% of all 10,000 problems
//      held out, never trained on;
//   2. the model: nn::GPT, and the causal mask checked (changing a later token leaves earlier
//      logits unchanged);
//   3. training: next-token cross-entropy on the answer digits, until it solves held-out problems;
//   4. greedy decoding of held-out problems; exact-match accuracy;
//   5. sampling: the empirical frequencies of temperature / top-k sampling against the
//      probabilities computed by hand, top-k = 1 identical to greedy, and accuracy vs temperature;
//   6. the KV cache: step-by-step cached logits equal to a full forward, identical generated
//      tokens, and the speedup measured on a longer generation (gpt_kv_cache.png), plus the
//      training curve (gpt_training.png).
//
// Run:  build/tutorials/14_gpt_decoder   (--steps, --d-model, --layers; --cache-len for the timing)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/tutorial.hpp"

using namespace nn;
using autograd::NoGradGuard;

namespace {

// Tokens: digits 0..9 are 0..9, '+' is 10, '=' is 11. A problem is 9 tokens:
//   a1 a2 + b1 b2 = s1 s2 s3        (two-digit operands and a three-digit sum, leading zeros)
// The prompt is the first 6 tokens; the model must write the last 3.
constexpr std::int64_t PLUS = 10, EQUALS = 11, VOCAB = 12, PROMPT = 6, ANSWER = 3, LENGTH = 9;

std::vector<std::int64_t> problem_tokens(std::int64_t a, std::int64_t b) {
  std::int64_t s = a + b;
  return {a / 10, a % 10, PLUS, b / 10, b % 10, EQUALS, s / 100, s / 10 % 10, s % 10};
}

std::string text_of(const std::vector<std::int64_t>& tokens) {
  std::string text;
  for (std::int64_t t : tokens) text += t == PLUS ? '+' : t == EQUALS ? '=' : char('0' + t);
  return text;
}

// Rows of tokens as one [N, width] int64 tensor.
Tensor as_tensor(const std::vector<std::vector<std::int64_t>>& rows, std::int64_t width) {
  std::vector<std::int64_t> flat;
  for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.begin() + width);
  return Tensor(tensor::from_vector(flat, {(std::int64_t)rows.size(), width}));
}

// Fraction of problems whose generated 3 answer tokens are all right.
double exact_match(GPT& model, const std::vector<std::vector<std::int64_t>>& problems,
                   const SamplingOptions& sampling, Generator& gen, std::vector<std::int64_t>* out = nullptr) {
  Tensor generated = model.generate(as_tensor(problems, PROMPT), ANSWER, sampling, gen);  // [N, 9]
  std::vector<std::int64_t> tokens = generated.to_vector<std::int64_t>();
  if (out) *out = tokens;
  std::int64_t right = 0;
  for (std::size_t i = 0; i < problems.size(); ++i)
    right += std::equal(problems[i].begin() + PROMPT, problems[i].end(), tokens.begin() + i * LENGTH + PROMPT);
  return double(right) / double(problems.size());
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "14_gpt_decoder",
    .chinese = "注意力机制在文本生成（Text Generation）中的应用有哪些？GPT 这类只有解码器的模型是如何生成文本的？",
    .english = "How is attention used in text generation: how does a decoder-only (GPT) model generate text?",
    .answer = "Causal self-attention: position t attends only to positions <= t, so one pass trains every\n"
              "position to predict its next token. To generate, the last position's logits pick a token\n"
              "(greedy argmax, or a sample from softmax(z / T) over the top k), it is appended, repeat.\n"
              "Earlier positions never change, so a KV cache keeps their keys and values: each new token\n"
              "costs one position instead of the whole prefix, and gives the same tokens.",
    .article = "Attention Mechanism原理与代码实例讲解——面试题和算法编程题解析",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  std::int64_t d_model = 64, heads = 4, layers = 2, d_ff = 256, held_out_count = 1000;
  std::int64_t batch_size = 64, steps = 800, eval_every = 100, cache_len = 192;
  double lr = 3e-3, target = 0.98;
  flags.add("--d-model", d_model, "model width", tutorial::between(1, 4096));
  flags.add("--heads", heads, "attention heads (must divide --d-model)", tutorial::between(1, 256));
  flags.add("--layers", layers, "Transformer blocks", tutorial::between(1, 64));
  flags.add("--d-ff", d_ff, "feed-forward width", tutorial::between(1, 65536));
  // At least 8: the sections below show 5 held-out problems and check the cache on 8.
  flags.add("--held-out", held_out_count, "problems held out (of 10,000)", tutorial::between(8, 9000));
  flags.add("--batch", batch_size, "problems per step", tutorial::between(1, 16384));
  flags.add("--steps", steps, "most training steps", tutorial::between(1, 1000000));
  flags.add("--lr", lr, "peak learning rate (AdamW, warmup then cosine)", tutorial::positive(10));
  // Above 0: a target of 0 would be reached before the first step, with nothing trained.
  flags.add("--target", target, "stop once held-out exact match reaches this", tutorial::positive(1));
  flags.add("--cache-len", cache_len, "tokens generated when timing the KV cache", tutorial::between(1, 1024));
  std::string save_dir;
  flags.add_output_folder("--save", save_dir,
                          "folder to write part 5's logits, probabilities, samples into as .npy");
  flags.parse(argc, argv);
  if (options.quick) {  // a few seconds: a small model (flags given win)
    flags.quick(d_model, 32), flags.quick(heads, 2), flags.quick(layers, 1), flags.quick(d_ff, 64);
    flags.quick(batch_size, 32), flags.quick(held_out_count, 200);
    flags.quick(steps, std::min<std::int64_t>(steps, 40));
    flags.quick(cache_len, std::min<std::int64_t>(cache_len, 48));
    eval_every = 20;
  }
  tutorial::Flags::require(d_model % heads == 0, "--heads " + std::to_string(heads) +
                                                     " does not divide --d-model " + std::to_string(d_model));
  tutorial::Checks checks;

  tutorial::section("1. The data: addition as text");
  // All 10,000 problems a+b (a, b in 0..99), shuffled; the first held_out_count are held out.
  Generator split_gen(options.seed + 1000), data_gen(options.seed + 1), sample_gen(options.seed + 2);
  std::vector<std::int64_t> order = tensor::randperm(10000, split_gen).to_vector<std::int64_t>();
  std::vector<std::vector<std::int64_t>> held_out, train;
  for (std::size_t i = 0; i < order.size(); ++i)
    (std::int64_t(i) < held_out_count ? held_out : train).push_back(problem_tokens(order[i] / 100, order[i] % 100));
  std::printf("  e.g. %s   %s   %s  (prompt: the first %lld tokens; answer: the last %lld)\n",
              text_of(train[0]).c_str(), text_of(train[1]).c_str(), text_of(train[2]).c_str(),
              (long long)PROMPT, (long long)ANSWER);
  std::printf("  vocabulary: 10 digits, '+', '=' (%lld tokens); %zu problems to train on, %zu held out\n",
              (long long)VOCAB, train.size(), held_out.size());

  tutorial::section("2. The model: causal Transformer blocks");
  Generator model_gen(options.seed);
  GPTConfig config;
  config.vocab = VOCAB, config.context = LENGTH;
  config.d_model = d_model, config.nhead = heads, config.num_layers = layers, config.dim_feedforward = d_ff;
  GPT model(config, model_gen);
  std::printf("  GPT: token + position embeddings, %lld pre-LN blocks (d_model %lld, %lld heads, d_ff %lld),\n"
              "  final LayerNorm, a head to %lld logits: %lld parameters\n",
              (long long)layers, (long long)d_model, (long long)heads, (long long)d_ff, (long long)VOCAB,
              (long long)model.num_parameters());
  {
    // Causal: the logits at positions 0..5 must not change when tokens 6..8 change.
    NoGradGuard no_grad;
    model.eval();
    std::vector<std::int64_t> one = train[0], other = train[0];
    for (std::int64_t t = PROMPT; t < LENGTH; ++t) other[t] = (other[t] + 1) % 10;
    Tensor a = model.forward(as_tensor({one}, LENGTH)), b = model.forward(as_tensor({other}, LENGTH));
    double prefix = tutorial::max_abs_diff(a.slice(1, 0, PROMPT), b.slice(1, 0, PROMPT));
    double rest = tutorial::max_abs_diff(a.slice(1, PROMPT, LENGTH), b.slice(1, PROMPT, LENGTH));
    std::printf("  changing the answer tokens moves the prompt's logits by %.1e, the answer's by %.2f\n", prefix, rest);
    checks.small(prefix, 0, "causal mask: earlier positions never see later tokens");
    model.train();
  }

  tutorial::section("3. Training: predict the next token, loss on the answer digits");
  // Input: tokens 0..7; target: tokens 1..8 (shifted by one). Only the positions that predict an
  // answer digit (targets 6, 7, 8) count: the operands are random, nothing to learn there.
  std::vector<double> losses;
  std::vector<std::pair<std::int64_t, double>> accuracy;
  AdamW optimizer(model.parameters(), lr, 0.9, 0.98, 1e-8, 0.01);
  const std::int64_t warmup = std::max<std::int64_t>(1, steps / 20);
  tutorial::Progress progress(steps, /*may_stop_early=*/true);  // stops at --target
  nn::DivergenceGuard guard(tutorial::lower_lr_advice(lr));      // stops on a NaN or inf
  tutorial::Stopwatch clock;
  double best = 0;
  std::int64_t step = 0;
  std::vector<std::int64_t> ignore(LENGTH - 1, -100);
  while (step < steps && best < target) {
    // Warmup, then cosine decay to 0 at `steps`.
    double factor = step < warmup ? double(step + 1) / warmup
                                  : 0.5 * (1 + std::cos(M_PI * double(step - warmup) / double(steps - warmup)));
    optimizer.set_lr(lr * factor);
    std::vector<std::int64_t> picks = tensor::randint(0, train.size(), {batch_size}, data_gen).to_vector<std::int64_t>();
    std::vector<std::int64_t> inputs, targets;
    for (std::int64_t i : picks) {
      inputs.insert(inputs.end(), train[i].begin(), train[i].end() - 1);
      for (std::int64_t t = 1; t < LENGTH; ++t) targets.push_back(t >= PROMPT ? train[i][t] : -100);
    }
    Tensor logits = model.forward(Tensor(tensor::from_vector(inputs, {batch_size, LENGTH - 1})));  // [B, 8, V]
    Tensor loss = autograd::cross_entropy(logits.reshape({-1, VOCAB}),
                                          Tensor(tensor::from_vector(targets, {batch_size * (LENGTH - 1)})));
    optimizer.zero_grad();
    loss.backward();
    // The norm before clipping: a NaN or inf there stops the run before the update.
    guard.check(step + 1, loss.item(), clip_grad_norm_(model.parameters(), 1.0));
    optimizer.step();
    ++step;
    losses.push_back(loss.item());
    progress.update(step, loss.item(), double(batch_size * (LENGTH - 1)) / (clock.seconds() / step));
    if (step % eval_every == 0 || step == steps) {
      best = exact_match(model, held_out, {}, sample_gen);
      accuracy.emplace_back(step, best);
      char line[120];
      std::snprintf(line, sizeof line, "  step %lld: held-out exact match %.1f%%", (long long)step, 100 * best);
      progress.note(line);
    }
  }
  progress.finish();
  double training_seconds = clock.seconds();
  std::printf("  %lld steps in %.1f s\n", (long long)step, training_seconds);

  tutorial::section("4. Greedy decoding of held-out problems");
  std::vector<std::int64_t> greedy_tokens;
  double greedy = exact_match(model, held_out, {}, sample_gen, &greedy_tokens);
  for (int i = 0; i < 5; ++i) {
    std::vector<std::int64_t> row(greedy_tokens.begin() + i * LENGTH, greedy_tokens.begin() + (i + 1) * LENGTH);
    bool right = row == held_out[i];
    std::printf("  %s  %s\n", text_of(row).c_str(), right ? "(right)" : ("(expected " + text_of(held_out[i]) + ")").c_str());
  }
  std::printf("  held-out exact match (greedy): %.1f%% of %zu problems never seen in training\n", 100 * greedy,
              held_out.size());
  {
    // Independent check of the answers: the sum computed with integers, not by the model.
    std::int64_t right = 0;
    for (std::size_t i = 0; i < held_out.size(); ++i) {
      const std::int64_t* g = &greedy_tokens[i * LENGTH];
      std::int64_t a = g[0] * 10 + g[1], b = g[3] * 10 + g[4], s = g[6] * 100 + g[7] * 10 + g[8];
      right += s == a + b;
    }
    checks.close(double(right) / held_out.size(), greedy, 1e-12, "exact match agrees with integer arithmetic on the outputs");
  }

  tutorial::section("5. Sampling: temperature and top-k");
  {
    // The model's distribution for the first answer digit of a held-out problem whose
    // prediction is least certain (so that sampling has something to choose between).
    NoGradGuard no_grad;
    model.eval();
    Tensor first_digit = model.forward(as_tensor(held_out, PROMPT)).select(1, PROMPT - 1);  // [N, V]
    tensor::Array top = tensor::amax(tensor::softmax(first_digit.data(), -1), {-1});  // [N]
    std::int64_t pick = tensor::argmin(top, 0).item<std::int64_t>();
    Tensor logits = first_digit.select(0, pick);  // [V]
    std::vector<double> z = logits.to_vector<double>();
    std::printf("  prompt %s  (first answer digit)\n", text_of({held_out[pick].begin(), held_out[pick].begin() + PROMPT}).c_str());
    const std::int64_t draws = options.quick ? 2000 : 20000;
    struct Setting { double temperature; std::int64_t top_k; };
    double worst = 0;
    std::vector<std::pair<std::string, Tensor>> saved = {{"logits", logits.detach()}};  // [V]
    for (Setting setting : {Setting{1.0, 0}, Setting{2.0, 0}, Setting{1.0, 2}}) {
      // By hand: keep the top_k largest logits, p = softmax(z / T) over them.
      std::vector<double> p(VOCAB, 0.0);
      std::vector<double> sorted = z;
      std::sort(sorted.rbegin(), sorted.rend());
      double threshold = setting.top_k > 0 ? sorted[setting.top_k - 1] : -INFINITY, total = 0;
      for (std::int64_t v = 0; v < VOCAB; ++v)
        if (z[v] >= threshold) total += (p[v] = std::exp((z[v] - sorted[0]) / setting.temperature));
      for (double& x : p) x /= total;
      // The library: `draws` samples from the same logits, counted.
      Tensor batch = logits.unsqueeze(0).expand({draws, VOCAB}).contiguous();
      std::vector<std::int64_t> samples =
          sample_next_token(batch, {setting.temperature, setting.top_k}, sample_gen).to_vector<std::int64_t>();
      std::vector<double> freq(VOCAB, 0.0);
      for (std::int64_t s : samples) freq[s] += 1.0 / draws;
      // e.g. probs_T2_k0.npy: the probabilities by hand; freq_T2_k0.npy: the sampled frequencies.
      std::string setting_name =
          "_T" + std::to_string(int(setting.temperature)) + "_k" + std::to_string(setting.top_k);
      saved.emplace_back("probs" + setting_name, autograd::from_vector(p, {VOCAB}));
      saved.emplace_back("freq" + setting_name, autograd::from_vector(freq, {VOCAB}));
      std::printf("  T=%.1f top-k=%-2lld  token:     ", setting.temperature, (long long)setting.top_k);
      for (std::int64_t v = 0; v < 10; ++v) std::printf("%6lld", (long long)v);
      std::printf("\n                    by hand:   ");
      for (std::int64_t v = 0; v < 10; ++v) std::printf("%6.3f", p[v]);
      std::printf("\n                    sampled:   ");
      for (std::int64_t v = 0; v < 10; ++v) std::printf("%6.3f", freq[v]);
      std::printf("\n");
      for (std::int64_t v = 0; v < VOCAB; ++v) {
        // A frequency from n draws has standard deviation sqrt(p (1 - p) / n); allow 5 of them.
        double sd = std::sqrt(p[v] * (1 - p[v]) / draws);
        worst = std::max(worst, std::fabs(freq[v] - p[v]) / (5 * sd + 1e-12));
        if (p[v] == 0 && freq[v] > 0) worst = INFINITY;  // top-k must never pick outside the top k
      }
    }
    checks.check(worst <= 1.0, "sampled frequencies match softmax(z / T) over the top k (within 5 sd)");
    saved.emplace_back("draws", autograd::from_vector(std::vector<double>{double(draws)}, {1}));
    tutorial::save_npy_files(save_dir, saved);

    std::vector<std::int64_t> top1;
    exact_match(model, held_out, {1.0, 1}, sample_gen, &top1);
    checks.check(top1 == greedy_tokens, "top-k = 1 sampling gives exactly the greedy tokens");
    std::printf("\n  held-out exact match by decoding rule (one answer is right, so sampling only adds errors):\n");
    std::printf("    greedy           %5.1f%%\n", 100 * greedy);
    for (double temperature : {0.5, 1.0, 1.5, 2.0}) {
      double m = exact_match(model, held_out, {temperature, 0}, sample_gen);
      std::printf("    temperature %.1f  %5.1f%%\n", temperature, 100 * m);
    }
    std::printf("    T=1.0, top-k 2   %5.1f%%\n", 100 * exact_match(model, held_out, {1.0, 2}, sample_gen));
  }

  tutorial::section("6. The KV cache: same tokens, less work");
  double cached_seconds = 0, recompute_seconds = 0;
  std::vector<double> step_cached, step_recompute;
  {
    NoGradGuard no_grad;
    model.eval();
    // (a) Cached logits, one token at a time, equal the logits of one full forward.
    Tensor ids = as_tensor({held_out.begin(), held_out.begin() + 8}, LENGTH);
    Tensor full = model.forward(ids);  // [8, 9, V]
    std::vector<KVCache> caches;
    double worst = 0;
    for (std::int64_t t = 0; t < LENGTH; ++t) {
      Tensor one = model.forward_cached(ids.slice(1, t, t + 1), caches);  // [8, 1, V]
      worst = std::max(worst, tutorial::max_abs_diff(one.select(1, 0), full.select(1, t)));
    }
    std::printf("  cache after 9 steps: k %s per layer; cached vs full logits differ by %.1e\n",
                tensor::shape_str(caches[0].k.shape()).c_str(), worst);
    checks.small(worst, 1e-4, "token-by-token cached logits equal the full forward's");
    // (b) The same tokens from generate() with and without the cache, greedy and sampled.
    Generator g1(7), g2(7);
    Tensor prompts = as_tensor(held_out, PROMPT);
    bool same_greedy = tutorial::max_abs_diff(model.generate(prompts, ANSWER, {}, g1, true),
                                              model.generate(prompts, ANSWER, {}, g2, false)) == 0;
    bool same_sampled =
        tutorial::max_abs_diff(model.generate(prompts, ANSWER, {1.0, 0}, g1, true),
                               model.generate(prompts, ANSWER, {1.0, 0}, g2, false)) == 0;
    checks.check(same_greedy, "generate(): cached and recomputed greedy tokens are identical");
    checks.check(same_sampled, "generate(): cached and recomputed sampled tokens (same seed) are identical");

    // (c) Timing on a longer generation: a model with a longer context (untrained weights: the
    // cost does not depend on what the weights are), one prompt token, cache_len new tokens.
    GPTConfig long_config = config;
    long_config.context = cache_len + 1;
    GPT long_model(long_config, model_gen);
    Tensor prompt(tensor::zeros({1, 1}, DType::Int64));
    auto seconds_since = [](auto start) {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    // Step by step, timing each new token: with the cache only the new token goes through the
    // model; without, the whole sequence so far. Each way runs a few times and keeps, per
    // position, the fastest time (other programs on the machine only ever add time).
    auto generate_timed = [&](bool use_cache, int repeats, std::vector<double>& per_step) {
      per_step.assign(cache_len, INFINITY);
      Tensor sequence;
      for (int r = 0; r < repeats; ++r) {
        sequence = prompt;
        std::vector<KVCache> cache;
        for (std::int64_t t = 0; t < cache_len; ++t) {
          auto start = std::chrono::steady_clock::now();
          Tensor logits = use_cache ? long_model.forward_cached(sequence.slice(1, t, t + 1), cache)
                                    : long_model.forward(sequence);
          Tensor next = sample_next_token(logits.select(1, -1), {}, sample_gen).unsqueeze(1);
          per_step[t] = std::min(per_step[t], seconds_since(start));
          sequence = autograd::cat({sequence, next}, 1);
        }
      }
      return sequence;
    };
    Tensor sequence = generate_timed(true, 5, step_cached);
    Tensor recomputed = generate_timed(false, 2, step_recompute);
    checks.check(tutorial::max_abs_diff(sequence, recomputed) == 0,
                 "the " + std::to_string(cache_len) +
                     "-token generation is identical with and without the cache");
    for (double s : step_cached) cached_seconds += s;
    for (double s : step_recompute) recompute_seconds += s;
    double processed = double(cache_len) * double(cache_len + 1) / 2;
    std::printf("  %lld new tokens: with the cache %.3f s, recomputing %.3f s: %.1fx faster\n"
                "  (positions run through the model: %lld with the cache, %.0f without: 1 + 2 + ... + %lld)\n",
                (long long)cache_len, cached_seconds, recompute_seconds, recompute_seconds / cached_seconds,
                (long long)cache_len, processed, (long long)cache_len);
    std::printf("  last step: %.2f ms cached vs %.2f ms recomputed\n", 1e3 * step_cached.back(),
                1e3 * step_recompute.back());
    if (!options.quick)
      checks.check(recompute_seconds > 2 * cached_seconds, "the KV cache is at least 2x faster on a long generation");
  }

  tutorial::section("7. Pictures");
  {
    viz::LinePlot plot("GPT on addition: training loss and held-out exact match");
    plot.set_x_label("step").set_y_label("loss on answer digits / exact match").set_y_range(0, 2.5);
    tutorial::add_loss_curve(plot, "training loss", losses);
    tutorial::add_eval_curve(plot, "held-out exact match (greedy)", accuracy);
    plot.add_reference_line(target, "target");
    tutorial::save_picture(plot, options, "gpt_training.png",
                           "the loss falls from about log 10 = 2.3 (a guessed digit); exact match "
                           "stays near 0 until most digits are right, then rises to the target");

    viz::LinePlot timing("Time per new token: KV cache vs recompute");
    std::vector<double> position, cached_ms, recompute_ms;
    for (std::size_t t = 0; t < step_cached.size(); ++t) {
      position.push_back(double(t + 1));
      cached_ms.push_back(1e3 * step_cached[t]);
      recompute_ms.push_back(1e3 * step_recompute[t]);
    }
    timing.set_x_label("length of the sequence so far (tokens)").set_y_label("milliseconds for this token");
    timing.set_log_y(true);
    timing.add_series("no cache", position, recompute_ms);
    timing.add_series("KV cache", position, cached_ms);
    tutorial::save_picture(timing, options, "gpt_kv_cache.png",
                           "without the cache each new token costs more the longer the sequence; "
                           "with it the cost per token stays nearly flat");
  }

  tutorial::section("8. Checks");
  checks.check(losses.back() < losses.front(), "the training loss went down");
  if (!options.quick)
    checks.check(greedy >= target, "held-out exact match reached the target of " +
                                       std::to_string((int)std::lround(100 * target)) + "%");
  int code = checks.finish();
  std::printf("held-out exact match: %.1f%% after %lld steps, %.1f s of training; KV cache %.1fx faster over %lld tokens\n",
              100 * greedy, (long long)step, training_seconds, recompute_seconds / cached_seconds, (long long)cache_len);
  char answer[600];
  std::snprintf(answer, sizeof answer,
                "Causal self-attention trained on next-token prediction: %lld steps (%.1f s) took the loss on\n"
                "the answer digits from %.3f to %.3f, and greedy decoding solves %.1f%% of held-out sums.\n"
                "Sampling from softmax(z / T) over the top k matched the hand-computed probabilities; top-k 1\n"
                "is greedy. The KV cache gave the same tokens, %.1fx faster over %lld generated tokens.",
                (long long)step, training_seconds, losses.front(), losses.back(), 100 * greedy,
                recompute_seconds / cached_seconds, (long long)cache_len);
  tutorial::print_answer(kQuestion, answer);
  std::printf("\nPython twin: tutorials/python/14_gpt_decoder.py (make python)\n");
  return code;
} catch (...) {
  return tutorial::report_error();
}
