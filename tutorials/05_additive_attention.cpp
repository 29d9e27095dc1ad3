// 05_additive_attention — What is additive (Bahdanau) attention and how does it compare with
//                         dot-product attention?
//                         注意力模型有哪些常见类型？加性注意力和点积注意力相比有什么不同？
//                         And: 自注意力与卷积神经网络（CNN）和循环神经网络（RNN）相比，有哪些优势？
//   The interview article "深入探讨注意力模型：从基础理论到实际应用" lists additive attention ("加性注意力（Additive
//   Attention）：通过计算加性交互来生成权重") among the common types; the article "Attention
//   Mechanism原理与代码实例讲解——面试题和算法编程题解析" asks how self-attention compares with
//   CNNs and RNNs (part 4).
//
// Short answer
//   Additive attention scores a (query, key) pair with a tiny one-hidden-layer network:
//   score(q, k) = v^T tanh(W_q q + W_k k), with learned W_q [H, Dq], W_k [H, Dk] and v [H]. Then,
//   like every attention, weights = softmax over the keys and output = weights V. Compared with
//   dot-product attention (score = q . k):
//     - it has parameters and can compare a query and a key of different sizes (Dq != Dk), which
//       is why Bahdanau et al. (2015) used it between an RNN decoder state and encoder states;
//     - it costs more: per pair it does H adds, H tanh, H multiply-adds, and it materialises a
//       [B, Tq, Tk, H] tensor, while dot-product is one matrix multiply (GEMM) producing only
//       [B, Tq, Tk]. Both are O(Tq Tk) in the lengths, but the constant and the memory traffic
//       differ a lot, so dot-product runs much faster on real hardware;
//     - unscaled dot-product degrades for large d_k (softmax saturates); scaled by 1/sqrt(d_k)
//       it matches additive attention in quality, which is what Transformers use (tutorial 04).
//   Self-attention versus convolution and recurrence, per layer on n positions of width d:
//   self-attention costs ~n^2 d multiply-adds, a convolution with kernel k ~k n d^2, a recurrent
//   layer ~n d^2; attention and convolution need O(1) sequential steps, recurrence O(n); any two
//   positions are 1 step apart through attention, ceil((n-1)/(k-1)) (or ceil(log_k n) dilated)
//   convolution layers apart, and up to n steps apart through recurrence. So attention is cheaper
//   than recurrence while n < d, fully parallel, and has the shortest paths for long-range
//   dependencies; its n^2 cost is what tutorial 15 attacks.
//
// What this program shows
//   1. a small example with Dq = 3, Dk = 4, H = 5: the weights and output of nn::AdditiveAttention,
//      checked against loops that evaluate v^T tanh(W_q q + W_k k) pair by pair; a gradient check;
//      and dot-product attention refusing the same inputs;
//   2. the cost: FLOPs counted by the loops equal to closed-form formulas, then both formulas
//      and measured forward times as the sequence length grows, with the memory each needs;
//   3. plots of FLOPs and time against the length (written to --out);
//   4. self-attention vs a 1-D convolution vs a recurrent layer: multiply-adds counted by loops,
//      sequential operations and maximum path length counted on the layers' dependency graphs,
//      each against its closed form for several n and d; the three layers built from library
//      ops, checked against the loops and timed for a few n.
//
// Run:  build/tutorials/05_additive_attention           (--max-len, --dim, --hidden for the sizes)
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/measure.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/printing.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/reference.hpp"
#include "tutorials/common/tutorial.hpp"
#include "viz/plot.hpp"

using autograd::Tensor;
using tensor::DType;

namespace {

// Closed-form FLOP counts of one forward pass (tanh and exp counted as one operation each).
// Per score the softmax does a subtract, an exp, an add and a divide: 4 operations.
double dot_product_flops(double b, double tq, double tk, double d, double dv) {
  return b * (2 * tq * tk * d       // scores: a d-long dot product per pair
              + 4 * tq * tk         // softmax
              + 2 * tq * tk * dv);  // weights x V
}

double additive_flops(double b, double tq, double tk, double dq, double dk, double h, double dv) {
  return b * (2 * tq * h * dq + 2 * tk * h * dk  // W_q q once per query, W_k k once per key
              + 4 * tq * tk * h                  // per pair and hidden unit: add, tanh, v*, +
              + 4 * tq * tk                      // softmax
              + 2 * tq * tk * dv);               // weights x V
}

// ---- self-attention versus convolution versus recurrence (section 4) ------------------------------
// Three layers that map a sequence x [n, d] (n positions, d features) to y [n, d], written as
// loops that count every multiply-add they do. Weights are [d_out, d_in] as in nn::Linear.

struct CountedLayer {
  std::vector<double> y;         // [n, d], row-major
  std::int64_t multiply_adds = 0;
};

// Self-attention as the Transformer paper's Table 1 counts it: y = softmax(x x^T / sqrt(d)) x.
// (Its projections W_q, W_k, W_v are per-position linear maps, a width-1 convolution each, and
// are left out of the table's row; they add 3 n d^2.)
CountedLayer self_attention_loops(const std::vector<double>& x, std::int64_t n, std::int64_t d) {
  CountedLayer layer;
  layer.y.assign(n * d, 0.0);
  std::vector<double> scores(n);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {  // every position reads every position
      double dot = 0;
      for (std::int64_t c = 0; c < d; ++c, ++layer.multiply_adds) dot += x[i * d + c] * x[j * d + c];
      scores[j] = dot / std::sqrt(double(d));
    }
    std::vector<double> weights = tutorial::softmax_by_loop(scores);
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t c = 0; c < d; ++c, ++layer.multiply_adds)
        layer.y[i * d + c] += weights[j] * x[j * d + c];
  }
  return layer;
}

// A causal 1-D convolution with kernel k: y_t = sum_{j<k} W_j x_{t - j*dilation}, zero padded on
// the left (so y_t never reads the future, like the other two layers in a decoder). w: [k, d, d].
CountedLayer convolution_loops(const std::vector<double>& x, const std::vector<double>& w,
                               std::int64_t n, std::int64_t d, std::int64_t k,
                               std::int64_t dilation) {
  CountedLayer layer;
  layer.y.assign(n * d, 0.0);
  for (std::int64_t t = 0; t < n; ++t)
    for (std::int64_t j = 0; j < k; ++j) {
      std::int64_t source = t - j * dilation;  // < 0: a padding zero, still multiplied
      for (std::int64_t o = 0; o < d; ++o)
        for (std::int64_t c = 0; c < d; ++c, ++layer.multiply_adds)
          layer.y[t * d + o] += w[(j * d + o) * d + c] * (source >= 0 ? x[source * d + c] : 0.0);
    }
  return layer;
}

// A simple (Elman) recurrent layer: h_t = tanh(W_x x_t + W_h h_{t-1}), h_{-1} = 0, y_t = h_t.
CountedLayer recurrent_loops(const std::vector<double>& x, const std::vector<double>& w_x,
                             const std::vector<double>& w_h, std::int64_t n, std::int64_t d) {
  CountedLayer layer;
  layer.y.assign(n * d, 0.0);
  std::vector<double> previous(d, 0.0);
  for (std::int64_t t = 0; t < n; ++t) {  // step t needs step t-1: n steps one after another
    for (std::int64_t o = 0; o < d; ++o) {
      double sum = 0;
      for (std::int64_t c = 0; c < d; ++c, layer.multiply_adds += 2)
        sum += w_x[o * d + c] * x[t * d + c] + w_h[o * d + c] * previous[c];
      layer.y[t * d + o] = std::tanh(sum);
    }
    for (std::int64_t o = 0; o < d; ++o) previous[o] = layer.y[t * d + o];
  }
  return layer;
}

// The same three layers from library ops, on x [n, d], for timing (float32) and for checking
// against the loops (float64).
Tensor self_attention_ops(const Tensor& x) {
  return nn::scaled_dot_product_attention(x.unsqueeze(0), x.unsqueeze(0), x.unsqueeze(0))
      .output.squeeze(0);
}

// w [k, d_out, d_in]. The k shifted copies of x side by side, [n, k*d] ("im2col"), times the
// kernel as one [k*d, d] matrix: the whole layer is one matrix multiply, every position at once.
Tensor convolution_ops(const Tensor& x, const Tensor& w, std::int64_t dilation) {
  const std::int64_t n = x.size(0), d = x.size(1), k = w.size(0);
  Tensor padded = autograd::cat({autograd::zeros({(k - 1) * dilation, d}, x.dtype()), x}, 0);
  std::vector<Tensor> taps;  // tap j: row t holds x_{t - j*dilation}
  for (std::int64_t j = 0; j < k; ++j)
    taps.push_back(padded.slice(0, (k - 1 - j) * dilation, (k - 1 - j) * dilation + n));
  Tensor columns = autograd::cat(taps, 1);                              // [n, k*d]
  Tensor kernel = w.permute({0, 2, 1}).reshape({k * d, d});             // [k*d_in, d_out]
  return autograd::matmul(columns, kernel);                             // [n, d]
}

// W_x x_t for every t at once (no dependency between steps), then n dependent steps.
Tensor recurrent_ops(const Tensor& x, const Tensor& w_x, const Tensor& w_h) {
  const std::int64_t n = x.size(0), d = x.size(1);
  Tensor from_input = autograd::matmul(x, w_x.transpose(0, 1));  // [n, d]
  Tensor h = autograd::zeros({1, d}, x.dtype());
  std::vector<Tensor> states;
  for (std::int64_t t = 0; t < n; ++t) {
    h = autograd::tanh(from_input.slice(0, t, t + 1) + autograd::matmul(h, w_h.transpose(0, 1)));
    states.push_back(h);
  }
  return autograd::cat(states, 0);
}

// Which value is computed from which: node (layer l, position t), layer 0 = the inputs. The
// parents are exactly what the loops above read, so the graph is the layers' structure.
enum class LayerKind { SelfAttention, Convolution, DilatedConvolution, Recurrent };

struct DependencyGraph {
  std::int64_t n = 0, layers = 0;
  std::vector<std::vector<std::int64_t>> parents;  // by node id l * n + t
};

DependencyGraph dependency_graph(LayerKind kind, std::int64_t n, std::int64_t layers,
                                 std::int64_t k) {
  DependencyGraph graph{n, layers, std::vector<std::vector<std::int64_t>>((layers + 1) * n)};
  std::int64_t dilation = 1;  // the dilated stack uses 1, k, k^2, ... (capped: past n it is moot)
  for (std::int64_t l = 1; l <= layers; ++l, dilation = std::min(dilation * k, n)) {
    for (std::int64_t t = 0; t < n; ++t) {
      std::vector<std::int64_t>& parents = graph.parents[l * n + t];
      const std::int64_t below = (l - 1) * n;
      switch (kind) {
        case LayerKind::SelfAttention:
          for (std::int64_t s = 0; s < n; ++s) parents.push_back(below + s);
          break;
        case LayerKind::Convolution:
        case LayerKind::DilatedConvolution: {
          std::int64_t step = kind == LayerKind::Convolution ? 1 : dilation;
          for (std::int64_t j = 0; j < k; ++j)
            if (t - j * step >= 0) parents.push_back(below + t - j * step);
          break;
        }
        case LayerKind::Recurrent:
          parents.push_back(below + t);                     // x_t (or the layer below's h_t)
          if (t > 0) parents.push_back(l * n + t - 1);      // h_{t-1}, in the same layer
          break;
      }
    }
  }
  return graph;
}

// Sequential operations of one layer: the longest chain of values in layer 1 that must be
// computed one after another (each needs the one before). Parents always have smaller ids.
std::int64_t sequential_operations(const DependencyGraph& graph) {
  std::vector<std::int64_t> depth(graph.parents.size(), 0);
  std::int64_t longest = 0;
  for (std::int64_t id = graph.n; id < 2 * graph.n; ++id) {
    for (std::int64_t parent : graph.parents[id]) depth[id] = std::max(depth[id], depth[parent]);
    depth[id] += 1;
    longest = std::max(longest, depth[id]);
  }
  return longest;
}

// Maximum path length: for every input position i and every later-or-equal position j, the
// fewest computation steps (edges) from x_i to any value at position j, found by breadth-first
// search from each x_i; the largest of these. -1 if some pair is never connected.
std::int64_t maximum_path_length(const DependencyGraph& graph) {
  const std::int64_t nodes = std::int64_t(graph.parents.size()), n = graph.n;
  std::vector<std::vector<std::int64_t>> children(nodes);
  for (std::int64_t id = 0; id < nodes; ++id)
    for (std::int64_t parent : graph.parents[id]) children[parent].push_back(id);
  std::int64_t longest = 0;
  std::vector<std::int64_t> distance(nodes), nearest(n), queue;
  for (std::int64_t source = 0; source < n; ++source) {
    std::fill(distance.begin(), distance.end(), -1);
    std::fill(nearest.begin(), nearest.end(), -1);
    queue.assign(1, source);
    distance[source] = 0;
    for (std::size_t head = 0; head < queue.size(); ++head) {
      std::int64_t id = queue[head];
      if (id >= n && nearest[id % n] < 0) nearest[id % n] = distance[id];  // first = fewest
      for (std::int64_t child : children[id])
        if (distance[child] < 0) {
          distance[child] = distance[id] + 1;
          queue.push_back(child);
        }
    }
    for (std::int64_t j = source; j < n; ++j) {
      if (nearest[j] < 0) return -1;
      longest = std::max(longest, nearest[j]);
    }
  }
  return longest;
}

// The smallest L with k^L >= n: layers of a dilated stack (dilations 1, k, k^2, ...) until the
// last position sees the first.
std::int64_t ceil_log(std::int64_t k, std::int64_t n) {
  std::int64_t layers = 0;
  for (std::int64_t reach = 1; reach < n; reach *= k) ++layers;
  return layers;
}

std::vector<double> values_of(const Tensor& t) {
  return t.data().to(DType::Float64).contiguous().to_vector<double>();
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "05_additive_attention",
    .chinese = "注意力模型有哪些常见类型？加性注意力（Additive Attention）和点积注意力相比有什么不同？"
               "自注意力与卷积神经网络（CNN）和循环神经网络（RNN）相比，有哪些优势？",
    .english = "What is additive (Bahdanau) attention and how does it compare with dot-product "
               "attention? And how does self-attention compare with convolution and recurrence?",
    .answer = "Additive attention scores a pair with a small network, v^T tanh(W_q q + W_k k): it has\n"
              "parameters and takes Dq != Dk, but pays H tanh units per pair and a [Tq, Tk, H]\n"
              "tensor, where dot-product is one matrix multiply. Against convolution and recurrence,\n"
              "self-attention costs ~n^2 d per layer (vs k n d^2 and n d^2), runs in O(1) sequential\n"
              "steps (recurrence: n) and joins any two positions in 1 step (recurrence: n).",
    .article = "深入探讨注意力模型：从基础理论到实际应用",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  const tutorial::Options& options = flags.options;
  std::int64_t query_dim = 3, key_dim = 4, hidden = 5;
  std::int64_t dim = 64, cost_hidden = 64, max_len = 256, kernel = 3;
  int repeats = 5;
  std::vector<std::int64_t> count_lens = {16, 64, 256}, count_dims = {16, 64};
  std::vector<std::int64_t> time_lens = {64, 256, 1024};
  flags.add("--query-dim", query_dim, "Dq of the small example", tutorial::between(1, 256));
  flags.add("--key-dim", key_dim, "Dk of the small example", tutorial::between(1, 256));
  flags.add("--hidden", hidden, "H of the small example", tutorial::between(1, 256));
  flags.add("--dim", dim, "D = Dq = Dk = Dv in the cost comparison and the timing of part 4",
            tutorial::between(1, 1024));
  flags.add("--cost-hidden", cost_hidden, "H of additive attention in the cost comparison",
            tutorial::between(1, 1024));
  flags.add("--max-len", max_len, "longest sequence T = Tq = Tk timed (from 16, doubling)",
            tutorial::between(16, 2048));
  flags.add("--repeats", repeats, "timings per size (the fastest is kept)", tutorial::between(1, 100));
  flags.add("--kernel", kernel, "k, the convolution's kernel size in part 4", tutorial::between(2, 16));
  flags.add("--count-lens", count_lens, "sequence lengths n whose costs and paths part 4 counts",
            tutorial::between(2, 256));
  flags.add("--count-dims", count_dims, "widths d whose multiply-adds part 4 counts",
            tutorial::between(1, 256));
  flags.add("--time-lens", time_lens, "sequence lengths n that part 4 times",
            tutorial::between(1, 8192));
  std::string save_dir;
  flags.add_output_folder("--save", save_dir,
                          "folder to write inputs, weights and outputs into as .npy (Python twin)");
  flags.parse(argc, argv);
  flags.quick(max_len, 64);
  flags.quick(repeats, 3);
  flags.quick(count_lens, std::vector<std::int64_t>{8, 32});
  flags.quick(count_dims, std::vector<std::int64_t>{8});
  flags.quick(time_lens, std::vector<std::int64_t>{16, 64});
  tutorial::Checks checks;
  tensor::Generator gen(options.seed);

  tutorial::section("1. score(q, k) = v^T tanh(W_q q + W_k k) on a small example");
  const std::int64_t B = 1, tq = 2, tk = 4, dv = 3;
  nn::AdditiveAttention attention(query_dim, key_dim, hidden, gen);
  attention.to(DType::Float64);  // float64 so the loops agree to ~1e-15
  Tensor q = autograd::randn({B, tq, query_dim}, gen, DType::Float64);
  Tensor k = autograd::randn({B, tk, key_dim}, gen, DType::Float64);
  Tensor v = autograd::randn({B, tk, dv}, gen, DType::Float64);
  std::printf("  queries %s, keys %s, values %s; W_q %s, W_k %s, v %s\n",
              tensor::shape_str(q.shape()).c_str(), tensor::shape_str(k.shape()).c_str(),
              tensor::shape_str(v.shape()).c_str(),
              tensor::shape_str(attention.w_q->weight.shape()).c_str(),
              tensor::shape_str(attention.w_k->weight.shape()).c_str(),
              tensor::shape_str(attention.v->weight.shape()).c_str());
  std::printf(
      "  inside: W_q q -> [B, Tq, 1, H], W_k k -> [B, 1, Tk, H], their sum broadcasts to\n"
      "  [B, Tq, Tk, H] = [%lld, %lld, %lld, %lld], tanh, then v reads out one score per pair.\n\n",
      (long long)B, (long long)tq, (long long)tk, (long long)hidden);
  nn::AttentionOutput result = attention(q, k, v);
  tutorial::LoopAttention loops = tutorial::additive_attention_by_loops(
      q, k, v, attention.w_q->weight, attention.w_k->weight, attention.v->weight);
  tutorial::print_matrix("scores from the loops", loops.scores);
  tutorial::print_matrix("weights = softmax(scores)", result.weights);
  tutorial::print_matrix("output = weights V", result.output);
  std::printf("\n");
  checks.same(result.weights, loops.weights, 1e-14,
              "weights equal the loops' softmax of v^T tanh(W_q q_i + W_k k_j)");
  checks.same(result.output, loops.output, 1e-14, "output equals the loops");
  checks.check(
      attention.num_parameters() == hidden * (query_dim + key_dim + 1),
      "parameters: H*Dq + H*Dk + H = " + std::to_string(hidden * (query_dim + key_dim + 1)) +
          " (dot-product attention has none)");
  std::vector<Tensor> parameters = attention.parameters();
  autograd::GradcheckResult grads =
      autograd::gradcheck_leaves([&] { return attention(q, k, v).output; }, parameters);
  std::printf("  %s\n", grads.message.c_str());
  checks.check(grads.passed, "gradients w.r.t. W_q, W_k and v match finite differences");
  tutorial::save_npy_files(save_dir, {{"q", q},
                                      {"k", k},
                                      {"v", v},
                                      {"w_q", attention.w_q->weight.detach()},
                                      {"w_k", attention.w_k->weight.detach()},
                                      {"w_v", attention.v->weight.detach()},
                                      {"weights", result.weights.detach()},
                                      {"output", result.output.detach()}});
  std::string dot_error = tutorial::error_of([&] { (void)nn::dot_product_attention(q, k, v); });
  std::printf("\n  Dot-product attention on the same inputs (Dq = %lld, Dk = %lld):\n    %s\n",
              (long long)query_dim, (long long)key_dim,
              dot_error.empty() ? "(runs: Dq == Dk here)" : dot_error.c_str());
  if (query_dim != key_dim)
    checks.check(!dot_error.empty(), "dot-product needs Dq == Dk; additive attention does not");

  tutorial::section("2. Cost: FLOPs and time as the sequence grows");
  // The loops count every operation they perform; the closed forms must agree exactly.
  {
    const std::int64_t b = 2, n_q = 5, n_k = 7, d = 6, h = 4, d_v = 3;
    Tensor cq = autograd::randn({b, n_q, d}, gen, DType::Float64);
    Tensor ck = autograd::randn({b, n_k, d}, gen, DType::Float64);
    Tensor cv = autograd::randn({b, n_k, d_v}, gen, DType::Float64);
    std::int64_t counted_dot = 0, counted_additive = 0;
    tutorial::attention_by_loops(cq, ck, cv, 1.0, Tensor(), &counted_dot);
    tutorial::additive_attention_by_loops(cq, ck, cv, autograd::randn({h, d}, gen, DType::Float64),
                                          autograd::randn({h, d}, gen, DType::Float64),
                                          autograd::randn({1, h}, gen, DType::Float64), Tensor(),
                                          &counted_additive);
    checks.close(double(counted_dot), dot_product_flops(b, n_q, n_k, d, d_v), 0,
                 "dot-product: operations counted in the loops = 2 Tq Tk D + 4 Tq Tk + 2 Tq Tk Dv");
    checks.close(double(counted_additive), additive_flops(b, n_q, n_k, d, d, h, d_v), 0,
                 "additive: counted = 2 Tq H Dq + 2 Tk H Dk + 4 Tq Tk H + 4 Tq Tk + 2 Tq Tk Dv");
  }

  std::printf(
      "\n  T = Tq = Tk, D = Dq = Dk = Dv = %lld, H = %lld, batch 1, float32 forward pass on one\n"
      "  thread, CPU time of the thread, best of %d runs (tanh counted as 1 FLOP, though it\n"
      "  costs far more).\n\n",
      (long long)dim, (long long)cost_hidden, repeats);
  // best_thread_cpu_seconds times on one thread, so the comparison is about the work, not about
  // how each parallelises; the rest of the program keeps --threads.
  std::printf("  %5s | %10s %10s %6s | %10s %10s %6s | %s\n", "T", "FLOPs dot", "additive", "ratio",
              "time dot", "additive", "ratio", "largest intermediate: dot / additive");
  nn::AdditiveAttention timed(dim, dim, cost_hidden, gen);  // float32, as in training
  std::vector<double> lengths, flops_dot, flops_add, time_dot, time_add;
  for (std::int64_t T = 16; T <= max_len; T *= 2) {
    Tensor tq_ = autograd::randn({1, T, dim}, gen), tk_ = autograd::randn({1, T, dim}, gen),
           tv_ = autograd::randn({1, T, dim}, gen);
    autograd::NoGradGuard no_grad;  // forward cost only
    double t_dot = tutorial::best_thread_cpu_seconds(
        repeats, [&] { (void)nn::dot_product_attention(tq_, tk_, tv_); });
    double t_add = tutorial::best_thread_cpu_seconds(repeats, [&] { (void)timed(tq_, tk_, tv_); });
    double f_dot = dot_product_flops(1, T, T, dim, dim);
    double f_add = additive_flops(1, T, T, dim, dim, cost_hidden, dim);
    lengths.push_back(double(T));
    flops_dot.push_back(f_dot);
    flops_add.push_back(f_add);
    time_dot.push_back(t_dot);
    time_add.push_back(t_add);
    std::printf("  %5lld | %10.3g %10.3g %5.1fx | %8.3fms %8.3fms %5.1fx | %s / %s\n", (long long)T,
                f_dot, f_add, f_add / f_dot, 1e3 * t_dot, 1e3 * t_add, t_add / t_dot,
                tutorial::human_bytes(4.0 * T * T).c_str(),
                tutorial::human_bytes(4.0 * T * T * cost_hidden).c_str());
  }
  double flop_ratio = flops_add.back() / flops_dot.back(),
         time_ratio = time_add.back() / time_dot.back();
  // Where does the additive time go? The tanh alone, on a tensor of the features' size.
  double t_tanh = 0;
  {
    const std::int64_t T = std::int64_t(lengths.back());
    Tensor features = autograd::randn({1, T, T, cost_hidden}, gen);
    autograd::NoGradGuard no_grad;
    t_tanh = tutorial::best_thread_cpu_seconds(repeats, [&] { (void)autograd::tanh(features); });
  }
  std::printf(
      "\n  At T = %lld additive attention needs %.1fx the FLOPs but %.1fx the time. The tanh\n"
      "  of the T*T*H = %.2g features alone takes %.1f ms (%.0f%% of it): one tanh costs as\n"
      "  much time as dozens of multiply-adds. The rest are passes over the [T, T, H] tensor\n"
      "  (broadcast add, the v read-out), while dot-product is two matrix multiplies whose\n"
      "  inner loops reuse every loaded number many times. Both grow like T^2 (doubling T\n"
      "  quadruples the work once the projections no longer dominate).\n",
      (long long)lengths.back(), flop_ratio, time_ratio,
      lengths.back() * lengths.back() * double(cost_hidden), 1e3 * t_tanh,
      100 * t_tanh / time_add.back());
  checks.check(flops_add.back() > flops_dot.back(), "additive attention needs more FLOPs (H = D)");
  checks.check(time_add.back() > time_dot.back(),
               "measured: additive attention is slower at the largest T (timing, not exact)");

  tutorial::section("3. Pictures");
  {
    std::vector<double> log2_len, ms_dot, ms_add;
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      log2_len.push_back(std::log2(lengths[i]));
      ms_dot.push_back(1e3 * time_dot[i]);
      ms_add.push_back(1e3 * time_add[i]);
    }
    const std::string x_label = "log2(T)     (4: T = 16,  6: T = 64,  8: T = 256)";
    viz::LinePlot flops("Operations per forward pass (D = H = " + std::to_string(dim) + ")");
    flops.set_x_label(x_label).set_y_label("FLOPs (closed form)").set_log_y(true);
    flops.add_series("dot-product", log2_len, flops_dot);
    flops.add_series("additive", log2_len, flops_add);
    tutorial::save_picture(flops, options, "05_flops.png",
                           "two parallel lines at large T: both grow 4x per doubling, additive a "
                           "constant factor above");
    viz::LinePlot time("Measured forward time, one thread");
    time.set_x_label(x_label).set_y_label("milliseconds (thread CPU time)").set_log_y(true);
    time.add_series("dot-product", log2_len, ms_dot);
    time.add_series("additive", log2_len, ms_add);
    tutorial::save_picture(time, options, "05_time.png",
                           "additive attention costs far more time than its FLOPs suggest: tanh "
                           "over [Tq, Tk, H] against one matmul");
    std::printf(
        "  For large T both FLOP curves rise 4x per doubling of T and run parallel (a\n"
        "  constant factor apart); the measured time gap is far wider than the FLOP gap.\n");
  }

  tutorial::section("4. Self-attention versus convolution versus recurrence");
  // The article question 自注意力与卷积神经网络（CNN）和循环神经网络（RNN）相比，有哪些优势？
  // answered with the three numbers of the Transformer paper's Table 1, counted here.
  std::printf(
      "  Three layers map x [n, d] to y [n, d]: self-attention softmax(x x^T/sqrt(d)) x, a causal\n"
      "  convolution with kernel k = %lld (plain, and dilated 1, k, k^2, ... in a stack), and a\n"
      "  recurrent layer h_t = tanh(W_x x_t + W_h h_{t-1}). Loops count each one's multiply-adds;\n"
      "  a graph of which value reads which (the loops' own reads) gives the steps that must run\n"
      "  one after another, and the fewest steps from x_i to position j (breadth-first search\n"
      "  from every i, over stacks deep enough to connect every pair).\n\n",
      (long long)kernel);
  bool attention_counts = true, convolution_counts = true, recurrent_counts = true;
  bool cheaper_when_shorter = true;
  std::printf("  %5s %5s | %-24s %-24s %-24s\n", "n", "d", "self-attention 2n^2d",
              "convolution k n d^2", "recurrent 2n d^2");
  for (std::int64_t n : count_lens)
    for (std::int64_t d : count_dims) {
      std::vector<double> x = values_of(autograd::randn({n, d}, gen, DType::Float64));
      std::vector<double> w = values_of(autograd::randn({kernel, d, d}, gen, DType::Float64));
      std::vector<double> w_h = values_of(autograd::randn({d, d}, gen, DType::Float64));
      std::int64_t attention_madds = self_attention_loops(x, n, d).multiply_adds;
      std::int64_t convolution_madds = convolution_loops(x, w, n, d, kernel, 1).multiply_adds;
      std::int64_t recurrent_madds = recurrent_loops(x, w, w_h, n, d).multiply_adds;
      attention_counts &= attention_madds == 2 * n * n * d;
      convolution_counts &= convolution_madds == kernel * n * d * d;
      recurrent_counts &= recurrent_madds == 2 * n * d * d;
      cheaper_when_shorter &= (attention_madds < recurrent_madds) == (n < d);
      auto cell = [](std::int64_t counted, std::int64_t formula) {
        char text[40];
        std::snprintf(text, sizeof text, "%.4g %s", double(counted),
                      counted == formula ? "(= formula)" : "(FORMULA DIFFERS)");
        return std::string(text);
      };
      std::printf("  %5lld %5lld | %-24s %-24s %-24s\n", (long long)n, (long long)d,
                  cell(attention_madds, 2 * n * n * d).c_str(),
                  cell(convolution_madds, kernel * n * d * d).c_str(),
                  cell(recurrent_madds, 2 * n * d * d).c_str());
    }
  checks.check(attention_counts, "self-attention: counted multiply-adds = 2 n^2 d at every n, d");
  checks.check(convolution_counts, "convolution: counted multiply-adds = k n d^2 at every n, d");
  checks.check(recurrent_counts, "recurrent: counted multiply-adds = 2 n d^2 at every n, d");
  checks.check(cheaper_when_shorter,
               "self-attention does fewer multiply-adds than the recurrent layer exactly when n < d");

  std::printf("\n  %5s | %-28s | %s\n", "n", "sequential operations", "maximum path length");
  std::printf("  %5s | %6s %6s %6s %6s | %6s %6s %8s %6s\n", "", "attn", "conv", "dilat", "rnn",
              "attn", "conv", "dilated", "rnn");
  bool sequential_right = true, paths_right = true;
  std::int64_t longest_n = 0, longest_rnn_path = 0, longest_conv_path = 0, longest_dilated_path = 0;
  for (std::int64_t n : count_lens) {
    // Stacks: 2 layers of attention or recurrence (stacking does not shorten their paths);
    // n convolution layers, more than either convolution stack needs.
    DependencyGraph attention = dependency_graph(LayerKind::SelfAttention, n, 2, kernel);
    DependencyGraph convolution = dependency_graph(LayerKind::Convolution, n, n, kernel);
    DependencyGraph dilated = dependency_graph(LayerKind::DilatedConvolution, n, n, kernel);
    DependencyGraph recurrent = dependency_graph(LayerKind::Recurrent, n, 2, kernel);
    std::int64_t seq[4] = {sequential_operations(attention), sequential_operations(convolution),
                           sequential_operations(dilated), sequential_operations(recurrent)};
    std::int64_t path[4] = {maximum_path_length(attention), maximum_path_length(convolution),
                            maximum_path_length(dilated), maximum_path_length(recurrent)};
    const std::int64_t conv_formula = (n - 1 + kernel - 2) / (kernel - 1);  // ceil((n-1)/(k-1))
    sequential_right &= seq[0] == 1 && seq[1] == 1 && seq[2] == 1 && seq[3] == n;
    paths_right &= path[0] == 1 && path[1] == conv_formula && path[2] == ceil_log(kernel, n) &&
                   path[3] == n;
    std::printf("  %5lld | %6lld %6lld %6lld %6lld | %6lld %6lld %8lld %6lld\n", (long long)n,
                (long long)seq[0], (long long)seq[1], (long long)seq[2], (long long)seq[3],
                (long long)path[0], (long long)path[1], (long long)path[2], (long long)path[3]);
    longest_n = n, longest_conv_path = path[1], longest_dilated_path = path[2];
    longest_rnn_path = path[3];
  }
  std::printf("  closed forms: sequential 1, 1, 1, n; path 1, ceil((n-1)/(k-1)), ceil(log_k n), n\n");
  checks.check(sequential_right,
               "sequential operations counted = 1 (attention), 1 (convolutions), n (recurrent)");
  checks.check(paths_right,
               "maximum path counted = 1, ceil((n-1)/(k-1)), ceil(log_k n), n at every n");

  // The library-op versions (used for the timing below) compute the same layers as the loops.
  {
    const std::int64_t n = 7, d = 5;
    Tensor x = autograd::randn({n, d}, gen, DType::Float64);
    Tensor w = autograd::randn({kernel, d, d}, gen, DType::Float64);
    Tensor w_h = autograd::randn({d, d}, gen, DType::Float64) * (1.0 / std::sqrt(double(d)));
    Tensor w_x = w.select(0, 0);
    double worst = 0;
    auto compare = [&](const Tensor& ops, const std::vector<double>& loops) {
      worst = std::max(worst, tutorial::max_abs_diff(ops, autograd::from_vector(loops, {n, d})));
    };
    compare(self_attention_ops(x), self_attention_loops(values_of(x), n, d).y);
    compare(convolution_ops(x, w, 1), convolution_loops(values_of(x), values_of(w), n, d, kernel, 1).y);
    compare(convolution_ops(x, w, 2), convolution_loops(values_of(x), values_of(w), n, d, kernel, 2).y);
    compare(recurrent_ops(x, w_x, w_h), recurrent_loops(values_of(x), values_of(w_x), values_of(w_h), n, d).y);
    checks.small(
        worst, 1e-12,
        "the three layers built from library ops equal their loops (conv dilation 1 and 2)");
  }

  std::printf(
      "\n  Timed, built from library ops: d = %lld, float32, one thread, best of %d (thread CPU\n"
      "  time). The recurrent layer runs n dependent steps; the other two run all positions at\n"
      "  once (a few large matrix multiplies).\n\n",
      (long long)dim, repeats);
  std::printf("  %6s | %12s %12s %12s | %s\n", "n", "attention", "convolution", "recurrent",
              "recurrent per step");
  std::vector<double> timed_attention, timed_recurrent;
  std::int64_t timed_n = 0;
  for (std::int64_t n : time_lens) {
    Tensor x = autograd::randn({n, dim}, gen);
    Tensor w = autograd::randn({kernel, dim, dim}, gen) * (1.0 / std::sqrt(double(kernel * dim)));
    Tensor w_x = w.select(0, 0), w_h = w.select(0, kernel - 1);
    autograd::NoGradGuard no_grad;
    double t_attention = tutorial::best_thread_cpu_seconds(repeats, [&] { (void)self_attention_ops(x); });
    double t_convolution = tutorial::best_thread_cpu_seconds(repeats, [&] { (void)convolution_ops(x, w, 1); });
    double t_recurrent = tutorial::best_thread_cpu_seconds(repeats, [&] { (void)recurrent_ops(x, w_x, w_h); });
    timed_n = n;
    timed_attention.push_back(t_attention);
    timed_recurrent.push_back(t_recurrent);
    std::printf("  %6lld | %10.3fms %10.3fms %10.3fms | %.1f us\n", (long long)n, 1e3 * t_attention,
                1e3 * t_convolution, 1e3 * t_recurrent, 1e6 * t_recurrent / double(n));
  }
  std::printf(
      "\n  Self-attention's work grows like n^2 and the recurrent layer's like n: at n = %lld,\n"
      "  d = %lld the recurrent layer does %.3gx attention's multiply-adds (2nd^2 / 2n^2d = d/n)\n"
      "  and took %.3gx its time. Its n steps run one after another, each too small to keep\n"
      "  the machine busy, while attention's n^2 products are a few large matrix multiplies\n"
      "  (on a GPU they all run at once). Attention also connects any two positions in 1 step,\n"
      "  where the recurrent layer needs up to n (%lld at n = %lld) and a convolution stack %lld\n"
      "  layers (plain) or %lld (dilated).\n",
      (long long)timed_n, (long long)dim, double(dim) / double(timed_n),
      timed_recurrent.back() / timed_attention.back(), (long long)longest_rnn_path,
      (long long)longest_n, (long long)longest_conv_path, (long long)longest_dilated_path);

  std::printf(
      "\nWhat to notice: both are softmax(scores) V; only the score differs. Additive pays\n"
      "H tanh units per (query, key) pair and a [Tq, Tk, H] tensor; dot-product pays one\n"
      "GEMM, which is why Transformers use (scaled) dot-product attention.\n");
  char answer[900];
  std::snprintf(
      answer, sizeof answer,
      "Additive attention scores each pair with v^T tanh(W_q q + W_k k): it takes Dq != Dk and\n"
      "has parameters, but at T = %lld it needed %.1fx the FLOPs and %.1fx the time of\n"
      "dot-product attention. Against convolution and recurrence (counted, = closed forms):\n"
      "self-attention does 2n^2d multiply-adds per layer (fewer than recurrence's 2nd^2 only\n"
      "while n < d), needs 1 sequential step (recurrence: n) and joins any two positions in 1\n"
      "step, where n = %lld needs %lld recurrent steps or %lld conv layers (%lld dilated). Timed at\n"
      "n = %lld: attention %.2f ms, recurrence %.2f ms of n dependent steps.",
      (long long)lengths.back(), flop_ratio, time_ratio, (long long)longest_n,
      (long long)longest_rnn_path, (long long)longest_conv_path, (long long)longest_dilated_path,
      (long long)time_lens.back(), 1e3 * timed_attention.back(), 1e3 * timed_recurrent.back());
  tutorial::print_answer(kQuestion, answer);
  std::printf("\nPython twin: tutorials/python/05_additive_attention.py (make python)\n");
  return checks.finish();
} catch (...) {
  return tutorial::report_error();
}
