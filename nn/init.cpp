#include "nn/init.hpp"

#include <cmath>
#include <stdexcept>

#include "tensor/random.hpp"

namespace nn::init {

double calculate_gain(const std::string& nonlinearity, double a) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid") return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1 + a * a));
  throw std::invalid_argument("calculate_gain: unknown nonlinearity '" + nonlinearity + "'");
}

std::pair<std::int64_t, std::int64_t> fan_in_and_out(const Shape& shape) {
  if (shape.size() < 2)
    throw std::invalid_argument("init: fan in and fan out need a tensor with at least 2 dims, got " +
                                tensor::shape_str(shape));
  std::int64_t receptive = 1;
  for (std::size_t d = 2; d < shape.size(); ++d) receptive *= shape[d];
  return {shape[1] * receptive, shape[0] * receptive};
}

void uniform_(const Tensor& t, double low, double high, Generator& gen) {
  t.data().copy_(tensor::uniform(t.shape(), low, high, gen, t.dtype()));
}

void normal_(const Tensor& t, double mean, double std, Generator& gen) {
  t.data().copy_(tensor::normal(t.shape(), mean, std, gen, t.dtype()));
}

void constant_(const Tensor& t, double value) { t.data().fill_(value); }
void zeros_(const Tensor& t) { constant_(t, 0); }
void ones_(const Tensor& t) { constant_(t, 1); }

void xavier_uniform_(const Tensor& t, Generator& gen, double gain) {
  auto [fan_in, fan_out] = fan_in_and_out(t.shape());
  double bound = gain * std::sqrt(6.0 / double(fan_in + fan_out));
  uniform_(t, -bound, bound, gen);
}

void xavier_normal_(const Tensor& t, Generator& gen, double gain) {
  auto [fan_in, fan_out] = fan_in_and_out(t.shape());
  normal_(t, 0.0, gain * std::sqrt(2.0 / double(fan_in + fan_out)), gen);
}

void kaiming_uniform_(const Tensor& t, Generator& gen, double a, const std::string& nonlinearity) {
  auto [fan_in, fan_out] = fan_in_and_out(t.shape());
  double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / double(fan_in));
  uniform_(t, -bound, bound, gen);
}

}  // namespace nn::init
