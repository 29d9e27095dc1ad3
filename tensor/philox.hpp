// philox.hpp — the Philox4x32-10 counter-based random number generator (Salmon et al., 2011).
//
// Random bits are a pure function of (key, counter): block number `counter` under seed `key`
// gives four 32-bit numbers. No hidden state means any device can produce element i of a random
// tensor on its own, and cpu, cuda and cuda-sim produce identical numbers for the same seed.
#pragma once

#include <cstdint>

#include "tensor/scalar_math.hpp"

namespace tensor {

struct PhiloxBlock {
  std::uint32_t v[4];
};

// The general form: a 128-bit counter (four words) under a 64-bit key (two words).
TENSOR_HD inline PhiloxBlock philox4x32_10(PhiloxBlock counter, std::uint32_t k0, std::uint32_t k1) {
  std::uint32_t c0 = counter.v[0], c1 = counter.v[1], c2 = counter.v[2], c3 = counter.v[3];
  for (int round = 0; round < 10; ++round) {
    // One round: two 32x32->64 multiplies mix the words; the key is mixed in by xor.
    std::uint64_t p0 = std::uint64_t(0xD2511F53u) * c0;
    std::uint64_t p1 = std::uint64_t(0xCD9E8D57u) * c2;
    std::uint32_t hi0 = std::uint32_t(p0 >> 32), lo0 = std::uint32_t(p0);
    std::uint32_t hi1 = std::uint32_t(p1 >> 32), lo1 = std::uint32_t(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;  // the key schedule: add the "golden ratio" constants (Weyl sequence)
    k1 += 0xBB67AE85u;
  }
  return PhiloxBlock{{c0, c1, c2, c3}};
}

// Block number `counter` of the stream with seed `key`: what the library uses.
TENSOR_HD inline PhiloxBlock philox4x32(std::uint64_t counter, std::uint64_t key) {
  PhiloxBlock c{{static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), 0u, 0u}};
  return philox4x32_10(c, static_cast<std::uint32_t>(key), static_cast<std::uint32_t>(key >> 32));
}

// A float in [0, 1) from 24 random bits: every value is exactly representable in float32.
TENSOR_HD inline float uniform_float(std::uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

// A double in (0, 1) from 32 random bits (never 0, so log() is safe).
TENSOR_HD inline double uniform_open(std::uint32_t bits) {
  return (static_cast<double>(bits) + 0.5) * (1.0 / 4294967296.0);
}

}  // namespace tensor
