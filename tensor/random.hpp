// random.hpp — seeded random tensors that are the same on every platform and compiler.
//
// A Generator is (seed, offset): the next unused Philox block. Drawing n numbers consumes
// ceil(n/4) blocks, so the numbers depend only on the seed and on what was drawn before,
// never on the compiler's standard library (std::normal_distribution differs between them).
//
// A Generator is a handle, like torch.Generator: copies share one stream. So a module can keep
// a copy of the generator it was built with (nn::Dropout, nn::MultiheadAttention draw their
// masks from it) and draw from the very stream its caller holds (the caller's offset() counts
// those draws, and checkpoints that save it keep working), without a pointer that dangles once
// the caller's Generator goes out of scope. For an independent stream, construct a new one.
#pragma once

#include <cstdint>
#include <memory>

#include "tensor/array.hpp"

namespace core {  // see dtype.hpp for why these types live in `core`

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : state_(std::make_shared<State>(State{seed, 0})) {}
  void manual_seed(std::uint64_t seed) { *state_ = State{seed, 0}; }
  std::uint64_t seed() const { return state_->seed; }
  std::uint64_t offset() const { return state_->offset; }  // Philox blocks used so far
  void set_offset(std::uint64_t offset) { state_->offset = offset; }  // for checkpoints
  // Reserves `blocks` Philox blocks and returns the first one's counter.
  std::uint64_t reserve(std::uint64_t blocks) {
    std::uint64_t first = state_->offset;
    state_->offset += blocks;
    return first;
  }

 private:
  struct State {
    std::uint64_t seed;
    std::uint64_t offset;  // the next unused Philox block
  };
  std::shared_ptr<State> state_;  // shared by every copy of this handle
};

}  // namespace core

namespace tensor {

using core::Generator;

// The generator used when none is passed (seed 0 at start-up; reseed with manual_seed).
Generator& default_generator();
void manual_seed(std::uint64_t seed);

// Uniform in [low, high).
Array rand(const Shape& shape, Generator& gen = default_generator(), DType dtype = DType::Float32,
           Device device = kCPU);
Array uniform(const Shape& shape, double low, double high, Generator& gen = default_generator(),
              DType dtype = DType::Float32, Device device = kCPU);
// Standard normal (Box-Muller on Philox bits), scaled: mean + std * N(0, 1).
Array randn(const Shape& shape, Generator& gen = default_generator(),
            DType dtype = DType::Float32, Device device = kCPU);
Array normal(const Shape& shape, double mean, double std, Generator& gen = default_generator(),
             DType dtype = DType::Float32, Device device = kCPU);
// Integers uniform in [low, high), int64.
Array randint(std::int64_t low, std::int64_t high, const Shape& shape,
              Generator& gen = default_generator(), Device device = kCPU);
// A random permutation of 0..n-1 (Fisher-Yates driven by the generator), int64.
Array randperm(std::int64_t n, Generator& gen = default_generator(), Device device = kCPU);
// Bernoulli(p) as bool: true with probability p.
Array bernoulli(const Shape& shape, double p, Generator& gen = default_generator(),
                Device device = kCPU);

}  // namespace tensor
