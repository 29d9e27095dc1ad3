// LoRA adapters (llm/lora.hpp): the adapted layer's output against x Wᵀ + b + (alpha/r) x Aᵀ Bᵀ
// computed with plain loops, merge/unmerge against W ± (alpha/r) B A by loops, float64
// gradchecks through A and B (and none into the frozen base), the optimizer holding only the
// adapters (counted against r·(in+out) per layer), and adapter files: round trip and refusals.
#include <cmath>
#include <vector>

#include "llm/lora.hpp"
#include "nn/checkpoint.hpp"
#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using autograd::Tensor;
using testing::check_close;
using testing::error_message;
using testing::TempDir;
using testing::values;
using tensor::DType;
using tensor::Generator;

namespace {

// Fills a tensor with values drawn from U(-1, 1) (B starts at zero; tests want it non-zero).
void lora_test_randomize(const Tensor& t, Generator& gen) {
  t.data().copy_(tensor::uniform(t.shape(), -1.0, 1.0, gen, t.dtype()));
}

// out[n, o] = sum_i x[n, i] W[o, i] + b[o] + scaling · sum_k (sum_i x[n, i] A[k, i]) B[o, k]:
// the LoRA layer written with loops over plain vectors.
std::vector<double> lora_reference(const std::vector<double>& x, std::int64_t rows,
                                   const std::vector<double>& weight, const std::vector<double>& bias,
                                   const std::vector<double>& a, const std::vector<double>& b,
                                   std::int64_t in, std::int64_t out, std::int64_t rank,
                                   double scaling) {
  std::vector<double> y(rows * out);
  for (std::int64_t n = 0; n < rows; ++n)
    for (std::int64_t o = 0; o < out; ++o) {
      double base = bias.empty() ? 0.0 : bias[o];
      for (std::int64_t i = 0; i < in; ++i) base += x[n * in + i] * weight[o * in + i];
      double update = 0;
      for (std::int64_t k = 0; k < rank; ++k) {
        double down = 0;
        for (std::int64_t i = 0; i < in; ++i) down += x[n * in + i] * a[k * in + i];
        update += down * b[o * rank + k];
      }
      y[n * out + o] = base + scaling * update;
    }
  return y;
}

// A small model with Linear layers at two depths, named like an attention block.
class LoRATestBlock : public nn::Module {
 public:
  explicit LoRATestBlock(Generator& gen) {
    attn = register_module("attn", std::make_shared<nn::MultiheadAttention>(8, 2, 0.0, true, gen));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(8));
    head = register_module("head", std::make_shared<nn::Linear>(8, 3, true, gen));
  }
  Tensor forward(const Tensor& x) {  // x [B, T, 8] -> [B, T, 3]
    Tensor h = attn->forward(x, x, x).output;
    return head->forward(norm->forward(autograd::add(x, h)));
  }
  std::string type_name() const override { return "LoRATestBlock"; }
  std::shared_ptr<nn::MultiheadAttention> attn;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> head;
};

}  // namespace

TEST_CASE("LoRA: the adapted Linear computes x Wᵀ + b + (alpha/r) x Aᵀ Bᵀ (plain loops)") {
  Generator gen(11);
  const std::int64_t in = 5, out = 4, rank = 3, rows = 6;
  nn::Linear layer(in, out, true, gen);
  Tensor x(tensor::uniform({2, 3, in}, -1, 1, gen), false);  // [2, 3, in]: leading dims kept
  const std::vector<double> before = values(layer(x));

  auto adapter = llm::add_lora(layer, {.rank = rank, .alpha = 6}, gen);
  CHECK(adapter->scaling() == doctest::Approx(2.0));
  CHECK(adapter->A.shape() == tensor::Shape{rank, in});
  CHECK(adapter->B.shape() == tensor::Shape{out, rank});
  // B = 0 at the start: the adapted layer is exactly the pretrained one.
  CHECK(values(layer(x)) == before);
  // A as PEFT: kaiming-uniform with a = sqrt(5), i.e. inside ±1/sqrt(in), and not all zero.
  double largest = 0;
  for (double v : values(adapter->A)) largest = std::max(largest, std::fabs(v));
  CHECK(largest > 0);
  CHECK(largest <= 1.0 / std::sqrt(double(in)));

  // The base is frozen, the adapter trains; names as named_parameters() gives them.
  CHECK_FALSE(layer.weight.requires_grad());
  CHECK_FALSE(layer.bias.requires_grad());
  CHECK(adapter->A.requires_grad());
  CHECK(adapter->B.requires_grad());
  std::vector<std::string> names;
  for (auto& [name, p] : layer.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"weight", "bias", "lora.A", "lora.B"});

  lora_test_randomize(adapter->B, gen);
  Tensor y = layer(x);
  CHECK(y.shape() == tensor::Shape{2, 3, out});
  check_close(values(y),
              lora_reference(values(x), rows, values(layer.weight), values(layer.bias),
                             values(adapter->A), values(adapter->B), in, out, rank, 2.0),
              1e-5, 1e-5);

  // Without bias, and another scaling (alpha 1, r 4: 0.25).
  nn::Linear plain(in, out, false, gen);
  auto second = llm::add_lora(plain, {.rank = 4, .alpha = 1}, gen);
  lora_test_randomize(second->B, gen);
  check_close(values(plain(x)),
              lora_reference(values(x), rows, values(plain.weight), {}, values(second->A),
                             values(second->B), in, out, 4, 0.25),
              1e-5, 1e-5);

  // One adapter per layer; configs out of range are refused.
  CHECK(error_message([&] { llm::add_lora(layer, {.rank = 2}, gen); }).find("already has an adapter") !=
        std::string::npos);
  nn::Linear fresh(in, out, true, gen);
  CHECK(error_message([&] { llm::add_lora(fresh, {.rank = 0}, gen); }).find("rank must be at least 1") !=
        std::string::npos);
  CHECK(error_message([&] { llm::add_lora(fresh, {.rank = 2, .alpha = -1}, gen); }).find("alpha") !=
        std::string::npos);
  CHECK(error_message([&] { llm::add_lora(fresh, {.rank = 2, .dropout = 1.0}, gen); })
            .find("dropout must be in [0, 1)") != std::string::npos);
  CHECK_FALSE(fresh.adapter);
}

TEST_CASE("LoRA: dropout acts on the adapter's input while training only") {
  Generator gen(12);
  nn::Linear layer(6, 5, true, gen);
  auto adapter = llm::add_lora(layer, {.rank = 2, .alpha = 2, .dropout = 0.5}, gen);
  lora_test_randomize(adapter->B, gen);
  Tensor x(tensor::uniform({4, 6}, 0.5, 1, gen), false);
  layer.eval();
  const std::vector<double> expected =
      lora_reference(values(x), 4, values(layer.weight), values(layer.bias), values(adapter->A),
                     values(adapter->B), 6, 5, 2, 1.0);
  check_close(values(layer(x)), expected, 1e-5, 1e-5);
  layer.train();
  CHECK(values(layer(x)) != values(layer(x)));  // a new mask each call
  // With B = 0 the adapter adds nothing, masked or not: the base path never sees the dropout.
  adapter->B.data().copy_(tensor::zeros({5, 2}));
  layer.eval();
  const std::vector<double> base = values(layer(x));
  layer.train();
  CHECK(values(layer(x)) == base);
}

TEST_CASE("LoRA: merge folds (alpha/r) B A into W, unmerge takes it out, outputs unchanged") {
  Generator gen(13);
  const std::int64_t in = 7, out = 3, rank = 2;
  nn::Linear layer(in, out, true, gen);
  auto adapter = llm::add_lora(layer, {.rank = rank, .alpha = 5}, gen);
  lora_test_randomize(adapter->B, gen);
  Tensor x(tensor::uniform({4, in}, -1, 1, gen), false);
  const std::vector<double> unmerged = values(layer(x));
  const std::vector<double> weight = values(layer.weight);
  const std::vector<double> a = values(adapter->A), b = values(adapter->B);

  adapter->merge();
  CHECK(adapter->merged());
  // W' = W + scaling · B A, by loops.
  std::vector<double> merged_weight(weight);
  for (std::int64_t o = 0; o < out; ++o)
    for (std::int64_t i = 0; i < in; ++i)
      for (std::int64_t k = 0; k < rank; ++k)
        merged_weight[o * in + i] += 2.5 * b[o * rank + k] * a[k * in + i];
  check_close(values(layer.weight), merged_weight, 1e-6, 1e-6);
  CHECK(values(layer.weight) != weight);
  check_close(values(layer(x)), unmerged, 1e-5, 1e-5);  // same function, one matmul fewer

  std::string twice = error_message([&] { adapter->merge(); });
  CHECK(twice.find("already merged") != std::string::npos);
  check_close(values(layer.weight), merged_weight, 1e-6, 1e-6);  // the refused merge changed nothing

  adapter->unmerge();
  CHECK_FALSE(adapter->merged());
  check_close(values(layer.weight), weight, 1e-6, 1e-6);
  check_close(values(layer(x)), unmerged, 1e-5, 1e-5);
  CHECK(error_message([&] { adapter->unmerge(); }).find("not merged") != std::string::npos);
}

TEST_CASE("LoRA: gradients through A and B check against finite differences; the base gets none") {
  Generator gen(14);
  nn::Linear layer(4, 3, true, gen);
  auto adapter = llm::add_lora(layer, {.rank = 2, .alpha = 3}, gen);
  layer.to(DType::Float64);
  lora_test_randomize(adapter->B, gen);
  Tensor x = testing::random_leaf({2, 4}, gen);
  autograd::GradcheckResult result = autograd::gradcheck_leaves(
      [&] { return layer(x); }, {adapter->A, adapter->B, x});
  INFO(result.message);
  CHECK(result.passed);
  CHECK(result.elements_checked == 2 * 3 * (adapter->A.numel() + adapter->B.numel() + x.numel()));

  layer.zero_grad();
  autograd::sum(layer(x)).backward();
  CHECK_FALSE(layer.weight.grad().defined());
  CHECK_FALSE(layer.bias.grad().defined());
  CHECK(adapter->A.grad().defined());
  CHECK(adapter->B.grad().defined());
  // dL/dB for L = sum(y): scaling · sum_n (x Aᵀ)[n, k] for every output row o.
  std::vector<double> xa(2 * 2, 0.0), a = values(adapter->A), xv = values(x);
  for (int n = 0; n < 2; ++n)
    for (int k = 0; k < 2; ++k)
      for (int i = 0; i < 4; ++i) xa[n * 2 + k] += xv[n * 4 + i] * a[k * 4 + i];
  std::vector<double> grad_b(3 * 2);
  for (int o = 0; o < 3; ++o)
    for (int k = 0; k < 2; ++k) grad_b[o * 2 + k] = 1.5 * (xa[k] + xa[2 + k]);
  check_close(values(adapter->B.grad()), grad_b, 1e-10, 1e-12);
}

TEST_CASE("LoRA on a model: chosen layers, everything else frozen, the optimizer sees only adapters") {
  Generator gen(15);
  LoRATestBlock block(gen);
  Tensor x(tensor::uniform({2, 3, 8}, -1, 1, gen), false);
  const std::vector<double> before = values(block.forward(x));

  CHECK(error_message([&] { llm::apply_lora(block, "q_proj|w_proj", {.rank = 2}, gen); })
            .find("no Linear layer is named 'w_proj'; the Linear layers are: attn.q_proj, attn.k_proj, "
                  "attn.v_proj, attn.out_proj, head") != std::string::npos);
  CHECK(llm::lora_adapters(block).empty());  // the refusal attached nothing
  CHECK(block.attn->q_proj->weight.requires_grad());

  const std::int64_t rank = 4;
  auto attached = llm::apply_lora(block, "q_proj|v_proj|head", {.rank = rank, .alpha = 8}, gen);
  REQUIRE(attached.size() == 3);
  CHECK(attached[0].first == "attn.q_proj");
  CHECK(attached[1].first == "attn.v_proj");
  CHECK(attached[2].first == "head");
  CHECK(values(block.forward(x)) == before);  // B = 0
  CHECK_FALSE(block.attn->k_proj->adapter);

  // Only adapters require grad now; their names are those of named_parameters().
  std::int64_t trainable = 0;
  for (auto& [name, p] : block.named_parameters()) {
    bool is_adapter = name.find(".lora.") != std::string::npos;
    CAPTURE(name);
    CHECK(p.requires_grad() == is_adapter);
    if (p.requires_grad()) trainable += p.numel();
  }
  // r · (in + out) per adapted layer: 8x8, 8x8 and 8x3.
  const std::int64_t formula = rank * (8 + 8) + rank * (8 + 8) + rank * (8 + 3);
  CHECK(trainable == formula);
  nn::NamedTensors adapters = llm::lora_parameters(block);
  REQUIRE(adapters.size() == 6);
  CHECK(adapters[0].first == "attn.q_proj.lora.A");
  CHECK(adapters[5].first == "head.lora.B");
  nn::NamedTensors all = block.named_parameters();
  for (auto& [name, p] : adapters) {
    bool found = false;
    for (auto& [other_name, other] : all)
      if (other_name == name) found = other.impl() == p.impl();
    CAPTURE(name);
    CHECK(found);
  }

  nn::Adam optimizer(llm::lora_parameter_list(block), 0.01);
  std::int64_t seen = 0;
  for (const Tensor& p : optimizer.params()) seen += p.numel();
  CHECK(seen == formula);
  const std::vector<double> frozen = values(block.attn->q_proj->weight);
  const std::vector<double> a_before = values(adapters[4].second);
  for (int step = 0; step < 3; ++step) {
    optimizer.zero_grad();
    autograd::mean(autograd::square(block.forward(x))).backward();
    optimizer.step();
  }
  CHECK(values(block.attn->q_proj->weight) == frozen);
  CHECK(values(adapters[4].second) != a_before);
  // Adam keeps two moments per trainable value: the state is 2 · formula floats (plus the step).
  std::int64_t state = 0;
  for (auto& [name, array] : optimizer.state())
    if (name != "steps") state += array.numel();
  CHECK(state == 2 * formula);

  // Merged and unmerged give the same outputs on the whole model.
  const std::vector<double> unmerged = values(block.forward(x));
  llm::merge_lora(block);
  check_close(values(block.forward(x)), unmerged, 1e-5, 1e-5);
  CHECK(error_message([&] { llm::merge_lora(block); }).find("already merged") != std::string::npos);
  llm::unmerge_lora(block);
  check_close(values(block.forward(x)), unmerged, 1e-5, 1e-5);

  // "*" adapts every Linear; a layer cannot get a second adapter.
  Generator gen2(15);
  LoRATestBlock other(gen2);
  CHECK(llm::apply_lora(other, "*", {.rank = 1}, gen2).size() == 5);
  CHECK(error_message([&] { llm::apply_lora(other, "head", {.rank = 1}, gen2); })
            .find("'head' already has an adapter") != std::string::npos);
  CHECK(error_message([&] { llm::apply_lora(other, "head||q_proj", {.rank = 1}, gen2); })
            .find("empty name") != std::string::npos);
}

TEST_CASE("LoRA adapters: saved alone, loaded back, bad files refused with nothing changed") {
  TempDir dir("lora");
  Generator gen(16);
  auto make_block = [](std::uint64_t seed) {
    Generator base_gen(seed);  // the same pretrained base for every block
    return std::make_unique<LoRATestBlock>(base_gen);
  };
  auto trained = make_block(7);
  llm::apply_lora(*trained, "q_proj|v_proj", {.rank = 4, .alpha = 8}, gen);
  for (auto& [name, p] : llm::lora_parameters(*trained)) lora_test_randomize(p, gen);
  const std::string path = dir.file("adapters.safetensors");
  llm::save_lora(*trained, path, {{"task", "shifted"}});

  // The file holds the adapters alone, under named_parameters() names, with rank and alpha.
  tensor::SafetensorsFile file = tensor::load_safetensors(path);
  std::vector<std::string> names;
  for (auto& [name, array] : file.tensors) names.push_back(name);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"attn.q_proj.lora.A", "attn.q_proj.lora.B",
                                          "attn.v_proj.lora.A", "attn.v_proj.lora.B"});
  CHECK(file.metadata.at("attn.q_proj.rank") == "4");
  CHECK(file.metadata.at("attn.v_proj.alpha") == "8");
  CHECK(file.metadata.at("format") == "lora");

  Tensor x(tensor::uniform({1, 4, 8}, -1, 1, gen), false);
  auto fresh = make_block(7);
  llm::apply_lora(*fresh, "q_proj|v_proj", {.rank = 4, .alpha = 8}, gen);
  CHECK(values(fresh->forward(x)) != values(trained->forward(x)));
  auto metadata = llm::load_lora(*fresh, path);
  CHECK(metadata.at("task") == "shifted");
  CHECK(values(fresh->forward(x)) == values(trained->forward(x)));

  auto refused = [&](nn::Module& model, const std::string& file_path) {
    const std::vector<Tensor> params = llm::lora_parameter_list(model);
    std::vector<std::vector<double>> kept;
    for (const Tensor& p : params) kept.push_back(values(p));
    std::string message = error_message([&] { llm::load_lora(model, file_path); });
    for (std::size_t i = 0; i < params.size(); ++i) CHECK(values(params[i]) == kept[i]);
    return message;
  };
  auto has = [](const std::string& message, const std::string& part) {
    INFO(message);
    CHECK(message.find(part) != std::string::npos);
  };

  // Another rank: both the metadata and the shapes disagree.
  auto rank2 = make_block(7);
  llm::apply_lora(*rank2, "q_proj|v_proj", {.rank = 2, .alpha = 8}, gen);
  std::string message = refused(*rank2, path);
  has(message, "load_lora: " + path);
  has(message, "'attn.q_proj' has rank 4 in the file, 2 in the model");
  has(message, "'attn.q_proj.lora.A' is float32 [4, 8] in the file, float32 [2, 8] in the model");
  has(message, "nothing loaded");
  // Another alpha: same shapes, a different update.
  auto alpha4 = make_block(7);
  llm::apply_lora(*alpha4, "q_proj|v_proj", {.rank = 4, .alpha = 4}, gen);
  has(refused(*alpha4, path), "'attn.v_proj' has alpha 8 in the file, 4 in the model");
  // Adapters on other layers: missing and unexpected names.
  auto other_layers = make_block(7);
  llm::apply_lora(*other_layers, "q_proj|k_proj", {.rank = 4, .alpha = 8}, gen);
  message = refused(*other_layers, path);
  has(message, "missing 'attn.k_proj.lora.A'");
  has(message, "unexpected 'attn.v_proj.lora.B'");
  // A merged adapter would end up with W holding the old update.
  llm::merge_lora(*fresh);
  has(refused(*fresh, path), "is merged (unmerge first)");
  llm::unmerge_lora(*fresh);
  // A whole-model checkpoint is not an adapter file.
  const std::string model_path = dir.file("model.safetensors");
  nn::save(*trained, model_path);
  has(refused(*fresh, model_path), "not a LoRA adapter file");
  // A cut-off file, and no file at all.
  std::string bytes = testing::read_bytes(path);
  std::ofstream(dir.file("cut.safetensors"), std::ios::binary) << bytes.substr(0, bytes.size() - 9);
  has(refused(*fresh, dir.file("cut.safetensors")), "cut.safetensors");
  has(refused(*fresh, dir.file("none.safetensors")), "none.safetensors");
  // A model without adapters has nothing to load into or save.
  auto bare = make_block(7);
  has(error_message([&] { llm::load_lora(*bare, path); }), "apply_lora first");
  has(error_message([&] { llm::save_lora(*bare, dir.file("empty.safetensors")); }), "no LoRA adapter");

  // Non-finite adapters are never written: the good file stays.
  llm::lora_parameters(*trained)[1].second.data().copy_(
      tensor::full({8, 4}, std::nan(""), DType::Float32));
  has(error_message([&] { llm::save_lora(*trained, path); }), "NaN");
  CHECK(llm::load_lora(*fresh, path).at("task") == "shifted");
}

TEST_CASE("LoRA adapter files without rank/alpha in the metadata, or with NaN values, are refused") {
  // A file written by hand (or by another tool) from a good one, changed in one way each time.
  TempDir dir("lora_meta");
  Generator gen(5);
  Generator base_gen(3);
  LoRATestBlock trained(base_gen);
  llm::apply_lora(trained, "q_proj", {.rank = 2, .alpha = 8}, gen);
  for (auto& [name, p] : llm::lora_parameters(trained)) lora_test_randomize(p, gen);
  const std::string good = dir.file("good.safetensors");
  llm::save_lora(trained, good);
  const tensor::SafetensorsFile file = tensor::load_safetensors(good);

  Generator other_base(3);
  LoRATestBlock model(other_base);
  llm::apply_lora(model, "q_proj", {.rank = 2, .alpha = 4}, gen);  // another alpha than the file's
  const std::vector<std::vector<double>> before = {values(llm::lora_parameter_list(model)[0]),
                                                   values(llm::lora_parameter_list(model)[1])};
  auto refused_with = [&](const tensor::NamedArrays& arrays, std::map<std::string, std::string> metadata,
                          const std::string& expected) {
    const std::string path = dir.file("changed.safetensors");
    tensor::save_safetensors(path, arrays, metadata);
    const std::string message = error_message([&] { llm::load_lora(model, path); });
    INFO(message);
    CHECK(message.find("load_lora: " + path) != std::string::npos);
    CHECK(message.find(expected) != std::string::npos);
    CHECK(values(llm::lora_parameter_list(model)[0]) == before[0]);  // nothing loaded
    CHECK(values(llm::lora_parameter_list(model)[1]) == before[1]);
  };
  // Without its alpha, the file's B A would be scaled by the model's alpha / r (4/2, not 8/2).
  std::map<std::string, std::string> no_alpha = file.metadata;
  no_alpha.erase("attn.q_proj.alpha");
  refused_with(file.tensors, no_alpha, "no alpha for 'attn.q_proj' in the metadata");
  std::map<std::string, std::string> no_rank = file.metadata;
  no_rank.erase("attn.q_proj.rank");
  refused_with(file.tensors, no_rank, "no rank for 'attn.q_proj' in the metadata");
  // NaN and inf in B.
  for (double bad : {std::nan(""), double(INFINITY)}) {
    tensor::NamedArrays arrays;
    for (const auto& [name, array] : file.tensors)
      arrays.emplace_back(name, name.find(".B") != std::string::npos
                                    ? tensor::full(array.shape(), bad, DType::Float32)
                                    : array);
    refused_with(arrays, file.metadata, std::isnan(bad) ? "NaN" : "inf");
  }
}
