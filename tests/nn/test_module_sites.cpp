// The `site` promise for every nn module: a layer or model records its nodes at the line of the
// user's call (autograd/record.hpp), never at a line inside nn/. Each case builds a graph through
// one module and walks every node reachable from the output.
#include <set>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using namespace nn;

using testing::op_nodes;

namespace {

// A float32 input that requires grad, so every op on it records a node.
Tensor leaf(const Shape& shape, Generator& gen) {
  return Tensor(tensor::uniform(shape, -1.0, 1.0, gen, DType::Float32), true);
}

Tensor token_ids(const std::vector<std::int64_t>& ids, const Shape& shape) {
  return Tensor(tensor::from_vector(ids, shape));
}

// Every node names this file and `line`; at least `min_nodes` of them, so that a graph was
// really walked (a module that recorded nothing would pass vacuously).
void check_all_at(const Tensor& output, unsigned line, std::size_t min_nodes) {
  std::vector<const autograd::Node*> nodes = op_nodes(output);
  REQUIRE(nodes.size() >= min_nodes);
  for (const autograd::Node* node : nodes) {
    INFO("node " << node->op << " made at " << node->site_str() << ", expected line " << line);
    CHECK(std::string(node->site.file_name()).find("tests/nn/test_module_sites.cpp") !=
          std::string::npos);
    CHECK(node->site.line() == line);
  }
}

// A small layer with dropout on (modules start in training mode), so dropout nodes are recorded.
LayerConfig small_layer(bool norm_first) {
  return {.d_model = 8, .nhead = 2, .dim_feedforward = 16, .dropout = 0.1,
          .activation = "gelu", .norm_first = norm_first, .layer_norm_eps = 1e-5};
}

}  // namespace

TEST_CASE("basic layers name the caller's line on every node") {
  Generator gen(21);
  Tensor x = leaf({2, 3, 8}, gen);

  LayerNorm norm(8);
  const unsigned norm_line = __LINE__ + 1;
  Tensor normed = norm(x);
  check_all_at(normed, norm_line, 1);

  Embedding embedding(10, 8, gen);
  const unsigned embedding_line = __LINE__ + 1;
  Tensor embedded = embedding(token_ids({1, 4, 9, 0}, {2, 2}));
  check_all_at(embedded, embedding_line, 1);

  Dropout dropout(0.5, gen);
  REQUIRE(dropout.is_training());
  const unsigned dropout_line = __LINE__ + 1;
  Tensor dropped = dropout(x);
  check_all_at(dropped, dropout_line, 1);

  // linear1 (reshape, linear, reshape: the fused Linear folds [2, 3] into rows), activation,
  // dropout, linear2: a chain of submodules.
  FeedForward feed_forward(8, 16, "relu", 0.2, gen);
  const unsigned ff_line = __LINE__ + 1;
  Tensor ff_out = feed_forward(x);
  check_all_at(ff_out, ff_line, 8);

  // forward() directly, not through operator(): the same promise.
  Sequential sequential({std::make_shared<Linear>(8, 8, true, gen), std::make_shared<GELU>(true),
                         std::make_shared<Linear>(8, 4, false, gen), std::make_shared<ReLU>()});
  const unsigned seq_line = __LINE__ + 1;
  Tensor seq_out = sequential.forward(x);
  check_all_at(seq_out, seq_line, 6);

  LearnedPositionalEmbedding learned(5, 8, gen);
  const unsigned learned_line = __LINE__ + 1;
  Tensor learned_out = learned.forward(x, 1);
  check_all_at(learned_out, learned_line, 2);

  SinusoidalPositionalEncoding sinusoidal(5, 8);
  const unsigned sinusoidal_line = __LINE__ + 1;
  Tensor sinusoidal_out = sinusoidal(x);
  check_all_at(sinusoidal_out, sinusoidal_line, 1);
}

TEST_CASE("Transformer layers name the caller's line on every node") {
  Generator gen(22);
  Tensor x = leaf({2, 3, 8}, gen);
  Tensor memory = leaf({2, 4, 8}, gen);
  Tensor padding(tensor::from_vector(std::vector<bool>{false, false, true, false, false, false},
                                     {2, 3}));

  for (bool norm_first : {false, true}) {
    CAPTURE(norm_first);
    TransformerEncoderLayer encoder_layer(small_layer(norm_first), gen);
    encoder_layer.keep_attention = true;
    const unsigned encoder_line = __LINE__ + 1;
    Tensor encoded = encoder_layer.forward(x, {.key_padding_mask = padding, .is_causal = true});
    check_all_at(encoded, encoder_line, 20);

    KVCache cache;
    const unsigned cached_line = __LINE__ + 1;
    Tensor cached = encoder_layer.forward_cached(x, cache);
    check_all_at(cached, cached_line, 20);

    TransformerDecoderLayer decoder_layer(small_layer(norm_first), gen);
    const unsigned decoder_line = __LINE__ + 1;
    Tensor decoded = decoder_layer.forward(x, memory);
    check_all_at(decoded, decoder_line, 30);

    TransformerEncoder encoder(small_layer(norm_first), 2, gen);
    const unsigned stack_line = __LINE__ + 1;
    Tensor stacked = encoder.forward(x, {.key_padding_mask = padding});
    check_all_at(stacked, stack_line, 40);

    TransformerDecoder decoder(small_layer(norm_first), 2, gen);
    const unsigned decoder_stack_line = __LINE__ + 1;
    Tensor decoder_stacked = decoder.forward(x, memory);
    check_all_at(decoder_stacked, decoder_stack_line, 60);
  }
}

TEST_CASE("Transformer, GPT and BertEncoder name the caller's line on every node") {
  Generator gen(23);
  Tensor src = token_ids({1, 2, 3, 4, 5, 6, 7, 0}, {2, 4});
  Tensor tgt = token_ids({1, 3, 5, 2, 4, 6}, {2, 3});
  Tensor src_padding(tensor::from_vector(
      std::vector<bool>{false, false, false, false, false, false, false, true}, {2, 4}));

  // Learned positions with an output Linear; sinusoidal positions, pre-LN, tied output.
  for (bool variant : {false, true}) {
    CAPTURE(variant);
    TransformerConfig config{.src_vocab = 8, .tgt_vocab = 7, .max_len = 6,
                             .layer = small_layer(variant), .num_encoder_layers = 1,
                             .num_decoder_layers = 1,
                             .positional = variant ? "sinusoidal" : "learned",
                             .tie_output = variant};
    Transformer transformer(config, gen);
    const unsigned transformer_line = __LINE__ + 1;
    Tensor logits = transformer.forward(src, tgt, src_padding);
    check_all_at(logits, transformer_line, 50);
  }

  GPTConfig gpt_config{.vocab = 9, .context = 6, .d_model = 8, .nhead = 2, .num_layers = 2,
                       .dim_feedforward = 16, .dropout = 0.1, .activation = "gelu"};
  GPT gpt(gpt_config, gen);
  const unsigned gpt_line = __LINE__ + 1;
  Tensor gpt_logits = gpt.forward(tgt);
  check_all_at(gpt_logits, gpt_line, 40);

  std::vector<KVCache> caches;
  const unsigned gpt_cached_line = __LINE__ + 1;
  Tensor gpt_cached = gpt.forward_cached(tgt, caches);
  check_all_at(gpt_cached, gpt_cached_line, 40);

  BertConfig bert_config{.vocab = 8, .max_len = 6, .layer = small_layer(false), .num_layers = 2,
                         .num_classes = 3};
  BertEncoder bert(bert_config, gen);
  const unsigned bert_line = __LINE__ + 1;
  Tensor hidden = bert.forward(src, src_padding);
  check_all_at(hidden, bert_line, 40);

  // classify and mlm_logits record on top of the hidden states made at bert_line; a graph made
  // entirely by one call needs a detached input.
  Tensor hidden_leaf = hidden.detach().requires_grad_();
  const unsigned classify_line = __LINE__ + 1;
  Tensor class_logits = bert.classify(hidden_leaf);
  check_all_at(class_logits, classify_line, 2);  // select [CLS], then one fused linear node
  const unsigned mlm_line = __LINE__ + 1;
  Tensor mlm = bert.mlm_logits(hidden_leaf);
  check_all_at(mlm, mlm_line, 3);
}
