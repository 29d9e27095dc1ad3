// cuda-sim under autograd and nn: a graph built from device tensors gives the cpu's gradients,
// a tiny Transformer trains to the cpu's losses, and a workload touches every virtual function
// of tensor::Backend on cuda-sim (counted by a wrapper backend, so a new virtual that nobody
// tests fails to compile here until it is added).
#include <array>
#include <map>
#include <string>

#include "cuda/cuda.hpp"
#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using testing::check_close;
using testing::kSim;
using testing::values;

namespace {

// Forwards every call to the real cuda-sim backend and counts it by name.
class CountingBackend final : public tensor::Backend {
  using Array = tensor::Array;

 public:
  explicit CountingBackend(tensor::Backend& inner) : inner_(inner) {}
  std::map<std::string, int> calls;

  std::string name() const override { return inner_.name(); }
  void* allocate(std::size_t n) override {
    count("allocate");
    return inner_.allocate(n);
  }
  void deallocate(void* p, std::size_t n) override {
    count("deallocate");
    inner_.deallocate(p, n);
  }
  void copy_from_host(void* d, const void* s, std::size_t n) override {
    count("copy_from_host");
    inner_.copy_from_host(d, s, n);
  }
  void copy_to_host(void* d, const void* s, std::size_t n) override {
    count("copy_to_host");
    inner_.copy_to_host(d, s, n);
  }
  void copy(const Array& src, const Array& out) override {
    count("copy");
    inner_.copy(src, out);
  }
  void fill(const Array& out, double value) override {
    count("fill");
    inner_.fill(out, value);
  }
  void unary(tensor::UnaryOp op, const Array& x, const Array& out) override {
    count("unary");
    inner_.unary(op, x, out);
  }
  void binary(tensor::BinaryOp op, const Array& a, const Array& b, const Array& out) override {
    count("binary");
    inner_.binary(op, a, b, out);
  }
  void where(const Array& c, const Array& a, const Array& b, const Array& out) override {
    count("where");
    inner_.where(c, a, b, out);
  }
  void reduce(tensor::ReduceOp op, const Array& x, const Array& out) override {
    count("reduce");
    inner_.reduce(op, x, out);
  }
  void matmul(const Array& a, const Array& b, const Array& out) override {
    count("matmul");
    inner_.matmul(a, b, out);
  }
  void softmax(const Array& x, std::int64_t dim, bool log, const Array& out) override {
    count("softmax");
    inner_.softmax(x, dim, log, out);
  }
  void softmax_backward(const Array& g, const Array& out, std::int64_t dim, bool log,
                        const Array& grad_in) override {
    count("softmax_backward");
    inner_.softmax_backward(g, out, dim, log, grad_in);
  }
  void embedding(const Array& w, const Array& i, const Array& out) override {
    count("embedding");
    inner_.embedding(w, i, out);
  }
  void embedding_backward(const Array& g, const Array& i, const Array& gw) override {
    count("embedding_backward");
    inner_.embedding_backward(g, i, gw);
  }
  void gather(const Array& x, const Array& i, const Array& out) override {
    count("gather");
    inner_.gather(x, i, out);
  }
  void scatter_add(const Array& out, const Array& i, const Array& src) override {
    count("scatter_add");
    inner_.scatter_add(out, i, src);
  }
  void layer_norm(const Array& x, const Array& w, const Array& b, double eps, const Array& out,
                  const Array& mean, const Array& rstd) override {
    count("layer_norm");
    inner_.layer_norm(x, w, b, eps, out, mean, rstd);
  }
  void layer_norm_backward(const Array& g, const Array& x, const Array& w, const Array& mean,
                           const Array& rstd, const Array& gx, const Array& gw,
                           const Array& gb) override {
    count("layer_norm_backward");
    inner_.layer_norm_backward(g, x, w, mean, rstd, gx, gw, gb);
  }
  void rms_norm(const Array& x, const Array& w, double eps, const Array& out,
                const Array& rstd) override {
    count("rms_norm");
    inner_.rms_norm(x, w, eps, out, rstd);
  }
  void rms_norm_backward(const Array& g, const Array& x, const Array& w, const Array& rstd,
                         const Array& gx, const Array& gw) override {
    count("rms_norm_backward");
    inner_.rms_norm_backward(g, x, w, rstd, gx, gw);
  }
  void cross_entropy(const Array& l, const Array& t, std::int64_t ignore, double s,
                     const Array& losses) override {
    count("cross_entropy");
    inner_.cross_entropy(l, t, ignore, s, losses);
  }
  void cross_entropy_backward(const Array& l, const Array& t, const Array& g, std::int64_t ignore,
                              double s, const Array& gl) override {
    count("cross_entropy_backward");
    inner_.cross_entropy_backward(l, t, g, ignore, s, gl);
  }
  void dropout_mask(const Array& out, double keep, std::uint64_t seed,
                    std::uint64_t offset) override {
    count("dropout_mask");
    inner_.dropout_mask(out, keep, seed, offset);
  }
  void adam_step(const Array& p, const Array& g, const Array& m, const Array& v, double lr,
                 double b1, double b2, double eps, double wd, bool decoupled,
                 std::int64_t step) override {
    count("adam_step");
    inner_.adam_step(p, g, m, v, lr, b1, b2, eps, wd, decoupled, step);
  }
  void rotary_embedding(const Array& x, std::int64_t offset, double base, bool inverse,
                        const Array& out) override {
    count("rotary_embedding");
    inner_.rotary_embedding(x, offset, base, inverse, out);
  }

 private:
  void count(const char* what) { ++calls[what]; }
  tensor::Backend& inner_;
};

}  // namespace

TEST_SUITE("cuda-sim") {
  TEST_CASE("cuda-sim: autograd through a small attention graph gives the cpu's gradients") {
    using namespace autograd;
    Generator gen(31);
    // x [T, D] tokens, a self-attention head (wq, wk, wv), layer norm, a classifier, cross-entropy
    const tensor::Array x = tensor::uniform({6, 8}, -1, 1, gen, DType::Float64);
    const tensor::Array wq = tensor::uniform({8, 4}, -1, 1, gen, DType::Float64);
    const tensor::Array wk = tensor::uniform({8, 4}, -1, 1, gen, DType::Float64);
    const tensor::Array wv = tensor::uniform({8, 4}, -1, 1, gen, DType::Float64);
    const tensor::Array ln_w = tensor::uniform({4}, 0.5, 1.5, gen, DType::Float64);
    const tensor::Array ln_b = tensor::uniform({4}, -1, 1, gen, DType::Float64);
    const tensor::Array head = tensor::uniform({4, 5}, -1, 1, gen, DType::Float64);
    const tensor::Array targets = tensor::from_vector(std::vector<std::int64_t>{0, 4, 2, 2, 1, 3});

    auto run = [&](tensor::Device device) {
      std::vector<Tensor> params;
      for (const tensor::Array* a : {&x, &wq, &wk, &wv, &ln_w, &ln_b, &head})
        params.push_back(Tensor(a->to(device), true));
      const Tensor &xs = params[0], &q_w = params[1], &k_w = params[2], &v_w = params[3];
      Tensor q = matmul(xs, q_w), k = matmul(xs, k_w), v = matmul(xs, v_w);
      Tensor scores = matmul(q, transpose(k, -2, -1)) / 2.0;
      Tensor weights = softmax(
          masked_fill(scores, Tensor(tensor::logical_not(tensor::tril_mask(6, 6, 0, device))),
                      -INFINITY),
          -1);
      Tensor hidden = layer_norm(gelu(matmul(weights, v)), params[4], params[5]);
      Tensor logits = matmul(hidden, params[6]);
      Tensor loss = cross_entropy(logits, Tensor(targets.to(device)), -100, 0.1) +
                    mean(square(log_softmax(logits, 0)));
      loss.backward();
      std::vector<std::vector<double>> result{values(loss)};
      for (const Tensor& p : params) {
        CHECK(p.grad().device() == device);
        result.push_back(values(p.grad()));
      }
      return result;
    };
    const auto expected = run(tensor::kCPU);
    const auto got = run(kSim);
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      check_close(got[i], expected[i], 1e-10, 1e-12);
    }
  }

  TEST_CASE("cuda-sim: a few training steps of a tiny Transformer give the cpu's losses") {
    // Encoder-decoder, one layer each, with dropout (the masks come from Philox, so they are the
    // same on both devices), trained with AdamW on one batch of a copy task.
    // Tiny on purpose: every matmul is one 16x16 tile, so the simulator's barriers stay cheap.
    nn::TransformerConfig config;
    config.src_vocab = config.tgt_vocab = 7;
    config.max_len = 8;
    config.layer.d_model = 8;
    config.layer.nhead = 2;
    config.layer.dim_feedforward = 16;
    config.layer.dropout = 0.1;
    config.num_encoder_layers = config.num_decoder_layers = 1;
    tensor::Generator data_gen(41);
    const tensor::Array src = tensor::randint(1, 7, {2, 5}, data_gen);      // [B, S]
    const tensor::Array tgt_in = tensor::randint(1, 7, {2, 4}, data_gen);   // [B, T]
    const tensor::Array tgt_out = tensor::randint(1, 7, {2, 4}, data_gen);  // [B, T]

    auto train = [&](tensor::Device device) {
      tensor::Generator gen(
          42);  // initial weights and dropout masks: the same draws on both devices
      nn::Transformer model(config, gen);
      model.to(device);
      nn::AdamW optimizer(model.parameters(), 1e-2);
      const autograd::Tensor source(src.to(device)), target_in(tgt_in.to(device)),
          target_out(tgt_out.to(device));
      std::vector<double> losses;
      for (int step = 0; step < 3; ++step) {
        autograd::Tensor logits = model.forward(source, target_in);  // [B, T, V]
        autograd::Tensor loss =
            autograd::cross_entropy(autograd::reshape(logits, {-1, 7}),
                                    autograd::reshape(target_out, {-1}), -100, 0.1);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        CHECK(loss.device() == device);
        losses.push_back(loss.item());
      }
      std::vector<double> weights = values(model.parameters()[0].data());
      losses.insert(losses.end(), weights.begin(), weights.begin() + 8);
      return losses;
    };
    const std::vector<double> cpu = train(tensor::kCPU);
    const std::vector<double> sim = train(kSim);
    INFO("cpu losses " << cpu[0] << " " << cpu[1] << " " << cpu[2]);
    INFO("cuda-sim losses " << sim[0] << " " << sim[1] << " " << sim[2]);
    CHECK(cpu[2] < cpu[0]);  // it learns
    check_close(sim, cpu, 1e-4, 1e-5);
  }

  TEST_CASE("cuda-sim: every virtual function of tensor::Backend is exercised") {
    using namespace tensor;
    Backend& sim = backend(kSim);
    CountingBackend counting(sim);
    register_backend(DeviceType::CudaSim, &counting);
    struct Restore {  // puts the real backend back even if a check below throws
      Backend& sim;
      ~Restore() { register_backend(DeviceType::CudaSim, &sim); }
    } restore{sim};
    {
      Generator gen(32);
      Array x = uniform({4, 6}, -1, 1, gen).to(kSim);            // allocate, copy_from_host
      Array y = x.t().contiguous();                               // copy
      Array filled = full({3}, 2.0, DType::Float32, kSim);        // fill
      Array e = exp(x);                                           // unary
      Array s = x * e;                                            // binary
      Array w = where(gt(x, e), x, e);                            // where
      Array total = sum(s, {1});                                  // reduce
      Array prod_ = matmul(x, y);                                 // matmul
      Array soft = softmax(x, -1);                                // softmax
      Array back = softmax_backward(x, soft, -1);                 // softmax_backward
      Array ids = from_vector(std::vector<std::int64_t>{1, 0, 3}).to(kSim);
      Array emb = embedding(x, ids);                              // embedding
      Array demb = embedding_backward(emb, ids, 4);               // embedding_backward
      Array index = from_vector(std::vector<std::int64_t>{0, 5, 5, 1, 2, 3, 4, 0}, {4, 2}).to(kSim);
      Array gathered = gather(x, 1, index);                       // gather
      Array scattered = scatter_add(x, 1, index, gathered);       // scatter_add
      LayerNormResult ln = layer_norm(x, Array(), Array(), 1e-5);  // layer_norm
      LayerNormGrads dln = layer_norm_backward(x, x, Array(), ln.mean, ln.rstd, false, false);
      RMSNormResult rn = rms_norm(x, Array(), 1e-6);               // rms_norm
      RMSNormGrads drn = rms_norm_backward(x, x, Array(), rn.rstd, false);  // rms_norm_backward
      Array targets = from_vector(std::vector<std::int64_t>{0, 5, 2, 1}).to(kSim);
      Array losses = cross_entropy_losses(x, targets, -100, 0.0);  // cross_entropy
      Array dlogits = cross_entropy_backward(x, targets, losses, -100, 0.0);
      Array mask = dropout_mask({4, 6}, 0.5, gen, DType::Float32, kSim);  // dropout_mask
      Array m = zeros_like(x), v = zeros_like(x);
      adam_step(x, e, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.0, true, 1);  // adam_step
      Array rotated = rotary_embedding(x, 2);                    // rotary_embedding
      CHECK(values(total).size() == 4);                          // copy_to_host
    }                                                            // deallocate
    const char* virtuals[] = {
        "allocate",      "deallocate",         "copy_from_host",      "copy_to_host",
        "copy",          "fill",               "unary",               "binary",
        "where",         "reduce",             "matmul",              "softmax",
        "softmax_backward", "embedding",       "embedding_backward",  "gather",
        "scatter_add",   "layer_norm",         "layer_norm_backward", "rms_norm",
        "rms_norm_backward", "cross_entropy",
        "cross_entropy_backward", "dropout_mask", "adam_step", "rotary_embedding"};
    for (const char* name : virtuals) {
      CAPTURE(name);
      CHECK(counting.calls[name] > 0);
    }
    CHECK(counting.name() == "cuda-sim");
  }
}
