// The configurable GPT (GPTConfig position / norm / mlp / num_kv_heads): the defaults against the
// GPT-2 block it replaced (TransformerEncoderLayer, pre-LN, causal: same names, same initial
// weights for the same seed, bit-identical outputs, with and without dropout, and a checkpoint of
// the old layout loading into the new GPT), every configuration's parameter layout, causality,
// cached generation against recomputation, the cache's size, checkpoints, gradchecks and errors.
#include <cmath>
#include <set>

#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using namespace nn;
using testing::check_close;
using testing::error_message;
using testing::values;

namespace {

// GPT before it became configurable, rebuilt from the pieces it was made of, in the same order
// (so from the same seed it draws the same initial weights): token and learned position
// embeddings, pre-LN TransformerEncoderLayers with a causal mask, a final LayerNorm, a head.
class ReferenceGPT : public Module {
 public:
  ReferenceGPT(const GPTConfig& c, Generator& gen) {
    tok_embed = register_module("tok_embed", std::make_shared<Embedding>(c.vocab, c.d_model, gen));
    pos_embed = register_module("pos_embed", std::make_shared<LearnedPositionalEmbedding>(c.context, c.d_model, gen));
    LayerConfig layer{c.d_model, c.nhead, c.dim_feedforward, c.dropout, c.activation, true, 1e-5};
    layers = register_module("layers", std::make_shared<ModuleList<TransformerEncoderLayer>>());
    for (std::int64_t i = 0; i < c.num_layers; ++i)
      layers->append(std::make_shared<TransformerEncoderLayer>(layer, gen));
    norm = register_module("norm", std::make_shared<LayerNorm>(c.d_model));
    head = register_module("head", std::make_shared<Linear>(c.d_model, c.vocab, false, gen));
  }
  Tensor forward(const Tensor& ids) {
    Tensor h = pos_embed->forward(tok_embed->forward(ids), 0);
    for (auto& layer : layers->items()) h = layer->forward(h, {.is_causal = true});
    return (*head)((*norm)(h));
  }
  std::string type_name() const override { return "ReferenceGPT"; }
  std::shared_ptr<Embedding> tok_embed;
  std::shared_ptr<LearnedPositionalEmbedding> pos_embed;
  std::shared_ptr<ModuleList<TransformerEncoderLayer>> layers;
  std::shared_ptr<LayerNorm> norm;
  std::shared_ptr<Linear> head;
};

Tensor ids_of(const std::vector<std::int64_t>& ids, std::int64_t rows) {
  return Tensor(tensor::from_vector(ids, {rows, std::int64_t(ids.size()) / rows}));
}

// A small GPT of each kind: vocab 11, context 12, d_model 16, 4 heads of 4, 2 layers.
GPTConfig small(const std::string& position, const std::string& norm, const std::string& mlp,
                std::int64_t kv_heads) {
  return GPTConfig{.vocab = 11, .context = 12, .d_model = 16, .nhead = 4, .num_layers = 2,
                   .dim_feedforward = 24, .dropout = 0.0, .activation = "gelu",
                   .position = position, .norm = norm, .mlp = mlp, .num_kv_heads = kv_heads};
}

const std::vector<GPTConfig> kConfigs = {
    small("learned", "layer", "gelu", 0),     // GPT-2
    small("sinusoidal", "layer", "gelu", 2),  //
    small("rope", "rms", "swiglu", 2),        // LLaMA-2-70B / LLaMA-3 style (GQA)
    small("rope", "rms", "swiglu", 1),        // multi-query
    small("rope", "layer", "gelu", 4),        //
    small("learned", "rms", "swiglu", 0),     //
};

std::string describe(const GPTConfig& c) {
  return c.position + "/" + c.norm + "/" + c.mlp + "/kv" + std::to_string(c.num_kv_heads);
}

}  // namespace

TEST_CASE("GPT with default GPTConfig is the GPT-2 block stack it was: names, weights, outputs") {
  for (double dropout : {0.0, 0.2}) {
    CAPTURE(dropout);
    GPTConfig config{13, 10, 16, 4, 2, 40, dropout, "gelu"};
    Generator gen_new(21), gen_old(21);
    GPT gpt(config, gen_new);
    ReferenceGPT reference(config, gen_old);
    auto got = gpt.named_parameters(), expected = reference.named_parameters();
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CAPTURE(expected[i].first);
      CHECK(got[i].first == expected[i].first);
      CHECK(got[i].second.shape() == expected[i].second.shape());
      CHECK(values(got[i].second) == values(expected[i].second));
    }
    CHECK(gpt.named_buffers().size() == reference.named_buffers().size());
    Tensor ids = ids_of({1, 5, 2, 12, 7, 3, 0, 4, 9, 9, 8, 6}, 2);
    // In training mode dropout draws from each model's own generator, in the same order.
    CHECK(values(gpt.forward(ids)) == values(reference.forward(ids)));
    gpt.eval(), reference.eval();
    CHECK(values(gpt.forward(ids)) == values(reference.forward(ids)));
  }
  // A checkpoint written from the old layout loads into the new GPT (strict names and shapes).
  testing::TempDir dir("gpt_config");
  GPTConfig config{13, 10, 16, 4, 2, 40, 0.0, "gelu"};
  Generator gen_old(22), gen_new(23);
  ReferenceGPT reference(config, gen_old);
  GPT gpt(config, gen_new);
  std::string path = (dir.path / "old.safetensors").string();
  nn::save(reference, path);
  nn::load(gpt, path);
  Tensor ids = ids_of({3, 1, 4, 1, 5, 9, 2, 6}, 1);
  CHECK(values(gpt.forward(ids)) == values(reference.forward(ids)));
}

TEST_CASE("GPTConfig: each configuration's parameter layout") {
  Generator gen(24);
  auto names_of = [](const Module& m) {
    std::set<std::string> names;
    for (auto& [name, t] : m.named_parameters()) names.insert(name);
    return names;
  };
  GPT llama(small("rope", "rms", "swiglu", 2), gen);
  std::set<std::string> names = names_of(llama);
  for (const char* expected : {"tok_embed.weight", "layers.1.self_attn.q_proj.weight", "layers.0.norm1.weight",
                               "layers.0.feed_forward.w1.weight", "layers.0.feed_forward.w2.weight",
                               "layers.0.feed_forward.w3.weight", "norm.weight", "head.weight"})
    CHECK(names.count(expected) == 1);
  for (const char* absent : {"pos_embed.weight", "layers.0.norm1.bias", "norm.bias", "layers.0.linear1.weight"})
    CHECK(names.count(absent) == 0);
  // k and v project to 2 kv heads of 4: [8, 16]; q and out stay [16, 16].
  CHECK(llama.layers->items()[0]->self_attn->k_proj->weight.shape() == Shape{8, 16});
  CHECK(llama.layers->items()[0]->self_attn->q_proj->weight.shape() == Shape{16, 16});
  CHECK(llama.layers->items()[0]->feed_forward->w2->weight.shape() == Shape{16, 24});
  // Count by hand: embeddings 11*16, per layer q, out (16*16 + 16) twice, k, v (8*16 + 8) twice,
  // SwiGLU 3 * 24*16, two RMSNorm weights 16; final norm 16; head 11*16.
  CHECK(llama.num_parameters() ==
        11 * 16 + 2 * (2 * (16 * 16 + 16) + 2 * (8 * 16 + 8) + 3 * 24 * 16 + 2 * 16) + 16 + 11 * 16);
  GPT sinusoidal(small("sinusoidal", "layer", "gelu", 0), gen);
  CHECK(names_of(sinusoidal).count("pos_embed.weight") == 0);
  CHECK(sinusoidal.named_buffers().size() == 1);  // the table, not trained
  CHECK(sinusoidal.named_buffers()[0].first == "pos_encoding.table");
}

TEST_CASE("GPTConfig: every configuration is causal, caches its kv heads only, and generates the same tokens cached") {
  for (const GPTConfig& config : kConfigs) {
    CAPTURE(describe(config));
    Generator gen(25);
    GPT gpt(config, gen);
    gpt.to(DType::Float64);
    // Causal: changing the last 3 tokens leaves the first 5 positions' logits exactly as they were.
    Tensor ids = ids_of({1, 5, 2, 10, 7, 3, 0, 4}, 1), changed = ids_of({1, 5, 2, 10, 7, 4, 1, 5}, 1);
    CHECK(values(gpt.forward(ids).slice(1, 0, 5)) == values(gpt.forward(changed).slice(1, 0, 5)));
    // Cached logits, in three chunks, equal the full forward's at every position.
    Tensor batch = ids_of({1, 5, 2, 10, 7, 3, 0, 4, 9, 9, 8, 6, 2, 2, 1, 0}, 2);  // [2, 8]
    std::vector<KVCache> caches;
    Tensor a = gpt.forward_cached(batch.slice(1, 0, 3), caches);
    Tensor b = gpt.forward_cached(batch.slice(1, 3, 4), caches);
    Tensor c = gpt.forward_cached(batch.slice(1, 4, 8), caches);
    check_close(values(autograd::cat({a, b, c}, 1)), values(gpt.forward(batch)), 1e-10, 1e-12);
    // The cache holds exactly 2 * layers * kv_heads * head_dim * tokens numbers per sequence.
    const std::int64_t kv_heads = config.num_kv_heads > 0 ? config.num_kv_heads : config.nhead;
    std::int64_t held = 0;
    for (const KVCache& cache : caches) held += cache.numel();
    CHECK(held == 2 * (2 * config.num_layers * kv_heads * (config.d_model / config.nhead) * 8));
    CHECK(caches[0].k.shape() == Shape{2, kv_heads, 8, 4});
    // generate(): cached and recomputed tokens agree, greedy and sampled.
    Tensor prompt = ids_of({3, 4, 5, 6, 7, 8}, 2);
    CHECK(values(gpt.generate(prompt, 5, {}, gen, true)) == values(gpt.generate(prompt, 5, {}, gen, false)));
    Generator s1(9), s2(9);
    CHECK(values(gpt.generate(prompt, 5, {1.0, 4}, s1, true)) == values(gpt.generate(prompt, 5, {1.0, 4}, s2, false)));
    // 9 prompt tokens + 4 new ones run positions 0..11 through the model; a 5th would need 12.
    Tensor long_prompt = ids_of({1, 2, 3, 4, 5, 6, 7, 8, 9}, 1);
    CHECK(error_message([&] { gpt.generate(long_prompt, 4, {}, gen, true); }).empty());
    CHECK(error_message([&] { gpt.generate(long_prompt, 5, {}, gen, true); }).find("beyond the context of 12") !=
          std::string::npos);
  }
}

TEST_CASE("GPTConfig: a checkpoint of every configuration round-trips") {
  testing::TempDir dir("gpt_config_checkpoints");
  for (const GPTConfig& config : kConfigs) {
    CAPTURE(describe(config));
    Generator gen_a(26), gen_b(27);
    GPT saved(config, gen_a), loaded(config, gen_b);
    std::string path = (dir.path / "gpt.safetensors").string();
    nn::save(saved, path);
    nn::load(loaded, path);
    Tensor ids = ids_of({1, 5, 2, 10, 7, 3}, 2);
    CHECK(values(loaded.forward(ids)) == values(saved.forward(ids)));
  }
  // A layout mismatch is refused by name: a GQA checkpoint does not load into an MHA model.
  Generator gen(28);
  GPT gqa(small("rope", "rms", "swiglu", 2), gen), mha(small("rope", "rms", "swiglu", 0), gen);
  std::string path = (dir.path / "gqa.safetensors").string();
  nn::save(gqa, path);
  CHECK(error_message([&] { nn::load(mha, path); }).find("layers.0.self_attn.k_proj.weight") != std::string::npos);
}

TEST_CASE("gradcheck: a GPT with rope, RMSNorm, SwiGLU and grouped-query attention") {
  Generator gen(29);
  GPTConfig config{.vocab = 5, .context = 4, .d_model = 8, .nhead = 4, .num_layers = 1,
                   .dim_feedforward = 6, .position = "rope", .norm = "rms", .mlp = "swiglu",
                   .num_kv_heads = 2};
  GPT gpt(config, gen);
  gpt.to(DType::Float64);
  Tensor ids = ids_of({1, 4, 0, 3}, 1);
  autograd::GradcheckResult result = autograd::gradcheck_leaves([&] { return gpt.forward(ids); }, gpt.parameters());
  INFO(result.message);
  CHECK(result.passed);
  CHECK(result.elements_checked == 4 * 5 * gpt.num_parameters());
}

TEST_CASE("GPTConfig: invalid fields are named in the error") {
  auto error_of = [](GPTConfig config) {
    return error_message([&] { GPT gpt(config); });
  };
  GPTConfig c = small("learned", "layer", "gelu", 0);
  auto with = [&](auto change) {
    GPTConfig copy = c;
    change(copy);
    return error_of(copy);
  };
  CHECK(with([](GPTConfig& x) { x.position = "alibi"; }).find("GPTConfig: position must be 'learned', 'sinusoidal' or 'rope', got 'alibi'") != std::string::npos);
  CHECK(with([](GPTConfig& x) { x.norm = "batch"; }).find("GPTConfig: norm must be") != std::string::npos);
  CHECK(with([](GPTConfig& x) { x.mlp = "geglu"; }).find("GPTConfig: mlp must be") != std::string::npos);
  CHECK(with([](GPTConfig& x) { x.activation = "tanh"; }).find("GPTConfig: activation must be") != std::string::npos);
  CHECK(with([](GPTConfig& x) { x.num_kv_heads = 3; }).find("GPTConfig: num_kv_heads 3 must divide nhead 4") != std::string::npos);
  CHECK(with([](GPTConfig& x) { x.num_kv_heads = -1; }).find("num_kv_heads -1") != std::string::npos);
  CHECK(with([](GPTConfig& x) { x.nhead = 3; }).find("d_model 16 must be divisible by nhead 3") != std::string::npos);
  CHECK(with([](GPTConfig& x) { x.position = "rope", x.d_model = 12, x.nhead = 4; }).find("even head size") != std::string::npos);
  CHECK(with([](GPTConfig& x) { x.position = "rope", x.rope_base = 1.0; }).find("rope_base must be > 1") != std::string::npos);
  CHECK(with([](GPTConfig& x) { x.dropout = 1.0; }).find("dropout must be in [0, 1)") != std::string::npos);
  CHECK(with([](GPTConfig&) {}).empty());
}
