#include "tensor/random.hpp"

#include <cmath>
#include <stdexcept>

#include "tensor/cpu/loops.hpp"
#include "tensor/ops.hpp"
#include "tensor/philox.hpp"

namespace tensor {

namespace {

constexpr double kTwoPi = 6.283185307179586476925;

// Fills a new cpu array of `shape` with value(i, bits) for each element i, where bits is the
// i-th 32-bit word of the Philox stream reserved from `gen`.
template <typename T, typename Value>
Array generate(const Shape& shape, Generator& gen, DType dtype, Value value) {
  check_shape(shape, "random");
  Array out(shape, dtype_of<T>());
  const std::int64_t n = out.numel();
  const std::uint64_t first = gen.reserve(static_cast<std::uint64_t>((n + 3) / 4));
  const std::uint64_t key = gen.seed();
  T* data = out.data<T>();
  cpu::parallel_for(n, 1 << 14, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      PhiloxBlock block = philox4x32(first + std::uint64_t(i / 4), key);
      data[i] = value(i, block);
    }
  });
  return dtype == dtype_of<T>() ? out : out.to(dtype);
}

}  // namespace

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

Array uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype,
              Device device) {
  if (!is_floating(dtype)) throw std::invalid_argument("uniform: dtype must be float32 or float64");
  if (!(low < high))
    throw std::invalid_argument("uniform: needs low < high, got " + std::to_string(low) +
                                " and " + std::to_string(high));
  Array out;
  if (dtype == DType::Float32) {
    out = generate<float>(shape, gen, dtype, [&](std::int64_t i, const PhiloxBlock& b) {
      return static_cast<float>(low + (high - low) * uniform_float(b.v[i % 4]));
    });
  } else {
    out = generate<double>(shape, gen, dtype, [&](std::int64_t i, const PhiloxBlock& b) {
      return low + (high - low) * uniform_open(b.v[i % 4]);
    });
  }
  return out.to(device);
}

Array rand(const Shape& shape, Generator& gen, DType dtype, Device device) {
  return uniform(shape, 0.0, 1.0, gen, dtype, device);
}

Array normal(const Shape& shape, double mean, double std, Generator& gen, DType dtype,
             Device device) {
  if (!is_floating(dtype)) throw std::invalid_argument("normal: dtype must be float32 or float64");
  if (!(std > 0)) throw std::invalid_argument("normal: std must be positive");
  // Box-Muller: two uniforms (u1, u2) give two independent normals r cos(t), r sin(t) with
  // r = sqrt(-2 ln u1), t = 2 pi u2. Each Philox block holds two such pairs.
  Array standard = generate<double>(shape, gen, DType::Float64,
                                    [](std::int64_t i, const PhiloxBlock& b) {
                                      int pair = static_cast<int>(i % 4) / 2;
                                      double u1 = uniform_open(b.v[2 * pair]);
                                      double u2 = uniform_open(b.v[2 * pair + 1]);
                                      double r = std::sqrt(-2.0 * std::log(u1));
                                      double t = kTwoPi * u2;
                                      return i % 2 == 0 ? r * std::cos(t) : r * std::sin(t);
                                    });
  Array scaled = mean == 0.0 && std == 1.0 ? standard : standard * std + mean;
  return scaled.to(dtype).to(device);
}

Array randn(const Shape& shape, Generator& gen, DType dtype, Device device) {
  return normal(shape, 0.0, 1.0, gen, dtype, device);
}

Array randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& gen,
              Device device) {
  if (!(low < high))
    throw std::invalid_argument("randint: needs low < high, got " + std::to_string(low) +
                                " and " + std::to_string(high));
  const std::uint64_t range = static_cast<std::uint64_t>(high - low);
  if (range > (std::uint64_t(1) << 32))
    throw std::invalid_argument("randint: range high - low must be at most 2^32");
  // Multiply-shift maps 32 random bits onto [0, range) without a slow modulo.
  return generate<std::int64_t>(shape, gen, DType::Int64,
                                [&](std::int64_t i, const PhiloxBlock& b) {
                                  return low + static_cast<std::int64_t>(
                                                   (std::uint64_t(b.v[i % 4]) * range) >> 32);
                                })
      .to(device);
}

Array randperm(std::int64_t n, Generator& gen, Device device) {
  if (n < 0) throw std::invalid_argument("randperm: n must be >= 0");
  Array out({n}, DType::Int64);
  std::int64_t* p = out.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) p[i] = i;
  const std::uint64_t first = gen.reserve(static_cast<std::uint64_t>((n + 3) / 4));
  // Fisher-Yates: swap element i with a uniformly chosen j in [0, i].
  for (std::int64_t i = n - 1; i > 0; --i) {
    std::uint32_t bits = philox4x32(first + std::uint64_t(i / 4), gen.seed()).v[i % 4];
    std::int64_t j = static_cast<std::int64_t>((std::uint64_t(bits) * std::uint64_t(i + 1)) >> 32);
    std::swap(p[i], p[j]);
  }
  return out.to(device);
}

Array bernoulli(const Shape& shape, double p, Generator& gen, Device device) {
  if (!(p >= 0 && p <= 1)) throw std::invalid_argument("bernoulli: p must be in [0, 1]");
  return generate<bool>(shape, gen, DType::Bool,
                        [&](std::int64_t i, const PhiloxBlock& b) {
                          return uniform_float(b.v[i % 4]) < p;
                        })
      .to(device);
}

}  // namespace tensor
