// 19_cuda_attention — How does an attention model process data in parallel: how does attention run
//                     on a GPU?
//                     注意力模型如何处理并行数据？注意力机制在 GPU 上是如何运行的？
//                     (The interview article "深入探讨注意力模型：从基础理论到实际应用" answers
//                     "compute the weights in parallel, compute the outputs in parallel" in two
//                     lines; here are the kernels that do it, thread by thread.)
//
// Short answer
//   A GPU runs a grid of blocks of threads. Threads of one block share a small, fast on-chip
//   memory (shared memory) and can wait for each other (__syncthreads()); different blocks
//   cannot. Attention softmax(Q Kᵀ / √d) V becomes a few kernels:
//     - matmul (Q Kᵀ, then weights · V): the output is cut into 16x16 tiles, one block per tile
//       and one thread per output element; the block copies 16x16 tiles of both inputs into
//       shared memory and every thread reuses them 16 times, instead of each thread reading
//       whole rows and columns from slow global memory;
//     - softmax: one block per row of scores; each row needs its max and its sum of
//       exponentials, which the block's threads compute together with a tree reduction in
//       shared memory (log2(threads) steps, a barrier between steps);
//     - elementwise (the 1/√d scaling, masks): one thread per element, no cooperation.
//   Each kernel writes its result to global memory and the next reads it back: the [T, T] score
//   matrix makes a round trip. A fused kernel (FlashAttention's idea, here in its simplest form)
//   keeps a query's scores in shared memory and does all three steps in one launch.
//
// What this program shows
//   1. the kernels one attention forward launches, with their grid and block (a launch trace);
//   2. which block computes which tile of the score matrix;
//   3. the softmax block's reduction tree for one row, step by step;
//   4. device results equal to the cpu's, forward and backward (autograd on the device);
//   5. the fused attention kernel, one launch, the same output;
//   6. timings, cpu vs GPU, when --device cuda finds a GPU (cuda-sim is a simulator: it runs the
//      same kernels on the CPU, one host thread per CUDA thread, exact but slow by design).
//
// Run:  build/tutorials/19_cuda_attention                  (cuda-sim: no GPU needed)
//       make CUDA=1 && build/cuda/tutorials/19_cuda_attention --device cuda
// The kernels: cuda/kernels/*.cuh; how to step through one CUDA thread in gdb: cuda/README.md.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cuda/cuda.hpp"
#include "nn/nn.hpp"
#include "tutorials/common/tutorial.hpp"

using namespace autograd;

namespace {

struct Sizes {
  std::int64_t batch = 2, heads = 4, seq = 40, head_dim = 32;
};

// What one thread of each kernel of the trace computes.
const std::map<std::string, std::string> kKernelRoles = {
    {"matmul_tiled_kernel", "block (x, y, z) = 16x16 tile (cols 16x.., rows 16y..) of matrix z"},
    {"softmax_rows_kernel", "block x = row x of the scores; its threads share the row"},
    {"softmax_backward_rows_kernel", "block x = row x; threads share sum(grad * weights)"},
    {"binary_kernel", "thread i = element i (grid-stride loop): one multiply each"},
    {"fill_kernel", "thread i = element i: writes a constant (here: the 0-d scale)"},
    {"copy_kernel", "thread i = element i: a strided copy (e.g. making a view contiguous)"},
    {"reduce_kernel", "block = one output; its threads share the sum"},
    {"reduce_serial_kernel", "thread = one output, summing its elements alone"},
    {"attention_rows_kernel", "block (x, y) = query x of matrix y: scores, softmax, weighted sum"},
};

void print_trace(const std::vector<tensor::cuda::LaunchRecord>& trace) {
  std::printf("  %-30s %-16s %-14s %8s   %s\n", "kernel", "grid (blocks)", "block", "threads",
              "what one block / thread does");
  for (const auto& r : trace) {
    char grid[32], block[32];
    std::snprintf(grid, sizeof grid, "(%u, %u, %u)", r.grid[0], r.grid[1], r.grid[2]);
    std::snprintf(block, sizeof block, "(%u, %u, %u)", r.block[0], r.block[1], r.block[2]);
    const unsigned long long threads = 1ull * r.grid[0] * r.grid[1] * r.grid[2] * r.block[0] *
                                       r.block[1] * r.block[2];
    auto role = kKernelRoles.find(r.kernel);
    std::printf("  %-30s %-16s %-14s %8llu   %s\n", r.kernel.c_str(), grid, block, threads,
                role == kKernelRoles.end() ? "" : role->second.c_str());
  }
}

// Draws the [rows, cols] score matrix of one head with the letter of the block that computes
// each element (a, b, c, ... in launch order: x fastest), one character per element.
void draw_tiles(std::int64_t rows, std::int64_t cols, int tile) {
  const std::int64_t tiles_x = (cols + tile - 1) / tile;
  std::printf("  scores of one head: [%lld, %lld], tiles of %dx%d -> grid (%lld, %lld) per head\n",
              (long long)rows, (long long)cols, tile, tile, (long long)tiles_x,
              (long long)((rows + tile - 1) / tile));
  for (std::int64_t i = 0; i < rows; ++i) {
    std::printf("    ");
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int64_t block = (i / tile) * tiles_x + j / tile;
      std::printf("%c", char('a' + block % 26));
    }
    std::printf("\n");
  }
  std::printf(
      "  A block whose tile sticks out of the matrix still has 16x16 threads: those outside\n"
      "  load zeros into shared memory (adding nothing) and write nothing.\n");
}

// The softmax kernel's max reduction for one row, replayed on the host: partial[t] starts as the
// max of elements t, t + B, ... (B = threads per block), then halves each step.
double replay_block_max(const std::vector<double>& row, int threads) {
  std::vector<double> partial(threads, -INFINITY);
  for (std::size_t i = 0; i < row.size(); ++i)
    partial[i % threads] = std::max(partial[i % threads], row[i]);
  auto show = [&](const char* label, int active) {
    std::printf("  %-34s", label);
    for (int t = 0; t < active && t < 8; ++t) std::printf(" %7.3f", partial[t]);
    if (active > 8) std::printf("  ... (%d values)", active);
    std::printf("\n");
  };
  show("each thread's own elements", threads);
  for (int half = threads / 2; half > 0; half /= 2) {
    for (int t = 0; t < half; ++t) partial[t] = std::max(partial[t], partial[t + half]);
    char label[64];
    std::snprintf(label, sizeof label, "barrier; t < %d: max(t, t + %d)", half, half);
    show(label, half);
  }
  return partial[0];
}

// softmax(q kᵀ * scale) v, as the library's ops compose it.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  Tensor scores = matmul(q, transpose(k, -2, -1)) * scale;  // [B, H, T, T]
  Tensor weights = softmax(scores, -1);                       // each row sums to 1
  return matmul(weights, v);                                  // [B, H, T, D]
}

int run(const tutorial::Question& question, const tutorial::Options& options, Sizes s) {
  tutorial::Checks checks;
  const Device device = Device::parse(options.device);  // cuda-sim or cuda: --device refuses cpu
  tensor::zeros({1}, DType::Float32, device);  // fails here, clearly, when there is no GPU
  const double scale = 1.0 / std::sqrt(double(s.head_dim));
  Generator gen(options.seed);
  const tensor::Shape shape{s.batch, s.heads, s.seq, s.head_dim};  // [B, H, T, D]
  const tensor::Array q_host = tensor::randn(shape, gen), k_host = tensor::randn(shape, gen),
                      v_host = tensor::randn(shape, gen);
  std::printf("Q, K, V: [B=%lld, H=%lld, T=%lld, D=%lld] float32 on %s\n", (long long)s.batch,
              (long long)s.heads, (long long)s.seq, (long long)s.head_dim,
              device.str().c_str());

  tutorial::section("1. The kernels of one attention forward, with their launch shapes");
  Tensor q(q_host.to(device)), k(k_host.to(device)), v(v_host.to(device));  // copies to the device
  tensor::cuda::start_launch_trace();
  Tensor out = attention(q, k, v, scale);
  const auto trace = tensor::cuda::stop_launch_trace();
  print_trace(trace);
  std::printf("\n  Q Kᵀ is a batch of B*H = %lld matmuls of [T, D] x [D, T]: the batch goes in\n"
              "  gridDim.z. softmax gets one block per row: B*H*T = %lld rows, each with a power\n"
              "  of two from 32 to 256 threads, enough for at most ~8 elements per thread.\n",
              (long long)(s.batch * s.heads), (long long)(s.batch * s.heads * s.seq));
  bool saw_matmul = false, saw_softmax = false;
  for (const auto& r : trace) {
    if (r.kernel == "matmul_tiled_kernel")
      saw_matmul = r.block[0] == 16 && r.block[1] == 16 && r.grid[2] == s.batch * s.heads;
    if (r.kernel == "softmax_rows_kernel")
      saw_softmax = r.grid[0] == s.batch * s.heads * s.seq;
  }
  checks.check(saw_matmul, "matmul ran as 16x16-thread blocks, one grid layer per (batch, head)");
  checks.check(saw_softmax, "softmax ran one block per row of scores");

  tutorial::section("2. The tiled matmul: which block computes which score");
  draw_tiles(s.seq, s.seq, 16);

  tutorial::section("3. The softmax block: a tree reduction in shared memory");
  Tensor scores = matmul(q, transpose(k, -2, -1)) * scale;
  const std::vector<double> row =
      scores.data().select(0, 0).select(0, 0).select(0, 0).to_vector<double>();  // copied back
  int threads = 32;  // as the launch code picks it (cuda/kernels/kernel_backend.cuh)
  while (threads * 8 < s.seq && threads < 256) threads *= 2;
  std::printf("  row 0 of head 0 has T = %lld scores; its block has %d threads. The first 8\n"
              "  partial maxima at each step:\n", (long long)s.seq, threads);
  const double tree_max = replay_block_max(row, threads);
  double loop_max = -INFINITY;
  for (double x : row) loop_max = std::max(loop_max, x);
  std::printf("  then the same tree again for sum(exp(x - max)); every thread reads the results\n"
              "  from shared memory and writes its own elements exp(x - max) / sum.\n");
  checks.check(tree_max == loop_max, "the tree's max equals a plain loop's max");
  const int steps = int(std::log2(threads));
  std::printf("  %d threads need %d combining steps, not %d\n", threads, steps, threads - 1);

  tutorial::section("4. The device against the cpu, forward and backward");
  Tensor q_cpu(q_host, true), k_cpu(k_host, true), v_cpu(v_host, true);
  Tensor q_dev(q_host.to(device), true), k_dev(k_host.to(device), true),
      v_dev(v_host.to(device), true);
  const tensor::Array grad_host = tensor::randn(shape, gen);  // a made-up upstream gradient
  Tensor out_cpu = attention(q_cpu, k_cpu, v_cpu, scale);
  Tensor out_dev = attention(q_dev, k_dev, v_dev, scale);
  sum(out_cpu * Tensor(grad_host)).backward();
  sum(out_dev * Tensor(grad_host.to(device))).backward();
  const double forward_diff = tutorial::max_abs_diff(out_cpu, out_dev);
  std::printf("  max |out_cpu - out_%s|   = %.3g\n", device.str().c_str(), forward_diff);
  double backward_diff = 0;
  for (auto [cpu, dev, name] : {std::tuple{&q_cpu, &q_dev, "dQ"}, std::tuple{&k_cpu, &k_dev, "dK"},
                                std::tuple{&v_cpu, &v_dev, "dV"}}) {
    const double d = tutorial::max_abs_diff(cpu->grad(), dev->grad());
    std::printf("  max |%s_cpu - %s_%s|     = %.3g\n", name, name, device.str().c_str(), d);
    backward_diff = std::max(backward_diff, d);
  }
  checks.check(out_dev.device() == device && q_dev.grad().device() == device,
               "results and gradients stay on the device");
  checks.small(forward_diff, 1e-5, "the device's attention output equals the cpu's");
  checks.small(backward_diff, 1e-4, "the device's gradients equal the cpu's");

  tutorial::section("5. Fused attention: one kernel, scores never leave shared memory");
  const tensor::Shape flat{s.batch * s.heads, s.seq, s.head_dim};  // [B*H, T, D]
  tensor::cuda::start_launch_trace();
  tensor::Array fused = tensor::cuda::fused_attention(
      q.data().reshape(flat), k.data().reshape(flat), v.data().reshape(flat), scale);
  print_trace(tensor::cuda::stop_launch_trace());
  const double fused_diff = tutorial::max_abs_diff(Tensor(fused), out.reshape(flat));
  std::printf("  max |fused - three kernels| = %.3g\n", fused_diff);
  std::printf("  Three kernels write and re-read the [B*H, T, T] scores (%lld floats) in global\n"
              "  memory; the fused one keeps each row of T scores in its block's shared memory.\n",
              (long long)(s.batch * s.heads * s.seq * s.seq));
  checks.small(fused_diff, 1e-5, "the fused kernel gives the same output");

  tutorial::section("6. Timings");
  if (device.type != tensor::DeviceType::CUDA) {
    std::printf(
        "  cuda-sim runs every CUDA thread as a host thread: exact, and slow by design, so\n"
        "  its timings say nothing about a GPU. On a machine with a GPU, build with\n"
        "  `make CUDA=1` and run with --device cuda to time the kernels for real.\n");
  } else {
    const Sizes big{8, 8, options.quick ? 128 : 512, 64};
    const tensor::Shape big_shape{big.batch, big.heads, big.seq, big.head_dim};
    tensor::Array bq = tensor::randn(big_shape, gen), bk = tensor::randn(big_shape, gen),
                  bv = tensor::randn(big_shape, gen);
    NoGradGuard no_grad;
    auto time_ms = [&](Device where, int reps, auto&& body) {
      Tensor tq(bq.to(where)), tk(bk.to(where)), tv(bv.to(where));
      tensor::sum(body(tq, tk, tv).data()).item();  // warm-up (and the first cudaMallocs)
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; ++i) body(tq, tk, tv);
      tensor::sum(body(tq, tk, tv).data()).item();  // copying a number back waits for the GPU
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                 .count() / (reps + 1);
    };
    auto three_kernels = [&](const Tensor& a, const Tensor& b, const Tensor& c) {
      return attention(a, b, c, 1 / std::sqrt(64.0));
    };
    const double cpu_ms = time_ms(tensor::kCPU, 2, three_kernels);
    const double gpu_ms = time_ms(device, 20, three_kernels);
    tensor::cuda::set_use_cublas(true);
    const double cublas_ms = time_ms(device, 20, three_kernels);
    tensor::cuda::set_use_cublas(false);
    const double fused_ms =
        time_ms(device, 20, [&](const Tensor& a, const Tensor& b, const Tensor& c) {
          const tensor::Shape f{big.batch * big.heads, big.seq, big.head_dim};
          return Tensor(tensor::cuda::fused_attention(a.data().reshape(f), b.data().reshape(f),
                                                      c.data().reshape(f), 1 / std::sqrt(64.0)));
        });
    std::printf("  attention forward, [B=8, H=8, T=%lld, D=64], float32, ms per call:\n",
                (long long)big.seq);
    std::printf("    cpu                           %9.3f\n", cpu_ms);
    std::printf("    cuda, tiled matmul kernel     %9.3f\n", gpu_ms);
    std::printf("    cuda, cuBLAS matmul           %9.3f\n", cublas_ms);
    std::printf("    cuda, fused attention kernel  %9.3f\n", fused_ms);
    checks.check(gpu_ms > 0 && fused_ms > 0, "timed the kernels on the GPU");
  }
  const int code = checks.finish();
  char answer[600];
  std::snprintf(answer, sizeof answer,
                "On %s one attention forward launched %zu kernels: tiled matmuls with 16x16-thread blocks,\n"
                "a softmax with one block per row (%lld rows, a %d-thread tree: %d steps), elementwise\n"
                "kernels one thread per element. Against the cpu: output %.2g, gradients %.2g apart.\n"
                "The fused kernel, one launch with each row of scores kept in shared memory: %.2g apart.",
                device.str().c_str(), trace.size(), (long long)(s.batch * s.heads * s.seq), threads, steps,
                forward_diff, backward_diff, fused_diff);
  tutorial::print_answer(question, answer);
  return code;
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "19_cuda_attention",
    .chinese = "注意力模型如何处理并行数据？注意力机制在 GPU 上是如何运行的？",
    .english = "How does an attention model process data in parallel: how does attention run on a GPU?",
    .answer = "As a few kernels, each a grid of thread blocks: Q K^T and weights V as tiled matmuls (one\n"
              "16x16 block per output tile, inputs staged in shared memory), softmax with one block per\n"
              "row (max and sum by a tree reduction in shared memory), scaling one thread per element.\n"
              "Every score is computed at once; the T x T scores make a round trip through global memory,\n"
              "which a fused kernel avoids by keeping each row in shared memory.",
    .article = "深入探讨注意力模型：从基础理论到实际应用",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  // The cpu is what every device result is compared with, so --device offers only the CUDA ones.
  options.device = "cuda-sim";
  flags.add("--device", options.device,
            "where the kernels run: cuda-sim (the CUDA kernels simulated on the CPU) or cuda (a GPU, "
            "in a `make CUDA=1` build); the cpu is the reference",
            {"cuda-sim", "cuda"});
  Sizes s;
  // At most 256 tokens: section 2 draws the [T, T] score matrix one character per element.
  flags.add("--batch", s.batch, "B, sequences", tutorial::between(1, 16));
  flags.add("--heads", s.heads, "H, attention heads", tutorial::between(1, 16));
  flags.add("--seq", s.seq, "T, tokens per sequence", tutorial::between(1, 256));
  flags.add("--head-dim", s.head_dim, "D, width of one head", tutorial::between(1, 256));
  flags.parse(argc, argv);
  if (options.quick) {  // a few seconds on cuda-sim (flags given win)
    flags.quick(s.batch, 1), flags.quick(s.heads, 2), flags.quick(s.seq, 20), flags.quick(s.head_dim, 16);
  }
  // cuda-sim runs each 16x16 block of the score matmul as 256 host threads: cap the work at 1024
  // such tiles (the defaults make 72), which keeps a run within minutes on a small machine.
  const std::int64_t tiles = s.batch * s.heads * ((s.seq + 15) / 16) * ((s.seq + 15) / 16);
  tutorial::Flags::require(options.device != "cuda-sim" || tiles <= 1024,
                           "--device cuda-sim simulates every GPU thread on the CPU: --batch " +
                               std::to_string(s.batch) + ", --heads " + std::to_string(s.heads) + " and --seq " +
                               std::to_string(s.seq) + " make " + std::to_string(tiles) +
                               " 16x16 score tiles, at most 1024 there (lower one of them, or use --device cuda)");
  // e.g. --device cuda without a GPU: "error: device cuda: no usable CUDA GPU (...)", exit 1.
  return run(kQuestion, options, s);
} catch (...) {
  return tutorial::report_error();
}
