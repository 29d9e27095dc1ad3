// Transformer layers and models: shapes, parameter layout, pre/post-LN, gradchecks, mask leak
// tests (causality and padding checked through autograd), KV-cache generation, data tasks.
#include <cmath>
#include <set>

#include "nn/data.hpp"
#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using namespace nn;
using testing::check_close;
using testing::error_message;
using testing::f64_randn;
using testing::values;

namespace {
LayerConfig tiny_layer(bool norm_first, const std::string& activation = "relu") {
  return LayerConfig{4, 2, 6, 0.0, activation, norm_first, 1e-5};
}
void check_leaves(const std::function<Tensor()>& f, const std::vector<Tensor>& leaves) {
  autograd::GradcheckResult result = autograd::gradcheck_leaves(f, leaves);
  INFO(result.message);
  CHECK(result.passed);
}
}  // namespace

TEST_CASE("encoder and decoder layers: shapes and gradchecks, post-LN and pre-LN") {
  Generator gen(1);
  for (bool norm_first : {false, true}) {
    CAPTURE(norm_first);
    TransformerEncoderLayer enc(tiny_layer(norm_first, "gelu"), gen);
    TransformerDecoderLayer dec(tiny_layer(norm_first), gen);
    enc.to(DType::Float64);
    dec.to(DType::Float64);
    Tensor x = f64_randn({2, 3, 4}, gen), memory = f64_randn({2, 5, 4}, gen);
    CHECK(enc.forward(x).shape() == Shape{2, 3, 4});
    CHECK(dec.forward(x, memory).shape() == Shape{2, 3, 4});
    check_leaves([&] { return enc.forward(x); }, enc.parameters());
    check_leaves([&] { return dec.forward(x, memory); }, dec.parameters());
    testing::check_gradients([&](const std::vector<Tensor>& in) { return dec.forward(in[0], in[1]); },
                             {Tensor(x.data(), true), Tensor(memory.data(), true)});
  }
}

TEST_CASE("post-LN normalises the layer's output, pre-LN does not") {
  Generator gen(2);
  TransformerEncoderLayer post(tiny_layer(false), gen), pre(tiny_layer(true), gen);
  Tensor x = autograd::randn({1, 3, 4}, gen) * 5.0 + 2.0;
  auto row_mean = [](const Tensor& t) { return values(autograd::mean(t, {-1})); };
  for (double m : row_mean(post.forward(x))) CHECK(std::fabs(m) < 1e-5);
  double largest = 0;
  for (double m : row_mean(pre.forward(x))) largest = std::max(largest, std::fabs(m));
  CHECK(largest > 0.1);  // the residual stream keeps x's offset
}

TEST_CASE("causal mask leak test: later tokens change nothing earlier, gradients exactly zero") {
  Generator gen(3);
  GPTConfig config{12, 8, 8, 2, 2, 16, 0.0, "gelu"};
  GPT gpt(config, gen);
  gpt.to(DType::Float64);
  Tensor ids(tensor::from_vector(std::vector<std::int64_t>{3, 5, 7, 1, 9, 2}, {1, 6}));
  Tensor changed(tensor::from_vector(std::vector<std::int64_t>{3, 5, 7, 11, 0, 4}, {1, 6}));
  Tensor a = gpt.forward(ids), b = gpt.forward(changed);
  // Positions 0..2 saw the same prefix: bit-identical logits.
  CHECK(values(a.slice(1, 0, 3)) == values(b.slice(1, 0, 3)));
  CHECK(values(a.slice(1, 3, 4)) != values(b.slice(1, 3, 4)));
  // Gradient of output position t with respect to the embeddings of later positions: zero.
  Tensor embeddings = Tensor(gpt.tok_embed->forward(ids).data(), true);  // [1, 6, E]
  Tensor h = gpt.pos_embed->forward(embeddings, 0);
  for (auto& layer : gpt.layers->items()) h = layer->forward(h, {.is_causal = true});
  const int t = 2;
  autograd::sum(h.select(1, t)).backward();
  std::vector<double> g = values(embeddings.grad());
  for (int pos = 0; pos < 6; ++pos) {
    double total = 0;
    for (int e = 0; e < 8; ++e) total += std::fabs(g[pos * 8 + e]);
    if (pos > t) CHECK(total == 0.0);  // exactly zero, not just small
    else CHECK(total > 0);
  }
}

TEST_CASE("decoder leak test and padding: padded source positions never influence real ones") {
  Generator gen(4);
  TransformerConfig config;
  config.src_vocab = 10;
  config.tgt_vocab = 10;
  config.max_len = 8;
  config.layer = tiny_layer(true);
  Transformer model(config, gen);
  model.to(DType::Float64);
  Tensor src(tensor::from_vector(std::vector<std::int64_t>{4, 5, 6, 0, 0}, {1, 5}));
  Tensor src_other_pad(tensor::from_vector(std::vector<std::int64_t>{4, 5, 6, 9, 3}, {1, 5}));
  Tensor padding(tensor::from_vector(std::vector<bool>{false, false, false, true, true}, {1, 5}));
  Tensor tgt(tensor::from_vector(std::vector<std::int64_t>{1, 7, 8, 9}, {1, 4}));
  Tensor tgt_changed(tensor::from_vector(std::vector<std::int64_t>{1, 7, 3, 3}, {1, 4}));
  // Whatever sits in the padded source positions, the logits are identical.
  CHECK(values(model.forward(src, tgt, padding)) == values(model.forward(src_other_pad, tgt, padding)));
  // Changing target tokens after position 1 leaves positions 0..1 unchanged.
  Tensor a = model.forward(src, tgt, padding), b = model.forward(src, tgt_changed, padding);
  CHECK(values(a.slice(1, 0, 2)) == values(b.slice(1, 0, 2)));
  // Through autograd: the memory at padded positions receives exactly zero gradient.
  Tensor memory(model.encode(src, padding).data(), true);
  Tensor logits = model.decode(tgt, memory, padding);
  autograd::sum(logits).backward();
  std::vector<double> g = values(memory.grad());
  for (int pos = 0; pos < 5; ++pos) {
    double total = 0;
    for (int e = 0; e < 4; ++e) total += std::fabs(g[pos * 4 + e]);
    CHECK((pos >= 3 ? total == 0.0 : total > 0));
  }
}

TEST_CASE("parameter layout of the reference models (counts match the issue's figures)") {
  Generator gen(5);
  GPT gpt({64, 64, 128, 4, 4, 512, 0.0, "gelu"}, gen);
  CHECK(gpt.num_parameters() == 817920);
  TransformerConfig config;
  config.src_vocab = config.tgt_vocab = 32;
  config.max_len = 32;
  config.layer = {128, 4, 512, 0.0, "gelu", true, 1e-5};
  Transformer seq2seq(config, gen);
  CHECK(seq2seq.num_parameters() == 946688);
  std::set<std::string> names;
  for (auto& [name, t] : seq2seq.named_parameters()) names.insert(name);
  for (const char* expected : {"src_embed.weight", "tgt_pos.weight", "encoder.layers.1.self_attn.q_proj.weight",
                               "decoder.layers.0.multihead_attn.out_proj.bias", "decoder.layers.1.norm3.weight",
                               "encoder.norm.bias", "decoder.norm.weight", "output.weight"})
    CHECK(names.count(expected) == 1);
  config.tie_output = true;
  Transformer tied(config, gen);
  CHECK(tied.num_parameters() == 946688 - 32 * 128);
}

TEST_CASE("GPT generation with and without the KV cache gives the same tokens") {
  Generator gen(6);
  GPT gpt({16, 24, 16, 2, 2, 32, 0.0, "gelu"}, gen);
  Tensor prompt(tensor::from_vector(std::vector<std::int64_t>{3, 4, 5, 6, 7, 8}, {2, 3}));
  Tensor cached = gpt.generate(prompt, 10, {}, gen, true);
  Tensor recomputed = gpt.generate(prompt, 10, {}, gen, false);
  CHECK(cached.shape() == Shape{2, 13});
  CHECK(values(cached) == values(recomputed));
  // Sampling with the same seed is reproducible, and top_k = 1 is greedy.
  Generator s1(9), s2(9);
  CHECK(values(gpt.generate(prompt, 8, {1.0, 5}, s1)) == values(gpt.generate(prompt, 8, {1.0, 5}, s2)));
  CHECK(values(gpt.generate(prompt, 8, {0.7, 1}, s1)) == values(cached.slice(1, 0, 11)));
  // The cached logits equal the full forward's at every position.
  std::vector<KVCache> caches;
  Tensor ids(tensor::from_vector(std::vector<std::int64_t>{3, 9, 2, 5}, {1, 4}));
  Tensor first = gpt.forward_cached(ids.slice(1, 0, 2), caches);
  Tensor second = gpt.forward_cached(ids.slice(1, 2, 4), caches);
  check_close(values(autograd::cat({first, second}, 1)), values(gpt.forward(ids)), 1e-4, 1e-5);
}

TEST_CASE("BertEncoder: [CLS] classification and masked-token logits") {
  Generator gen(8);
  BertConfig config;
  config.vocab = 12;
  config.max_len = 6;
  config.layer = tiny_layer(true);
  config.num_classes = 3;
  BertEncoder bert(config, gen);
  Tensor ids(tensor::from_vector(std::vector<std::int64_t>{1, 4, 5, 0, 1, 7, 8, 9}, {2, 4}));
  Tensor hidden = bert.forward(ids);
  CHECK(hidden.shape() == Shape{2, 4, 4});
  CHECK(bert.classify(hidden).shape() == Shape{2, 3});
  CHECK(bert.mlm_logits(hidden).shape() == Shape{2, 4, 12});
}

TEST_CASE("greedy_decode stops at eos and pads finished rows with eos") {
  Generator gen(9);
  TransformerConfig config;
  config.src_vocab = config.tgt_vocab = 8;
  config.max_len = 10;
  config.layer = tiny_layer(false);
  Transformer model(config, gen);
  Tensor src(tensor::from_vector(std::vector<std::int64_t>{3, 4, 5, 6}, {2, 2}));
  Tensor out = greedy_decode(model, src, Tensor(), 6, data::BOS, data::EOS);
  CHECK(out.size(0) == 2);
  CHECK(out.size(1) <= 6);
  std::vector<std::int64_t> tokens = out.to_vector<std::int64_t>();
  for (int b = 0; b < 2; ++b) {
    bool ended = false;
    for (std::int64_t i = 0; i < out.size(1); ++i) {
      if (ended) CHECK(tokens[b * out.size(1) + i] == data::EOS);
      ended = ended || tokens[b * out.size(1) + i] == data::EOS;
    }
  }
}

TEST_CASE("synthetic tasks: targets are right, held-out set is disjoint from training") {
  Generator gen(10);
  data::SyntheticTask reverse(data::TaskKind::Reverse, 10, 5, 8);
  data::Example e = reverse.sample(gen);
  CHECK(e.target == std::vector<std::int64_t>(e.source.rbegin(), e.source.rend()));
  data::SyntheticTask sorting(data::TaskKind::Sort, 10, 5, 8);
  data::Example s = sorting.sample(gen);
  CHECK(std::is_sorted(s.target.begin(), s.target.end()));
  data::SyntheticTask addition(data::TaskKind::Addition, 0, 1, 3);
  for (int i = 0; i < 20; ++i) {
    data::Example a = addition.sample(gen);
    std::string text = addition.to_text(a.source);
    std::size_t plus = text.find('+');
    long lhs = std::stol(text.substr(0, plus)), rhs = std::stol(text.substr(plus + 1));
    CHECK(std::stol(addition.to_text(a.target)) == lhs + rhs);
  }
  data::SyntheticTask small(data::TaskKind::Copy, 3, 4, 4);  // 81 distinct sources
  data::Dataset dataset(small, 20, 1);
  CHECK(dataset.held_out().size() == 20);
  for (const data::Example& ex : dataset.sample_train(300, gen)) CHECK_FALSE(dataset.is_held_out(ex.source));
  CHECK(error_message([&] { data::Dataset(small, 30, 1); }).find("more than a quarter") != std::string::npos);
  data::Batch batch = data::make_batch({{{3, 4, 5}, {5, 4, 3}}, {{6}, {6}}});
  CHECK(values(batch.src) == std::vector<double>{3, 4, 5, 6, 0, 0});
  CHECK(values(batch.tgt_in) == std::vector<double>{1, 5, 4, 3, 1, 6, 0, 0});
  CHECK(values(batch.tgt_out) == std::vector<double>{5, 4, 3, 2, 6, 2, 0, 0});
  CHECK(values(batch.tgt_padding) == std::vector<double>{0, 0, 0, 0, 0, 0, 1, 1});
  CHECK(batch.target_tokens == 6);
}
