// bench.cpp — `make bench`: how fast are our kernels, next to PyTorch and NumPy on this machine?
//
//   build/bench/bench [--quick] [--threads N] [--runs N] [--json out/bench.json] [--no-python]
//
// Every benchmark is one entry of the list in `benchmarks()`: a name, a unit and a function that
// measures our figure. bench/torch_bench.py keeps the same list for PyTorch and NumPy. This
// program runs that script (with Debian's /usr/bin/python3, the same threads, runs and sizes),
// merges its rows by name, prints one table, and writes the JSON file:
//
//   {"machine": ..., "threads": N, "fp32_peak_gflops": ..., "blas_kernel": ...,
//    "rows": [{"name": "sgemm-512", "unit": "GFLOP/s", "ours": ..., "torch": ..., "numpy": ...,
//              "ratio": ...}, ...]}
//
// ratio compares us with torch so that > 1 always means we are faster: ours / torch for rates
// (GFLOP/s), torch / ours for times and sizes (ms, MB).
//
// To add a row: write a function returning our figure, add one line to `benchmarks()` here and
// one entry to BENCHMARKS in torch_bench.py under the same name.
#include <immintrin.h>
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tensor/cpu/gemm.hpp"
#include "tensor/ops.hpp"
#include "tensor/random.hpp"

namespace {

struct Options {
  bool quick = false;  // a few seconds: small sizes, one run (CI smoke test)
  int threads = 0;     // 0 = one per core
  int runs = 7;        // timed runs per benchmark; the median is reported
  std::string json = "out/bench.json";
  bool python = true;  // also run torch_bench.py for the torch and numpy columns
  std::string python_exe = "/usr/bin/python3";
};

// ---- timing --------------------------------------------------------------------------------

// Median wall-clock seconds of `runs` calls of f, after one untimed warm-up call (which pays
// for first-touch page faults, thread start-up and cold caches).
double median_seconds(const std::function<void()>& f, int runs) {
  f();
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

// ---- the benchmarks ------------------------------------------------------------------------

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

struct Benchmark {
  std::string name;  // the key shared with torch_bench.py
  std::string unit;  // "GFLOP/s" (higher is better), "ms" or "MB" (lower is better)
  std::function<double(const Options&)> run;
};

std::vector<Benchmark> benchmarks(const Options& options) {
  std::vector<Benchmark> list;
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
  // New rows go here, e.g.:
  //   list.push_back({"attention-fwd-bwd", "ms", attention_fwd_bwd_ms});
  return list;
}

bool higher_is_better(const std::string& unit) {
  return unit.find("/s") != std::string::npos;
}

// ---- torch and numpy, through bench/torch_bench.py ------------------------------------------

// One flat JSON object per line ({"key": "text" or number or null, ...}), as torch_bench.py
// prints them; values come back as text (strings without their quotes).
std::map<std::string, std::string> parse_flat_json(const std::string& line) {
  std::map<std::string, std::string> fields;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
  };
  auto read_string = [&] {
    std::string text;
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
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
    std::string value;
    if (i < line.size() && line[i] == '"') {
      value = read_string();
    } else {
      while (i < line.size() && line[i] != ',' && line[i] != '}') value += line[i++];
      while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
        value.pop_back();
    }
    fields[key] = value;
    skip_space();
    if (i < line.size() && line[i] == ',') ++i;
  }
  return fields;
}

struct PythonResults {
  std::map<std::string, std::string> info;  // blas_kernel, versions, or error
  std::map<std::string, std::map<std::string, std::string>> rows;  // by benchmark name
};

PythonResults run_torch_bench(const Options& options, int threads) {
  PythonResults results;
  std::string script = "bench/torch_bench.py";
  if (!std::filesystem::exists(script)) {
    results.info["error"] = script + " not found (run from the repository root)";
    return results;
  }
  std::string command = options.python_exe + " " + script + " --threads " +
                        std::to_string(threads) + " --runs " + std::to_string(options.runs) +
                        (options.quick ? " --quick" : "") + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    results.info["error"] = "could not start " + options.python_exe;
    return results;
  }
  std::string line, other_output;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) {
    line += buffer;
    if (line.empty() || line.back() != '\n') continue;
    auto fields = parse_flat_json(line);
    if (fields.count("type") && fields["type"] == "info") {
      for (auto& [key, value] : fields) results.info[key] = value;
    } else if (fields.count("type") && fields["type"] == "row") {
      results.rows[fields["name"]] = fields;
    } else {
      other_output += line;
    }
    line.clear();
  }
  int status = pclose(pipe);
  while (!other_output.empty() && std::isspace(static_cast<unsigned char>(other_output.back())))
    other_output.pop_back();
  if (status != 0 && !results.info.count("error"))
    results.info["error"] = options.python_exe + " " + script + " failed: " + other_output;
  return results;
}

// ---- output ----------------------------------------------------------------------------------

struct Row {
  std::string name, unit;
  double ours = NAN, torch = NAN, numpy = NAN, ratio = NAN, peak_fraction = NAN;
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
  if (std::isnan(value)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
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
  std::printf("ratio = ours / torch for rates, torch / ours for times: > 1 means we are faster\n");
}

void write_json(const std::string& path, const std::string& machine, int threads,
                double peak_gflops, const std::string& blas_kernel, const std::vector<Row>& rows) {
  std::filesystem::path file(path);
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  std::ofstream out(path);
  out << "{\"machine\": " << json_string(machine) << ", \"threads\": " << threads
      << ", \"fp32_peak_gflops\": " << json_number(peak_gflops)
      << ", \"gemm_kernel\": " << json_string(tensor::cpu::gemm_kernel_name())
      << ", \"blas_kernel\": " << (blas_kernel.empty() ? "null" : json_string(blas_kernel))
      << ", \"rows\": [";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    out << (i ? ", " : "") << "\n  {\"name\": " << json_string(row.name)
        << ", \"unit\": " << json_string(row.unit) << ", \"ours\": " << json_number(row.ours)
        << ", \"torch\": " << json_number(row.torch) << ", \"numpy\": " << json_number(row.numpy)
        << ", \"ratio\": " << json_number(row.ratio)
        << ", \"peak_fraction\": " << json_number(row.peak_fraction) << "}";
  }
  out << "\n]}\n";
}

double to_number(const std::map<std::string, std::string>& fields, const std::string& key) {
  auto it = fields.find(key);
  if (it == fields.end() || it->second.empty() || it->second == "null") return NAN;
  try {
    return std::stod(it->second);
  } catch (const std::exception&) {
    return NAN;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"Benchmarks our kernels next to PyTorch and NumPy (see bench/bench.cpp)"};
  app.add_flag("--quick", options.quick, "a run of a few seconds: small sizes, one run");
  app.add_option("--threads", options.threads, "CPU threads for everyone (0 = one per core)")
      ->capture_default_str();
  app.add_option("--runs", options.runs, "timed runs per benchmark (median reported)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--json", options.json, "where to write the results")->capture_default_str();
  app.add_flag("--python,!--no-python", options.python,
               "also run bench/torch_bench.py for the torch and numpy columns");
  app.add_option("--python-exe", options.python_exe, "the Python with torch and numpy")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (options.quick) options.runs = 1;

  const int threads = options.threads > 0 ? options.threads : omp_get_num_procs();
  omp_set_num_threads(threads);
  const std::string machine = cpu_model();
  std::printf("machine: %s\n", machine.c_str());
  std::printf("threads: %d\n", threads);
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
                  python.info["error"].c_str());
    } else {
      if (python.info.count("torch_error"))
        std::printf("torch: not available (%s)\n", python.info["torch_error"].c_str());
      std::printf("torch %s, numpy %s, BLAS: %s, OpenBLAS kernel: %s (asked for %s)\n",
                  python.info["torch_version"].c_str(), python.info["numpy_version"].c_str(),
                  python.info["blas"].c_str(), python.info["blas_kernel"].c_str(),
                  python.info["openblas_coretype"].c_str());
    }
  }
  const std::string blas_kernel =
      python.info.count("blas_kernel") ? python.info["blas_kernel"] : "";

  std::vector<Row> rows;
  for (const Benchmark& benchmark : benchmarks(options)) {
    std::printf("  %s ...\n", benchmark.name.c_str());
    std::fflush(stdout);
    Row row{benchmark.name, benchmark.unit};
    row.ours = benchmark.run(options);
    auto found = python.rows.find(benchmark.name);
    if (found != python.rows.end()) {
      row.torch = to_number(found->second, "torch");
      row.numpy = to_number(found->second, "numpy");
    }
    row.ratio = higher_is_better(row.unit) ? row.ours / row.torch : row.torch / row.ours;
    if (row.unit == "GFLOP/s") row.peak_fraction = row.ours / peak;
    rows.push_back(row);
  }

  print_table(rows);
  write_json(options.json, machine, threads, peak, blas_kernel, rows);
  std::printf("wrote %s\n", options.json.c_str());
  return 0;
}
