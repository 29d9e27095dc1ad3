// cuda-sim runs the configurable GPT (rotary positions, RMSNorm, SwiGLU, grouped-query attention)
// to the cpu's numbers: logits, every parameter's gradient, and cached generation.
#include <string>

#include "cuda/cuda.hpp"
#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using testing::check_close;
using testing::values;

TEST_SUITE("cuda-sim") {
  TEST_CASE("cuda-sim: GPTs with rope, RMSNorm, SwiGLU and GQA give the cpu's logits, gradients and tokens") {
    const tensor::Device sim = tensor::Device::parse("cuda-sim");
    // Tiny on purpose (every matmul one tile): the simulator runs each thread of a block.
    auto config = [](const std::string& position, const std::string& norm, const std::string& mlp,
                     std::int64_t kv_heads) {
      return nn::GPTConfig{.vocab = 7, .context = 8, .d_model = 8, .nhead = 4, .num_layers = 1,
                           .dim_feedforward = 12, .position = position, .norm = norm, .mlp = mlp,
                           .num_kv_heads = kv_heads};
    };
    const tensor::Array ids = tensor::from_vector(std::vector<std::int64_t>{1, 4, 6, 0, 2, 3, 5, 1}, {2, 4});
    for (const nn::GPTConfig& c : {config("rope", "rms", "swiglu", 2), config("sinusoidal", "layer", "gelu", 1)}) {
      CAPTURE(c.position + "/" + c.norm + "/" + c.mlp + "/kv" + std::to_string(c.num_kv_heads));
      auto run = [&](tensor::Device device) {
        tensor::Generator gen(51);
        nn::GPT model(c, gen);
        model.to(tensor::DType::Float64);
        model.to(device);
        autograd::Tensor logits = model.forward(autograd::Tensor(ids.to(device)));  // [2, 4, V]
        autograd::mean(autograd::square(logits)).backward();
        std::vector<double> result = values(logits);
        for (const autograd::Tensor& p : model.parameters()) {
          CHECK(p.grad().device() == device);
          std::vector<double> g = values(p.grad());
          result.insert(result.end(), g.begin(), g.end());
        }
        autograd::Tensor tokens = model.generate(autograd::Tensor(ids.to(device)), 2, {}, gen, true);
        std::vector<double> t = values(tokens);
        result.insert(result.end(), t.begin(), t.end());
        return result;
      };
      check_close(run(sim), run(tensor::kCPU), 1e-10, 1e-12);
    }
  }
}
