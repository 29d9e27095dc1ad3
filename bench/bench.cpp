// bench.cpp — `make bench`: how fast are our kernels and models, next to PyTorch and NumPy on
// this machine?
//
//   build/bench/bench [--quick] [--threads N] [--runs N] [--only NAMES] [--with-run]
//                     [--with-tutorials] [--tutorials NAMES] [--tutorial-runs N] [--rss-steps N]
//                     [--json out/bench.json] [--no-python] [--python-exe PATH]
//                     [--peer-coretype auto|measure|KERNEL]
//                     [--peer-capability auto|measure|default|avx2|avx512]
//
// Every benchmark is one entry of the list in `benchmarks()`: a name, a unit and a function that
// measures our figure. bench/torch_bench.py keeps the same list for PyTorch and NumPy. This
// program runs that script (with Debian's /usr/bin/python3, the same threads, runs and sizes),
// merges its rows by name, prints one table, and writes the JSON file:
//
//   {"machine": ..., "threads": N, "fp32_peak_gflops": ..., "blas_kernel": ...,
//    "aten_cpu_capability": ..., "peer": {how the two were chosen},
//    "rows": [{"name": "sgemm-512", "unit": "GFLOP/s", "ours": ..., "torch": ..., "numpy": ...,
//              "ratio": ...},
//             {"name": "gpt-small", "unit": "ms", "ours": ..., "torch": ..., "ratio": ...,
//              "ours_params": 817920, "torch_params": 817920, "torch_attention": ...}, ...]}
//
// ratio compares us with torch so that > 1 always means we are better: ours / torch for rates
// (GFLOP/s) and speed-ups (x), torch / ours for times and sizes (ms, s, MB). A row's other keys are details: ours_*
// from this program, torch_* passed through from torch_bench.py.
//
// The rows:
//   sgemm-N, sgemm-N-bT, bmm-*   one matrix product (GFLOP/s, and the fraction of the fp32 peak)
//   attention-fwd-bwd            one multi-head self-attention layer, forward and backward (ms)
//   gpt-small, seq2seq-small     one training step of a small GPT / encoder-decoder (ms)
//   gpt-small-1thread            the same gpt-small step with both sides on one thread (ms)
//   scaling                      gpt-small's 2-thread speed-up: ms at 1 thread / ms at 2 (x)
//   *-peak-rss                   peak resident memory of a process that trains that model (MB)
//   reverse-to-99                with --with-run: seconds of training of `make run` (s)
//   tutorials-all-cores-vs-one   with --with-tutorials: every tutorial with its defaults at
//                                --threads 0 and at --threads 1 (in turns, best of
//                                --tutorial-runs each, default 3); the worst (largest) ratio of
//                                the wall times, all cores / one (t0/t1, ours only: <= 1 means
//                                every core never loses)
//
// The peer at its best, whatever the environment: torch_bench.py chooses OPENBLAS_CORETYPE and
// ATEN_CPU_CAPABILITY for the cpu (an inherited OPENBLAS_CORETYPE=Haswell would cost torch up
// to 45% on an AVX-512 cpu), timing the candidates where the flags do not settle it, unless
// --peer-coretype / --peer-capability ask for one; the header and out/bench.json say what ran.
// Every row that builds a model (attention, gpt, seq2seq, peak-rss, reverse-to-99) must count
// the same parameters on both sides; when they differ the bench says so and exits non-zero (the
// comparison would be between different models). So does a row of ours that fails.
//
// Peak memory needs a fresh process per model: the program runs itself again with the hidden
// flag --rss-child NAME (see peak_rss_mb).
//
// To add a row: write a function returning our figure, add one line to `benchmarks()` here and
// one entry to BENCHMARKS in torch_bench.py under the same name.
#include <immintrin.h>
#include <omp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "autograd/autograd.hpp"
#include "nn/attention.hpp"
#include "nn/optim.hpp"
#include "nn/transformer.hpp"
#include "tensor/cpu/gemm.hpp"
#include "tensor/ops.hpp"
#include "tensor/random.hpp"

namespace {

using autograd::Tensor;

struct Options {
  bool quick = false;     // a few seconds: small sizes, one run (CI smoke test)
  int threads = 0;        // 0 = one per core
  int runs = 7;           // timed runs per benchmark; the median is reported
  std::string only;       // comma-separated row names or prefixes; empty = every row
  bool with_run = false;  // also the reverse-to-99 row (minutes; seconds with --quick)
  int rss_steps = 5;      // training steps of a peak-RSS child (torch_bench.py's --rss-steps)
  std::string json = "out/bench.json";
  bool python = true;  // also run torch_bench.py for the torch and numpy columns
  std::string python_exe = "/usr/bin/python3";
  std::string rss_child;  // hidden: be the peak-RSS child for this model (see peak_rss_mb)
  bool with_tutorials = false;  // also the tutorials-all-cores-vs-one row (many minutes)
  std::string tutorials;        // comma-separated tutorial names or prefixes; empty = all
  int tutorial_runs = 3;        // runs of each tutorial at each thread count (the fastest counts)
  std::string peer_coretype = "auto";    // torch_bench.py's --peer-coretype
  std::string peer_capability = "auto";  // torch_bench.py's --peer-capability
};

// ---- timing --------------------------------------------------------------------------------

// Median wall-clock seconds of `runs` calls of f, after `warmup` untimed calls (which pay for
// first-touch page faults, thread start-up and cold caches; in training, also for Adam's
// state, created on the first step).
double median_seconds(const std::function<void()>& f, int runs, int warmup = 1) {
  for (int w = 0; w < warmup; ++w) f();
  std::vector<double> seconds;
  for (int r = 0; r < runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    f();
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

// ---- the machine's fp32 peak -----------------------------------------------------------------
//
// Each thread runs 12 independent chains of fused multiply-adds on registers (no memory
// traffic): enough chains to cover the FMA latency (4 cycles) on both FMA units, so the loop
// runs at the core's FMA throughput. One FMA on a 16-float register is 32 flops.

#if defined(__AVX512F__)
using PeakVec = __m512;
constexpr int kPeakLanes = 16;
PeakVec peak_fma(PeakVec a, PeakVec b, PeakVec c) {
  return _mm512_fmadd_ps(a, b, c);
}
PeakVec peak_set1(float x) {
  return _mm512_set1_ps(x);
}
float peak_sum(PeakVec v) {
  float lanes[16];
  _mm512_storeu_ps(lanes, v);
  float sum = 0;
  for (float lane : lanes) sum += lane;
  return sum;
}
#elif defined(__AVX2__) && defined(__FMA__)
using PeakVec = __m256;
constexpr int kPeakLanes = 8;
PeakVec peak_fma(PeakVec a, PeakVec b, PeakVec c) {
  return _mm256_fmadd_ps(a, b, c);
}
PeakVec peak_set1(float x) {
  return _mm256_set1_ps(x);
}
float peak_sum(PeakVec v) {
  float lanes[8];
  _mm256_storeu_ps(lanes, v);
  float sum = 0;
  for (float lane : lanes) sum += lane;
  return sum;
}
#else
using PeakVec = float;
constexpr int kPeakLanes = 1;
PeakVec peak_fma(PeakVec a, PeakVec b, PeakVec c) {
  return a * b + c;
}
PeakVec peak_set1(float x) {
  return x;
}
float peak_sum(PeakVec v) {
  return v;
}
#endif

float fma_chains(std::int64_t iterations) {
  constexpr int kChains = 12;
  PeakVec acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = peak_set1(float(i));
  const PeakVec scale = peak_set1(0.999f), shift = peak_set1(0.001f);
  for (std::int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = peak_fma(acc[i], scale, shift);
  }
  float sum = 0;
  for (int i = 0; i < kChains; ++i) sum += peak_sum(acc[i]);
  return sum;  // returned so the compiler cannot drop the loop
}

// Best of a few tries (the peak is what the hardware can do; a slower try was disturbed).
double measure_fp32_peak_gflops(int threads, bool quick) {
  const std::int64_t iterations = quick ? 2'000'000 : 20'000'000;
  const double flops = double(threads) * iterations * 12 * kPeakLanes * 2;
  double best = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    float total = 0;
    auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
    {
      float sum = fma_chains(iterations);
#pragma omp atomic
      total += sum;
    }
    volatile float sink = total;  // keeps the loops alive
    (void)sink;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, flops / seconds / 1e9);
  }
  return best;
}

// ---- details of a row, and other programs' output -------------------------------------------

// A value of a flat JSON object ({"key": value, ...}) as text: a string (is_string, kept without
// its quotes), or a number, true, false or null written as JSON writes them.
struct JsonValue {
  std::string text;
  bool is_string = false;
};
using FlatJson = std::map<std::string, JsonValue>;

JsonValue json_integer(long long value) {
  return {std::to_string(value)};
}
JsonValue json_real(double value) {
  if (std::isnan(value)) return {"null"};
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value);
  return {text};
}
JsonValue json_text(const std::string& text) {
  return {text, true};
}

double to_number(const FlatJson& fields, const std::string& key) {
  auto it = fields.find(key);
  if (it == fields.end() || it->second.is_string || it->second.text.empty() ||
      it->second.text == "null")
    return NAN;
  try {
    return std::stod(it->second.text);
  } catch (const std::exception&) {
    return NAN;
  }
}

// One flat JSON object per line, as torch_bench.py and our peak-RSS child print them.
FlatJson parse_flat_json(const std::string& line) {
  FlatJson fields;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
  };
  auto read_string = [&] {
    std::string text;
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        char escaped = line[++i];
        text += escaped == 'n' ? '\n' : escaped == 't' ? '\t' : escaped;
        continue;
      }
      text += line[i];
    }
    ++i;  // the closing quote
    return text;
  };
  skip_space();
  if (i >= line.size() || line[i] != '{') return fields;
  ++i;
  while (true) {
    skip_space();
    if (i >= line.size() || line[i] != '"') break;
    std::string key = read_string();
    skip_space();
    if (i >= line.size() || line[i] != ':') break;
    ++i;
    skip_space();
    JsonValue value;
    if (i < line.size() && line[i] == '"') {
      value = json_text(read_string());
    } else {
      while (i < line.size() && line[i] != ',' && line[i] != '}') value.text += line[i++];
      while (!value.text.empty() && std::isspace(static_cast<unsigned char>(value.text.back())))
        value.text.pop_back();
    }
    fields[key] = value;
    skip_space();
    if (i < line.size() && line[i] == ',') ++i;
  }
  return fields;
}

// A command's exit code (-1 when it could not start or was killed) and its output (stdout and
// stderr together), line by line.
struct CommandResult {
  int status = -1;
  std::vector<std::string> lines;
  std::string tail(std::size_t count = 8) const {
    std::string text;
    for (std::size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i)
      text += "\n      " + lines[i];
    return text;
  }
};

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::string line;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) {
    line += buffer;
    if (line.back() != '\n') continue;  // a line longer than the buffer: read on
    line.pop_back();
    result.lines.push_back(line);
    line.clear();
  }
  if (!line.empty()) result.lines.push_back(line);
  int status = pclose(pipe);
  result.status = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// 'text' for the shell (a path with spaces stays one argument).
std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// ---- the kernel rows -----------------------------------------------------------------------

// sgemm: C = A @ B, all [n, n] float32, through the public op (allocating C, as torch does).
double sgemm_gflops(std::int64_t n, const Options& options) {
  tensor::Generator gen(1);
  tensor::Array a = tensor::uniform({n, n}, -1, 1, gen);
  tensor::Array b = tensor::uniform({n, n}, -1, 1, gen);
  double seconds = median_seconds([&] { tensor::matmul(a, b); }, options.runs);
  return 2.0 * n * n * n / seconds / 1e9;
}

// sgemm with B^T: C = A @ B.transpose(), B stored [n, n] row-major: the layout of attention's
// q @ k^T and of every backward pass (dA = dC @ B^T), read through strides without a copy.
double sgemm_transposed_b_gflops(std::int64_t n, const Options& options) {
  tensor::Generator gen(2);
  tensor::Array a = tensor::uniform({n, n}, -1, 1, gen);
  tensor::Array b = tensor::uniform({n, n}, -1, 1, gen);
  double seconds = median_seconds([&] { tensor::matmul(a, b.t()); }, options.runs);
  return 2.0 * n * n * n / seconds / 1e9;
}

// The two batched products of attention, with `batches` = batch x heads matrices of T = 128
// positions and head dim D = 32:  scores = q @ k^T  ([T, D] @ [D, T], k^T a transposed view)
// and  out = weights @ v  ([T, T] @ [T, D]).
double attention_scores_gflops(std::int64_t batches, const Options& options) {
  const std::int64_t T = 128, D = 32;
  tensor::Generator gen(3);
  tensor::Array q = tensor::uniform({batches, T, D}, -1, 1, gen);
  tensor::Array k = tensor::uniform({batches, T, D}, -1, 1, gen);
  double seconds = median_seconds([&] { tensor::matmul(q, k.transpose(-2, -1)); }, options.runs);
  return 2.0 * batches * T * T * D / seconds / 1e9;
}

double attention_values_gflops(std::int64_t batches, const Options& options) {
  const std::int64_t T = 128, D = 32;
  tensor::Generator gen(4);
  tensor::Array weights = tensor::uniform({batches, T, T}, 0, 1, gen);
  tensor::Array v = tensor::uniform({batches, T, D}, -1, 1, gen);
  double seconds = median_seconds([&] { tensor::matmul(weights, v); }, options.runs);
  return 2.0 * batches * T * T * D / seconds / 1e9;
}

// ---- the model rows ------------------------------------------------------------------------
//
// The same sizes as MODELS / QUICK_MODELS and ATTENTION / QUICK_ATTENTION in torch_bench.py,
// and the same procedure: a fixed random batch, TRAINING_WARMUP untimed steps, then the median
// of --runs timed steps.
constexpr int kTrainingWarmup = 2;  // torch_bench.py's TRAINING_WARMUP

struct AttentionSize {
  std::int64_t batch, length, d_model, nhead;
};

AttentionSize attention_size(bool quick) {
  if (quick) return {.batch = 2, .length = 16, .d_model = 32, .nhead = 4};
  return {.batch = 32, .length = 128, .d_model = 256, .nhead = 8};
}

// attention-fwd-bwd: one nn::MultiheadAttention layer on x [B, T, E] that requires a gradient
// (as inside a model, so the backward also computes dx): output = attention(x, x, x), then the
// backward of sum(output * R) with a fixed random R [B, T, E] (a gradient that is not all ones,
// as a real loss would send). No mask. ms per forward + backward.
double attention_fwd_bwd_ms(const Options& options, std::int64_t& params) {
  const AttentionSize size = attention_size(options.quick);
  const std::int64_t B = size.batch, T = size.length, E = size.d_model;
  tensor::Generator gen(5);
  Tensor x = autograd::randn({B, T, E}, gen);
  x.requires_grad_();
  Tensor projection = autograd::randn({B, T, E}, gen);  // R
  nn::MultiheadAttention attention(E, size.nhead, /*dropout=*/0.0, /*bias=*/true, gen);
  params = attention.num_parameters();
  auto step = [&] {
    attention.zero_grad();
    x.zero_grad();
    Tensor output = attention(x, x, x).output;  // [B, T, E]
    (output * projection).sum().backward();
  };
  return 1e3 * median_seconds(step, options.runs, kTrainingWarmup);
}

// gpt-small and seq2seq-small. Architecture (both sides): learned token and position
// embeddings, pre-LN blocks with GELU feed-forwards, no dropout, a final LayerNorm per stack and
// an untied bias-free output head.
//   gpt-small      nn::GPT, causal, 817,920 parameters at full size
//   seq2seq-small  nn::Transformer, `layers` encoder and as many decoder layers, no padding
//                  masks (random tokens, no PAD), 946,688 parameters at full size
struct ModelSize {
  bool seq2seq;  // false: GPT; true: encoder-decoder
  std::int64_t vocab, length, d_model, nhead, layers, d_ff, batch;
};

// torch_bench.py's MODELS and QUICK_MODELS, field by field in ModelSize's order:
//   {seq2seq, vocab, length, d_model, nhead, layers, d_ff, batch}
ModelSize model_size(const std::string& name, bool quick) {
  if (name == "gpt-small")
    return quick ? ModelSize{false, 64, 16, 32, 2, 1, 64, 4}
                 : ModelSize{false, 64, 64, 128, 4, 4, 512, 32};
  if (name == "seq2seq-small")
    return quick ? ModelSize{true, 32, 8, 32, 2, 1, 64, 4}
                 : ModelSize{true, 32, 32, 128, 4, 2, 512, 64};
  throw std::invalid_argument("no model named '" + name + "' (gpt-small or seq2seq-small)");
}

// A model with its optimizer and a fixed random batch; step() is one training step: forward,
// cross-entropy over every position, backward, Adam (lr 3e-4).
struct TrainingRun {
  std::int64_t params = 0;
  std::function<void()> step;
};

TrainingRun make_training_run(const std::string& name, bool quick) {
  const ModelSize size = model_size(name, quick);
  const std::int64_t V = size.vocab, L = size.length, B = size.batch;
  // The weights' generator must outlive the model (its layers keep it for dropout), so the step
  // holds it.
  auto model_gen = std::make_shared<tensor::Generator>(0);
  tensor::Generator data_gen(1);
  std::shared_ptr<nn::Module> model;
  std::function<Tensor()> forward;  // -> logits [B, L, V]
  if (!size.seq2seq) {
    nn::GPTConfig config{.vocab = V,
                         .context = L,
                         .d_model = size.d_model,
                         .nhead = size.nhead,
                         .num_layers = size.layers,
                         .dim_feedforward = size.d_ff,
                         .dropout = 0.0,
                         .activation = "gelu"};
    auto gpt = std::make_shared<nn::GPT>(config, *model_gen);
    Tensor ids = autograd::randint(0, V, {B, L}, data_gen);  // [B, L]
    forward = [gpt, ids] { return gpt->forward(ids); };
    model = gpt;
  } else {
    nn::TransformerConfig config;
    config.src_vocab = config.tgt_vocab = V;
    config.max_len = L;
    config.layer = {.d_model = size.d_model,
                    .nhead = size.nhead,
                    .dim_feedforward = size.d_ff,
                    .dropout = 0.0,
                    .activation = "gelu",
                    .norm_first = true};
    config.num_encoder_layers = config.num_decoder_layers = size.layers;
    config.positional = "learned";
    config.tie_output = false;
    auto seq2seq = std::make_shared<nn::Transformer>(config, *model_gen);
    // Teacher forcing: the decoder reads tgt_in and is trained to predict `targets`.
    Tensor src = autograd::randint(0, V, {B, L}, data_gen);     // [B, L]
    Tensor tgt_in = autograd::randint(0, V, {B, L}, data_gen);  // [B, L]
    forward = [seq2seq, src, tgt_in] { return seq2seq->forward(src, tgt_in); };
    model = seq2seq;
  }
  Tensor targets = autograd::randint(0, V, {B, L}, data_gen);  // [B, L]
  auto optimizer = std::make_shared<nn::Adam>(model->parameters(), 3e-4);
  TrainingRun run;
  run.params = model->num_parameters();
  run.step = [model_gen, forward, targets, optimizer, V] {
    Tensor logits = forward();  // [B, L, V]
    Tensor loss = autograd::cross_entropy(logits.reshape({-1, V}), targets.reshape({-1}));
    optimizer->zero_grad();
    loss.backward();
    optimizer->step();
  };
  return run;
}

// ms per training step on `threads` threads (0: the bench's --threads); remembered for the
// scaling row.
std::map<std::pair<std::string, int>, double> training_ms_by_threads;

double training_step_ms(const std::string& name, const Options& options, std::int64_t& params,
                        int threads = 0) {
  const int bench_threads = omp_get_max_threads();
  if (threads == 0) threads = bench_threads;
  omp_set_num_threads(threads);
  TrainingRun run = make_training_run(name, options.quick);
  params = run.params;
  const double ms = 1e3 * median_seconds(run.step, options.runs, kTrainingWarmup);
  omp_set_num_threads(bench_threads);
  training_ms_by_threads[{name, threads}] = ms;
  return ms;
}

// The 2-thread speed-up of a training step: ms at 1 thread / ms at 2 threads (the rows'
// figures when they ran, measured here otherwise).
double scaling(const std::string& name, const Options& options, FlatJson& details) {
  for (int threads : {1, 2}) {
    std::int64_t params = 0;
    if (!training_ms_by_threads.count({name, threads}))
      training_step_ms(name, options, params, threads);
  }
  const double one = training_ms_by_threads[{name, 1}], two = training_ms_by_threads[{name, 2}];
  details["ours_1thread_ms"] = json_real(one);
  details["ours_2threads_ms"] = json_real(two);
  return one / two;
}

// ---- peak memory: a fresh child process -------------------------------------------------------
//
// A process's peak resident memory (VmHWM) only grows, so each figure needs a process of its
// own: this program runs itself again as `bench --rss-child NAME --rss-steps N`, which builds
// the model and trains it N steps (as torch_bench.py's child does), then prints one JSON line.
// Our figure is the whole child's peak, everything included (the program, the libraries, the
// caching allocator's blocks). torch's figure is only its peak above the RSS right after
// `import torch`; the aim is ours <= that increment.

// A field of /proc/self/status in MB: VmRSS (resident now) or VmHWM (peak resident).
double status_mb(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024;
  return NAN;
}

int run_rss_child(const Options& options) {
  const double baseline = status_mb("VmRSS");
  TrainingRun run = make_training_run(options.rss_child, options.quick);
  for (int step = 0; step < options.rss_steps; ++step) run.step();
  std::printf(
      "{\"type\": \"rss\", \"name\": \"%s\", \"peak_mb\": %.3f, \"baseline_mb\": %.3f, "
      "\"params\": %lld}\n",
      options.rss_child.c_str(), status_mb("VmHWM"), baseline, static_cast<long long>(run.params));
  return 0;
}

std::string self_exe() {
  return std::filesystem::read_symlink("/proc/self/exe").string();
}

double peak_rss_mb(const std::string& name, const Options& options, FlatJson& details) {
  const int threads = omp_get_max_threads();
  std::string command = shell_quote(self_exe()) + " --rss-child " + name + " --rss-steps " +
                        std::to_string(options.rss_steps) + " --threads " +
                        std::to_string(threads) + (options.quick ? " --quick" : "");
  CommandResult child = run_command(command);
  FlatJson record;
  for (const std::string& line : child.lines) {
    FlatJson fields = parse_flat_json(line);
    if (fields.count("type") && fields["type"].text == "rss") record = fields;
  }
  if (child.status != 0 || record.empty())
    throw std::runtime_error("the peak-RSS child (" + command + ") failed with exit code " +
                             std::to_string(child.status) + ":" + child.tail());
  details["ours_baseline_mb"] = json_real(to_number(record, "baseline_mb"));
  details["ours_params"] = record["params"];
  details["ours_steps"] = json_integer(options.rss_steps);
  return to_number(record, "peak_mb");
}

// ---- reverse-to-99: `make run` -----------------------------------------------------------------
//
// Runs the tutorial build/tutorials/12_train_transformer (next to this program's folder) with
// its defaults, only --threads and --out (a folder of its own) added: train the encoder-decoder
// to 99% held-out exact match on the reverse task. Its last line is for scripts:
//   held-out exact match: 99.8% (511/512) after 100 steps, 41.2 s of training
// Our figure is those seconds (training only, evaluation not counted; torch_reverse.py times
// the same way). With --quick, the tutorial's --quick run instead: 30 steps of a tiny model, a
// smoke test of this row that is not expected to reach 99%.
double reverse_to_99_seconds(const Options& options, FlatJson& details) {
  namespace fs = std::filesystem;
  const fs::path tutorial =
      fs::path(self_exe()).parent_path().parent_path() / "tutorials" / "12_train_transformer";
  if (!fs::exists(tutorial))
    throw std::runtime_error(tutorial.string() + " not found; build it first: make " +
                             tutorial.string());
  const fs::path out = fs::path(options.json).parent_path() / "bench-run";
  std::string command = shell_quote(tutorial.string()) + " --threads " +
                        std::to_string(omp_get_max_threads()) + " --out " +
                        shell_quote(out.string()) + (options.quick ? " --quick" : "");
  CommandResult run = run_command(command);
  double percent = NAN, seconds = NAN;
  long long correct = 0, total = 0, steps = 0, params = -1;
  bool found = false;
  for (const std::string& line : run.lines) {
    found = found || std::sscanf(line.c_str(),
                                 "held-out exact match: %lf%% (%lld/%lld) after %lld steps, "
                                 "%lf s of training",
                                 &percent, &correct, &total, &steps, &seconds) == 5;
    // "  on cpu: encoder-decoder, pre-LN, ...: 946688 parameters"
    std::size_t at = line.rfind(": ");
    if (line.find("encoder-decoder") != std::string::npos && at != std::string::npos &&
        line.ends_with(" parameters"))
      params = std::atoll(line.c_str() + at + 2);
  }
  if (!found)
    throw std::runtime_error(command + " ended (exit code " + std::to_string(run.status) +
                             ") without its 'held-out exact match' line:" + run.tail());
  details["ours_steps"] = json_integer(steps);
  details["ours_accuracy"] = json_real(percent / 100);
  details["ours_correct"] = json_integer(correct);
  details["ours_total"] = json_integer(total);
  if (params >= 0) details["ours_params"] = json_integer(params);
  if (!options.quick && run.status != 0)
    std::printf("    warning: %s exited with %d (the held-out target not reached?)\n",
                command.c_str(), run.status);
  return seconds;
}

// ---- tutorials-all-cores-vs-one ------------------------------------------------------------------
//
// Every tutorial built next to this program (build/tutorials/NN_*), or those --tutorials names,
// run with its default settings at --threads 0 (every core) and at --threads 1, each with an
// --out folder of its own, --tutorial-runs times each, in turns (one thread first in odd
// turns, every core first in even ones, so neither side always follows the other). Single runs
// differed by up to 27% where both sides ran on one thread, and on a machine that other
// programs share, a run that meets a busy spell is slower whatever its threads; so each side
// keeps its fastest run (and a tutorial shorter than a second gets more turns: see below). The figure is the worst ratio of those wall times (the whole
// process: what a reader waits for), all cores / one thread. Each pair is printed with how
// many cores other programs kept busy meanwhile, on average (the machine's busy time from
// /proc/stat less the tutorials' own cpu time, over the wall time): near 0 the ratio is about
// us; near the number of cores, it says more about the other programs. (The load average is
// no help here: a minute-long decaying mean, it still showed 30 on an idle machine.)
bool selected(const std::string& name, const std::string& only);

constexpr double kShortRunSeconds = 2.0;
constexpr int kMaxTutorialTurns = 25;

double tutorials_all_cores_vs_one(const Options& options, FlatJson& details) {
  namespace fs = std::filesystem;
  const fs::path folder = fs::path(self_exe()).parent_path().parent_path() / "tutorials";
  std::vector<std::string> names;
  if (fs::is_directory(folder))
    for (const auto& entry : fs::directory_iterator(folder)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && name.size() > 3 && std::isdigit(name[0]) &&
          std::isdigit(name[1]) && name[2] == '_' && selected(name, options.tutorials))
        names.push_back(name);
    }
  std::sort(names.begin(), names.end());
  if (names.empty())
    throw std::runtime_error("no tutorials found in " + folder.string() +
                             (options.tutorials.empty() ? "" : " named " + options.tutorials) +
                             "; build them first: make tutorials");
  auto wall_seconds = [&](const std::string& name, int threads) {
    const fs::path out = fs::path(options.json).parent_path() / "bench-tutorials" /
                         (name + "-threads" + std::to_string(threads));
    std::string command = shell_quote((folder / name).string()) + " --threads " +
                          std::to_string(threads) + " --out " + shell_quote(out.string());
    auto start = std::chrono::steady_clock::now();
    CommandResult run = run_command(command);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (run.status != 0)
      throw std::runtime_error(command + " failed with exit code " + std::to_string(run.status) +
                               ":" + run.tail());
    return seconds;
  };
  // Seconds the machine's cpus were busy, all together (NAN where /proc/stat is unreadable).
  auto machine_busy_seconds = [] {
    std::ifstream stat("/proc/stat");
    std::string cpu;
    double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    if (!(stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
        cpu != "cpu")
      return double(NAN);
    return (user + nice + system + irq + softirq + steal) / double(sysconf(_SC_CLK_TCK));
  };
  // Cpu seconds of this program's finished children (the tutorials, through their shell).
  auto children_cpu_seconds = [] {
    rusage usage{};
    getrusage(RUSAGE_CHILDREN, &usage);
    auto seconds = [](const timeval& t) { return double(t.tv_sec) + 1e-6 * double(t.tv_usec); };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
  };
  double worst = 0;
  std::string worst_name;
  for (const std::string& name : names) {
    const double busy_before = machine_busy_seconds(), ours_before = children_cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    double all_cores = INFINITY, one = INFINITY;
    // A tutorial of a few hundredths of a second is mostly starting a process, and single runs
    // of it differ by 10% or more: short ones get more turns, until each side has run for
    // about kShortRunSeconds (at most kMaxTutorialTurns turns).
    int turns = options.tutorial_runs;
    for (int turn = 0; turn < turns; ++turn) {
      if (turn % 2 == 1) one = std::min(one, wall_seconds(name, 1));
      all_cores = std::min(all_cores, wall_seconds(name, 0));
      if (turn % 2 == 0) one = std::min(one, wall_seconds(name, 1));
      if (turn == 0)
        turns = std::clamp(int(std::ceil(kShortRunSeconds / std::min(all_cores, one))), turns,
                           std::max(turns, kMaxTutorialTurns));
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double others_cores = std::max(0.0, (machine_busy_seconds() - busy_before) -
                                                  (children_cpu_seconds() - ours_before)) /
                                wall;
    const double ratio = all_cores / one;
    std::printf("    %-28s all cores %7.3f s, one thread %7.3f s: %.2f   (fastest of %d; other "
                "programs: %.1f cores busy)\n",
                name.c_str(), all_cores, one, ratio, turns, others_cores);
    std::fflush(stdout);
    details["ours_" + name + "_threads0_s"] = json_real(all_cores);
    details["ours_" + name + "_threads1_s"] = json_real(one);
    details["ours_" + name + "_others_cores"] = json_real(others_cores);
    details["ours_" + name + "_runs_per_side"] = json_integer(turns);
    if (ratio > worst) worst = ratio, worst_name = name;
  }
  details["ours_worst"] = json_text(worst_name);
  details["ours_runs_per_side"] = json_integer(options.tutorial_runs);
  return worst;
}

// ---- the list of rows ----------------------------------------------------------------------

// What a benchmark returns: our figure, and details for out/bench.json ("ours_params", ...).
struct Measurement {
  Measurement(double value = NAN) : value(value) {}
  double value;
  FlatJson details;
};

struct Benchmark {
  std::string name;  // the key shared with torch_bench.py
  std::string unit;  // "GFLOP/s" (higher is better), "ms", "s" or "MB" (lower is better)
  std::function<Measurement(const Options&)> run;
};

Measurement with_params(double value, std::int64_t params) {
  Measurement measurement(value);
  measurement.details["ours_params"] = json_integer(params);
  return measurement;
}

std::vector<Benchmark> benchmarks(const Options& options) {
  std::vector<Benchmark> list;
  // Kernels: one product through the public op, as GFLOP/s.
  std::vector<std::int64_t> sizes = {128, 256, 512, 1024, 2048};
  if (options.quick) sizes = {128, 256};
  for (std::int64_t n : sizes)
    list.push_back({"sgemm-" + std::to_string(n), "GFLOP/s",
                    [n](const Options& o) { return sgemm_gflops(n, o); }});
  const std::int64_t n_t = options.quick ? 256 : 1024, batches = options.quick ? 16 : 256;
  list.push_back({"sgemm-" + std::to_string(n_t) + "-bT", "GFLOP/s",
                  [n_t](const Options& o) { return sgemm_transposed_b_gflops(n_t, o); }});
  list.push_back({"bmm-qkT-" + std::to_string(batches) + "x128x32", "GFLOP/s",
                  [batches](const Options& o) { return attention_scores_gflops(batches, o); }});
  list.push_back({"bmm-pv-" + std::to_string(batches) + "x128x128", "GFLOP/s",
                  [batches](const Options& o) { return attention_values_gflops(batches, o); }});

  // Layers and models: what a training loop spends, as ms per step.
  list.push_back({"attention-fwd-bwd", "ms", [](const Options& o) {
                    std::int64_t params = 0;
                    double ms = attention_fwd_bwd_ms(o, params);
                    return with_params(ms, params);
                  }});
  for (std::string model : {"gpt-small", "seq2seq-small"})
    list.push_back({model, "ms", [model](const Options& o) {
                      std::int64_t params = 0;
                      double ms = training_step_ms(model, o, params);
                      return with_params(ms, params);
                    }});
  // Threads: the gpt-small step on one thread, and what a second thread buys.
  list.push_back({"gpt-small-1thread", "ms", [](const Options& o) {
                    std::int64_t params = 0;
                    double ms = training_step_ms("gpt-small", o, params, 1);
                    return with_params(ms, params);
                  }});
  list.push_back({"scaling", "x", [](const Options& o) {
                    Measurement measurement;
                    measurement.value = scaling("gpt-small", o, measurement.details);
                    return measurement;
                  }});
  // Memory: the peak resident size of a process training the model, in MB.
  for (std::string model : {"gpt-small", "seq2seq-small"})
    list.push_back({model + "-peak-rss", "MB", [model](const Options& o) {
                      Measurement measurement;
                      measurement.value = peak_rss_mb(model, o, measurement.details);
                      return measurement;
                    }});
  // The whole job: seconds of training to 99% on the reverse task (minutes, so only on request).
  if (options.with_run)
    list.push_back({"reverse-to-99", "s", [](const Options& o) {
                      Measurement measurement;
                      measurement.value = reverse_to_99_seconds(o, measurement.details);
                      return measurement;
                    }});
  // Every tutorial on every core and on one (many minutes, so only on request).
  if (options.with_tutorials)
    list.push_back({"tutorials-all-cores-vs-one", "t0/t1", [](const Options& o) {
                      Measurement measurement;
                      measurement.value = tutorials_all_cores_vs_one(o, measurement.details);
                      return measurement;
                    }});
  return list;
}

// --only a,b: rows named a or b, or starting with them (e.g. sgemm), as torch_bench.py's --only.
bool selected(const std::string& name, const std::string& only) {
  if (only.empty()) return true;
  std::stringstream list(only);
  std::string want;
  while (std::getline(list, want, ','))
    if (!want.empty() && name.rfind(want, 0) == 0) return true;
  return false;
}

// Rates (GFLOP/s) and speed-ups (x); times, sizes and t0/t1 are better lower.
bool higher_is_better(const std::string& unit) {
  return unit.find("/s") != std::string::npos || unit == "x";
}

// ---- torch and numpy, through bench/torch_bench.py ------------------------------------------

struct PythonResults {
  FlatJson info;                         // blas_kernel, versions, or error
  std::map<std::string, FlatJson> rows;  // by benchmark name
};

PythonResults run_torch_bench(const Options& options, int threads) {
  PythonResults results;
  std::string script = "bench/torch_bench.py";
  if (!std::filesystem::exists(script)) {
    results.info["error"] = json_text(script + " not found (run from the repository root)");
    return results;
  }
  std::string command = shell_quote(options.python_exe) + " " + script + " --threads " +
                        std::to_string(threads) + " --runs " + std::to_string(options.runs) +
                        " --rss-steps " + std::to_string(options.rss_steps) +
                        (options.quick ? " --quick" : "") +
                        (options.with_run ? " --with-run" : "") +
                        " --peer-coretype " + shell_quote(options.peer_coretype) +
                        " --peer-capability " + shell_quote(options.peer_capability) +
                        (options.only.empty() ? "" : " --only " + shell_quote(options.only));
  CommandResult python = run_command(command);
  std::string other_output;
  for (const std::string& line : python.lines) {
    FlatJson fields = parse_flat_json(line);
    if (fields.count("type") && fields["type"].text == "info") {
      for (auto& [key, value] : fields) results.info[key] = value;
    } else if (fields.count("type") && fields["type"].text == "row") {
      results.rows[fields["name"].text] = fields;
    } else {
      other_output += (other_output.empty() ? "" : "\n") + line;
    }
  }
  if (python.status != 0 && !results.info.count("error"))
    results.info["error"] = json_text(command + " failed: " + other_output);
  return results;
}

// ---- output ----------------------------------------------------------------------------------

struct Row {
  std::string name, unit;
  double ours = NAN, torch = NAN, numpy = NAN, ratio = NAN, peak_fraction = NAN;
  FlatJson details = {};  // ours_* from this program, torch_* from torch_bench.py
};

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model = "unknown cpu";
  bool avx512 = false;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      model = line.substr(line.find(':') + 2);
    if (line.rfind("flags", 0) == 0) avx512 = line.find(" avx512f") != std::string::npos;
  }
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " cpus" +
         (avx512 ? ", avx512f" : "");
}

std::string format_number(double value) {
  if (std::isnan(value)) return "-";
  char text[32];
  std::snprintf(text, sizeof text, value >= 100 ? "%.1f" : value >= 1 ? "%.2f" : "%.3f", value);
  return text;
}

std::string json_string(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    if (c == '\n') {
      quoted += "\\n";
      continue;
    }
    quoted += c;
  }
  return quoted + "\"";
}

std::string json_number(double value) {
  return json_real(value).text;
}

std::string to_json(const JsonValue& value) {
  if (value.is_string) return json_string(value.text);
  return value.text.empty() ? "null" : value.text;
}

// The details worth reading under a row as it finishes: parameter counts, what the peak-RSS
// figures include, how far reverse-to-99 got, and why torch has no figure.
void print_details(const Row& row) {
  auto text = [&](const std::string& key) {
    auto it = row.details.find(key);
    return it == row.details.end() ? std::string("-") : it->second.text;
  };
  auto has = [&](const std::string& key) { return row.details.count(key) > 0; };
  if (has("ours_params") || has("torch_params"))
    std::printf("    parameters: ours %s, torch %s\n", text("ours_params").c_str(),
                text("torch_params").c_str());
  if (has("ours_baseline_mb"))
    std::printf("    ours: the whole process's peak after %s steps (%s MB at its start)\n",
                text("ours_steps").c_str(),
                format_number(to_number(row.details, "ours_baseline_mb")).c_str());
  if (has("torch_baseline_mb"))
    std::printf("    torch: its peak after %s steps, %s MB, minus %s MB after `import torch`\n",
                text("torch_steps").c_str(),
                format_number(to_number(row.details, "torch_peak_mb")).c_str(),
                format_number(to_number(row.details, "torch_baseline_mb")).c_str());
  for (std::string side : {"ours", "torch"})
    if (has(side + "_accuracy"))
      std::printf("    %s: held-out exact match %s/%s after %s steps\n", side.c_str(),
                  text(side + "_correct").c_str(), text(side + "_total").c_str(),
                  text(side + "_steps").c_str());
  if (has("torch_attention")) {
    std::string adam = has("torch_adam") ? ", Adam " + text("torch_adam") : "";
    std::printf("    torch's fastest: attention %s%s\n", text("torch_attention").c_str(),
                adam.c_str());
  }
  if (has("torch_error")) std::printf("    torch failed: %s\n", text("torch_error").c_str());
}

void print_table(const std::vector<Row>& rows) {
  std::printf("\n%-22s %-8s %10s %10s %10s %8s %8s\n", "name", "unit", "ours", "torch", "numpy",
              "ratio", "of peak");
  for (const Row& row : rows) {
    std::string peak = std::isnan(row.peak_fraction)
                           ? "-"
                           : std::to_string(int(std::lround(100 * row.peak_fraction))) + "%";
    std::printf("%-22s %-8s %10s %10s %10s %8s %8s\n", row.name.c_str(), row.unit.c_str(),
                format_number(row.ours).c_str(), format_number(row.torch).c_str(),
                format_number(row.numpy).c_str(), format_number(row.ratio).c_str(), peak.c_str());
  }
  std::printf(
      "ratio = ours / torch for rates, torch / ours for times and sizes: > 1 means we are "
      "better\n");
  std::printf("peak-rss: ours = the whole process, torch = its increment over `import torch`\n");
}

// peer: torch_bench.py's info line (the kernels that ran, and how they were chosen).
void write_json(const std::string& path, const std::string& machine, int threads,
                double peak_gflops, FlatJson peer, const std::vector<Row>& rows) {
  auto value = [&](const std::string& key) {
    return peer.count(key) && !peer[key].text.empty() ? to_json(peer[key]) : std::string("null");
  };
  std::filesystem::path file(path);
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  std::ofstream out(path);
  out << "{\"machine\": " << json_string(machine) << ", \"threads\": " << threads
      << ", \"fp32_peak_gflops\": " << json_number(peak_gflops)
      << ", \"gemm_kernel\": " << json_string(tensor::cpu::gemm_kernel_name())
      << ", \"blas_kernel\": " << value("blas_kernel")
      << ", \"aten_cpu_capability\": " << value("aten_cpu_capability") << ", \"peer\": {";
  bool first = true;
  for (const auto& [key, field] : peer)
    if (key.rfind("peer_", 0) == 0) {
      out << (first ? "" : ", ") << json_string(key.substr(5)) << ": " << to_json(field);
      first = false;
    }
  out << "}, \"rows\": [";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    out << (i ? ", " : "") << "\n  {\"name\": " << json_string(row.name)
        << ", \"unit\": " << json_string(row.unit) << ", \"ours\": " << json_number(row.ours)
        << ", \"torch\": " << json_number(row.torch) << ", \"numpy\": " << json_number(row.numpy)
        << ", \"ratio\": " << json_number(row.ratio)
        << ", \"peak_fraction\": " << json_number(row.peak_fraction);
    for (const auto& [key, value] : row.details)
      out << ", " << json_string(key) << ": " << to_json(value);
    out << "}";
  }
  out << "\n]}\n";
}

}  // namespace

int main(int argc, char** argv) try {
  Options options;
  CLI::App app{"Benchmarks our kernels and models next to PyTorch and NumPy (see bench/bench.cpp)"};
  app.add_flag("--quick", options.quick,
               "a run of a few seconds: small sizes, one run (also for the Python side)");
  app.add_option("--threads", options.threads,
                 "CPU threads for everyone: ours, torch's, the BLAS's (0 = one per core)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4 * omp_get_num_procs()));
  app.add_option("--runs", options.runs, "timed runs per benchmark (median reported)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--only", options.only,
                 "comma-separated row names or prefixes to run, e.g. sgemm,gpt-small (default: "
                 "every row)");
  app.add_flag("--with-run", options.with_run,
               "also the reverse-to-99 row: `make run` (tutorial 12) against "
               "bench/torch_reverse.py, minutes; with --quick the tutorial's --quick run");
  app.add_flag("--with-tutorials", options.with_tutorials,
               "also the tutorials-all-cores-vs-one row: every tutorial's defaults at --threads "
               "0 and at --threads 1 (many minutes; build them first: make tutorials)");
  app.add_option("--tutorials", options.tutorials,
                 "with --with-tutorials: comma-separated tutorial names or prefixes, e.g. "
                 "13_,14_ (default: every tutorial built)");
  app.add_option("--tutorial-runs", options.tutorial_runs,
                 "with --with-tutorials: runs of each tutorial at each thread count, in turns; "
                 "the fastest of each counts (a tutorial under a second gets more, up to 2 s "
                 "per side or 25 runs)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--peer-coretype", options.peer_coretype,
                 "torch's OpenBLAS kernel (OPENBLAS_CORETYPE): auto (from the cpu's flags), "
                 "measure (time Haswell and SkylakeX) or a kernel name; never the inherited one")
      ->capture_default_str();
  app.add_option("--peer-capability", options.peer_capability,
                 "torch's ATen vector kernels (ATEN_CPU_CAPABILITY): auto (the cpu's best, "
                 "timed where unsure), measure, default, avx2 or avx512")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "measure", "default", "avx2", "avx512"}));
  app.add_option("--rss-steps", options.rss_steps, "training steps of a peak-RSS child process")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--json", options.json, "where to write the results")->capture_default_str();
  app.add_flag("--python,!--no-python", options.python,
               "also run bench/torch_bench.py for the torch and numpy columns; --no-python: our "
               "figures alone, no Python or torch needed (CI's smoke test)");
  app.add_option("--python-exe", options.python_exe, "the Python with torch and numpy")
      ->capture_default_str();
  // The peak-RSS child (this program run by itself, see peak_rss_mb): not for people.
  app.add_option("--rss-child", options.rss_child)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::ParseError& e) {  // a usage error: one line naming the flag, exit 2
    std::fprintf(stderr, "error: %s (see --help)\n", e.what());
    return 2;
  }
  if (options.quick && app.count("--runs") == 0) options.runs = 1;  // a --runs given wins

  const int threads = options.threads > 0 ? options.threads : omp_get_num_procs();
  omp_set_num_threads(threads);
  if (!options.rss_child.empty()) return run_rss_child(options);

  const std::string machine = cpu_model();
  std::printf("machine: %s\n", machine.c_str());
  std::printf("threads: %d (ours, torch's and the BLAS's)\n", threads);
  std::printf("our gemm: %s\n", tensor::cpu::gemm_kernel_name().c_str());
  const double peak = measure_fp32_peak_gflops(threads, options.quick);
  std::printf("fp32 peak (FMA loop, %d threads): %.1f GFLOP/s\n", threads, peak);

  PythonResults python;
  if (options.python) {
    std::printf("running bench/torch_bench.py with %s ...\n", options.python_exe.c_str());
    std::fflush(stdout);
    python = run_torch_bench(options, threads);
    if (python.info.count("error")) {
      std::printf("torch/numpy: not available (%s); showing our figures alone\n",
                  python.info["error"].text.c_str());
    } else {
      if (python.info.count("torch_error"))
        std::printf("torch: not available (%s)\n", python.info["torch_error"].text.c_str());
      std::printf("torch %s, numpy %s, BLAS: %s\n", python.info["torch_version"].text.c_str(),
                  python.info["numpy_version"].text.c_str(), python.info["blas"].text.c_str());
      auto info = [&](const std::string& key) {
        auto it = python.info.find(key);
        return it == python.info.end() || it->second.text.empty() ? std::string("-")
                                                                   : it->second.text;
      };
      std::printf("torch's OpenBLAS kernel: %s (asked for %s: %s; inherited %s)\n",
                  info("blas_kernel").c_str(), info("peer_openblas_coretype").c_str(),
                  info("peer_openblas_coretype_why").c_str(),
                  info("peer_inherited_openblas_coretype").c_str());
      std::printf("torch's ATen kernels: %s (asked for %s: %s)\n",
                  info("aten_cpu_capability").c_str(), info("peer_aten_cpu_capability").c_str(),
                  info("peer_aten_cpu_capability_why").c_str());
    }
  } else {
    std::printf("--no-python: our figures alone\n");
  }

  std::vector<Row> rows;
  std::vector<std::string> failures;  // each one makes the bench exit non-zero
  for (const Benchmark& benchmark : benchmarks(options)) {
    if (!selected(benchmark.name, options.only)) continue;
    std::printf("  %s ...\n", benchmark.name.c_str());
    std::fflush(stdout);
    Row row{benchmark.name, benchmark.unit};
    try {
      Measurement ours = benchmark.run(options);
      row.ours = ours.value;
      row.details = ours.details;
    } catch (const std::exception& error) {
      failures.push_back(benchmark.name + ": ours failed: " + error.what());
      std::printf("    ours failed: %s\n", error.what());
    }
    auto found = python.rows.find(benchmark.name);
    if (found != python.rows.end()) {
      row.torch = to_number(found->second, "torch");
      row.numpy = to_number(found->second, "numpy");
      for (const auto& [key, value] : found->second)
        if (key.rfind("torch_", 0) == 0) row.details[key] = value;
    }
    row.ratio = higher_is_better(row.unit) ? row.ours / row.torch : row.torch / row.ours;
    if (row.unit == "GFLOP/s") row.peak_fraction = row.ours / peak;
    print_details(row);
    // Both sides must build the same model, or the comparison means nothing.
    const double ours_params = to_number(row.details, "ours_params");
    const double torch_params = to_number(row.details, "torch_params");
    if (!std::isnan(ours_params) && !std::isnan(torch_params) && ours_params != torch_params) {
      char message[400];
      std::snprintf(message, sizeof message,
                    "%s: parameter counts differ (ours %.0f, torch %.0f): the two sides do not "
                    "build the same model; compare nn/transformer.hpp and this file's sizes with "
                    "bench/torch_models.py and torch_bench.py",
                    benchmark.name.c_str(), ours_params, torch_params);
      failures.push_back(message);
      std::printf("    ERROR: %s\n", message);
    }
    rows.push_back(row);
  }

  print_table(rows);
  write_json(options.json, machine, threads, peak, python.info, rows);
  std::printf("wrote %s\n", options.json.c_str());
  if (!failures.empty()) {
    std::fprintf(stderr, "\nbench FAILED (%zu):\n", failures.size());
    for (const std::string& failure : failures) std::fprintf(stderr, "  %s\n", failure.c_str());
    return 1;
  }
  return 0;
} catch (const std::exception& e) {
  std::fflush(stdout);
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
