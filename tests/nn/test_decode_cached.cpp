// Transformer::decode_cached (the encoder-decoder's decoder with a KV cache, for generation):
// the logits of target tokens fed a few at a time through the cache equal those of one full
// decode, for learned and sinusoidal positions, post-LN and pre-LN, with source padding.
#include <vector>

#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using namespace nn;
using testing::check_close;
using testing::error_message;
using testing::values;

TEST_CASE("Transformer::decode_cached equals decode, a few tokens at a time") {
  for (const char* positional : {"learned", "sinusoidal"})
    for (bool norm_first : {false, true}) {
      INFO(positional << (norm_first ? ", pre-LN" : ", post-LN"));
      Generator gen(17);
      TransformerConfig config;
      config.src_vocab = 9, config.tgt_vocab = 11, config.max_len = 8;
      config.layer = LayerConfig{8, 2, 12, 0.0, "relu", norm_first, 1e-5};
      config.positional = positional;
      Transformer model(config, gen);
      model.eval();
      Tensor src(tensor::from_vector(std::vector<std::int64_t>{3, 4, 5, 6, 1, 2, 7, 0}, {2, 4}));
      Tensor padding(tensor::from_vector(std::vector<bool>{false, false, false, false,  //
                                                           false, false, true, true},
                                         {2, 4}));
      Tensor tgt(tensor::from_vector(std::vector<std::int64_t>{1, 5, 9, 2, 10, 1, 3, 3, 8, 4, 0, 6},
                                     {2, 6}));
      autograd::NoGradGuard no_grad;
      Tensor memory = model.encode(src, padding);
      Tensor full = model.decode(tgt, memory, padding);  // [2, 6, 11]
      std::vector<KVCache> caches;
      std::vector<Tensor> pieces;
      // Two tokens, then one at a time: both the multi-token and the single-token path.
      pieces.push_back(model.decode_cached(tgt.slice(1, 0, 2), memory, caches, padding));
      for (std::int64_t t = 2; t < 6; ++t)
        pieces.push_back(model.decode_cached(tgt.slice(1, t, t + 1), memory, caches, padding));
      CHECK(caches.size() == 2);
      CHECK(caches[0].length() == 6);
      check_close(values(autograd::cat(pieces, 1)), values(full), 1e-4, 1e-5);
      // Past max_len: a clear error, not a read beyond the position table.
      Tensor three(tensor::from_vector(std::vector<std::int64_t>{1, 1, 1, 1, 1, 1}, {2, 3}));
      CHECK(error_message([&] { model.decode_cached(three, memory, caches, padding); })
                .find("max_len") != std::string::npos);
    }
}
