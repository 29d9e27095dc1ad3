// nn::Module and the basic layers: registration, dotted names, printing, modes, shapes,
// initialisation statistics, forward against plain computations, gradients.
#include <cmath>
#include <sstream>

#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using namespace nn;
using testing::check_close;
using testing::check_gradients;
using testing::error_message;
using testing::values;

namespace {
// A two-level model, to see names compose: block.proj.weight, ...
struct Block : Module {
  std::shared_ptr<Linear> proj;
  std::shared_ptr<LayerNorm> norm;
  explicit Block(Generator& gen) {
    proj = register_module("proj", std::make_shared<Linear>(4, 3, true, gen));
    norm = register_module("norm", std::make_shared<LayerNorm>(3));
  }
  std::string type_name() const override { return "Block"; }
};
struct Model : Module {
  std::shared_ptr<Block> block;
  std::shared_ptr<Linear> head;
  explicit Model(Generator& gen) {
    block = register_module("block", std::make_shared<Block>(gen));
    head = register_module("head", std::make_shared<Linear>(3, 2, false, gen));
  }
  std::string type_name() const override { return "Model"; }
};
}  // namespace

TEST_CASE("named_parameters gives dotted paths in registration order; tensors know their names") {
  Generator gen(1);
  Model model(gen);
  NamedTensors named = model.named_parameters();
  std::vector<std::string> names;
  for (auto& [name, t] : named) names.push_back(name);
  CHECK(names == std::vector<std::string>{"block.proj.weight", "block.proj.bias",
                                          "block.norm.weight", "block.norm.bias", "head.weight"});
  CHECK(named[0].second.name() == "block.proj.weight");  // the graph shows full names too
  CHECK(model.num_parameters() == 4 * 3 + 3 + 3 + 3 + 3 * 2);
  CHECK(model.parameters().size() == 5);
  for (auto& t : model.parameters()) CHECK(t.requires_grad());
}

TEST_CASE("printing a module tree with shapes and counts") {
  Generator gen(1);
  Model model(gen);
  std::string text = model.to_string();
  CHECK(text ==
        "Model()  # 27 parameters\n"
        "  (block): Block()  # 21 parameters\n"
        "    (proj): Linear(in_features=4, out_features=3, bias=true)  # 15 parameters\n"
        "      weight: [3, 4]\n"
        "      bias: [3]\n"
        "    (norm): LayerNorm((3,), eps=1e-05, elementwise_affine=true)  # 6 parameters\n"
        "      weight: [3]\n"
        "      bias: [3]\n"
        "  (head): Linear(in_features=3, out_features=2, bias=false)  # 6 parameters\n"
        "    weight: [2, 3]\n");
}

TEST_CASE("train/eval propagate; zero_grad clears every gradient") {
  Generator gen(2);
  Model model(gen);
  model.eval();
  CHECK_FALSE(model.block->norm->is_training());
  model.train();
  CHECK(model.block->proj->is_training());
  Tensor x = autograd::randn({5, 4}, gen);
  autograd::sum((*model.head)((*model.block->norm)((*model.block->proj)(x)))).backward();
  for (auto& p : model.parameters()) CHECK(p.grad().defined());
  model.zero_grad();
  for (auto& p : model.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("registration errors are clear") {
  struct Bad : Module {
    std::string type_name() const override { return "Bad"; }
    void add(const std::string& name) { register_parameter(name, autograd::zeros({1})); }
  } bad;
  bad.add("w");
  CHECK(error_message([&] { bad.add("w"); }) == "Module: parameter 'w' registered twice");
  CHECK(error_message([&] { bad.add("a.b"); }).find("must be non-empty and contain no '.'") != std::string::npos);
}

TEST_CASE("Linear computes x W^T + b on any leading dims, with PyTorch's init bounds") {
  Generator gen(3);
  Linear linear(5, 3, true, gen);
  std::vector<double> w = values(linear.weight), b = values(linear.bias);
  double bound = 1 / std::sqrt(5.0);
  for (double v : w) CHECK(std::fabs(v) <= bound);
  for (double v : b) CHECK(std::fabs(v) <= bound);
  Tensor x = autograd::randn({2, 4, 5}, gen);
  Tensor y = linear(x);
  CHECK(y.shape() == Shape{2, 4, 3});
  std::vector<double> xv = values(x), expected;
  for (int r = 0; r < 8; ++r)
    for (int o = 0; o < 3; ++o) {
      double acc = b[o];
      for (int i = 0; i < 5; ++i) acc += xv[r * 5 + i] * w[o * 5 + i];
      expected.push_back(acc);
    }
  check_close(values(y), expected, 1e-5, 1e-6);
  CHECK(error_message([&] { linear(autograd::randn({2, 4}, gen)); }) ==
        "Linear: expected input [..., 5], got [2, 4]");
  linear.to(DType::Float64);
  check_gradients([&](const std::vector<Tensor>& in) { return linear(in[0]); },
                  {testing::random_leaf({2, 5}, gen)});
}

TEST_CASE("init functions: bounds and moments as documented") {
  Generator gen(4);
  Tensor w = autograd::zeros({200, 300});
  init::xavier_uniform_(w, gen);
  double bound = std::sqrt(6.0 / 500);
  double max_seen = 0, sq = 0;
  for (double v : values(w)) {
    max_seen = std::max(max_seen, std::fabs(v));
    sq += v * v;
  }
  CHECK(max_seen <= bound);
  CHECK(max_seen > 0.99 * bound);
  CHECK(sq / w.numel() == doctest::Approx(bound * bound / 3).epsilon(0.03));  // var of U(-b, b)
  init::kaiming_uniform_(w, gen, 0, "relu");
  double kb = std::sqrt(2.0) * std::sqrt(3.0 / 300);
  for (double v : values(w)) CHECK(std::fabs(v) <= kb);
  init::normal_(w, 1.0, 0.5, gen);
  double mean = 0;
  for (double v : values(w)) mean += v / w.numel();
  CHECK(mean == doctest::Approx(1.0).epsilon(0.01));
  init::xavier_normal_(w, gen, 2.0);
  double var = 0;
  for (double v : values(w)) var += v * v / w.numel();
  CHECK(var == doctest::Approx(4 * 2.0 / 500).epsilon(0.03));
  CHECK(init::calculate_gain("tanh") == doctest::Approx(5.0 / 3));
  CHECK(error_message([&] { init::xavier_uniform_(autograd::zeros({3}), gen); }).find("at least 2 dims") != std::string::npos);
}

TEST_CASE("Embedding, LayerNorm, Dropout, activations, Sequential and FeedForward") {
  Generator gen(5);
  Embedding emb(10, 4, gen);
  Tensor ids(tensor::from_vector(std::vector<std::int64_t>{3, 3, 9}));
  Tensor e = emb(ids);
  CHECK(e.shape() == Shape{3, 4});
  CHECK(values(e.select(0, 0)) == values(emb.weight.select(0, 3)));
  LayerNorm norm(4);
  Tensor n = norm(autograd::randn({6, 4}, gen) * 10.0 + 3.0);
  for (int r = 0; r < 6; ++r) {
    std::vector<double> row = values(n.select(0, r));
    double m = 0, v = 0;
    for (double x : row) m += x / 4;
    for (double x : row) v += (x - m) * (x - m) / 4;
    CHECK(m == doctest::Approx(0).epsilon(1e-5));
    CHECK(v == doctest::Approx(1).epsilon(1e-3));
  }
  Dropout drop(0.5, gen);
  Tensor ones = autograd::ones({100});
  drop.eval();
  CHECK(values(drop(ones)) == values(ones));
  drop.train();
  CHECK(values(drop(ones)) != values(ones));
  auto seq = std::make_shared<Sequential>(std::vector<std::shared_ptr<UnaryModule>>{
      std::make_shared<Linear>(4, 8, true, gen), std::make_shared<ReLU>(),
      std::make_shared<Linear>(8, 2, true, gen)});
  CHECK(seq->named_parameters()[2].first == "2.weight");
  CHECK((*seq)(autograd::randn({3, 4}, gen)).shape() == Shape{3, 2});
  FeedForward ff(4, 16, "gelu", 0.1, gen);
  CHECK(ff.num_parameters() == 4 * 16 + 16 + 16 * 4 + 4);
  CHECK(ff.named_parameters()[0].first == "linear1.weight");
  CHECK(ff(autograd::randn({2, 3, 4}, gen)).shape() == Shape{2, 3, 4});
  CHECK(error_message([] { make_activation("swish"); }).find("unknown activation 'swish'") != std::string::npos);
}

TEST_CASE("forward hooks capture outputs and can be removed") {
  Generator gen(6);
  Linear linear(3, 2, true, gen);
  std::vector<Shape> seen;
  int id = linear.register_forward_hook([&](const Module& m, const Tensor& out) {
    CHECK(m.type_name() == "Linear");
    seen.push_back(out.shape());
  });
  linear(autograd::randn({4, 3}, gen));
  CHECK(seen == std::vector<Shape>{{4, 2}});
  linear.remove_forward_hook(id);
  linear(autograd::randn({4, 3}, gen));
  CHECK(seen.size() == 1);
}

TEST_CASE("Dropout and MultiheadAttention draw from their caller's generator stream, safely") {
  Tensor x = autograd::ones({2, 3, 8});
  // A module outlives the Generator object it was built with: it holds a handle on the stream,
  // not a pointer to that object. Its masks are those of a fresh generator with the same seed.
  std::shared_ptr<Dropout> drop;
  {
    Generator short_lived(21);
    drop = std::make_shared<Dropout>(0.5, short_lived);
  }
  Generator reference(21);
  CHECK(values((*drop)(x)) == values(autograd::dropout(x, 0.5, true, reference)));
  // One stream, shared: the caller's offset counts the modules' draws (checkpoints save it),
  // and two modules built from one generator draw one after the other, as before.
  Generator shared(5), replay(5);
  Dropout first(0.5, shared), second(0.5, shared);
  Tensor a = first(x), b = second(x);
  CHECK(values(a) == values(autograd::dropout(x, 0.5, true, replay)));
  CHECK(values(b) == values(autograd::dropout(x, 0.5, true, replay)));
  CHECK(shared.offset() == replay.offset());
  CHECK(values(a) != values(b));
  MultiheadAttention attention(8, 2, 0.5, true, shared);
  const std::uint64_t before = shared.offset();
  (void)attention(x, x, x);
  CHECK(shared.offset() > before);  // the attention-weight dropout drew from `shared`
}
