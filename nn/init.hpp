// init.hpp — filling parameters with their starting values, seeded (same numbers everywhere).
//
// fan_in / fan_out of a weight [out, in] (Linear) are in / out; for more dims the trailing
// dims multiply both (as in PyTorch). Each function writes into the tensor's data in place.
#pragma once

#include "nn/module.hpp"

namespace nn::init {

// Gain for a nonlinearity, as torch.nn.init.calculate_gain: "linear"/"sigmoid" 1, "tanh" 5/3,
// "relu" sqrt(2), "leaky_relu" sqrt(2 / (1 + a^2)).
double calculate_gain(const std::string& nonlinearity, double a = 0);

void uniform_(const Tensor& t, double low, double high, Generator& gen);
void normal_(const Tensor& t, double mean, double std, Generator& gen);
void constant_(const Tensor& t, double value);
void zeros_(const Tensor& t);
void ones_(const Tensor& t);
// U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010).
void xavier_uniform_(const Tensor& t, Generator& gen, double gain = 1.0);
void xavier_normal_(const Tensor& t, Generator& gen, double gain = 1.0);
// U(-b, b) with b = gain * sqrt(3 / fan_in), gain = calculate_gain(nonlinearity, a) (He et al.,
// 2015). PyTorch's Linear default is kaiming_uniform_(a = sqrt(5)), i.e. b = 1 / sqrt(fan_in).
void kaiming_uniform_(const Tensor& t, Generator& gen, double a = 0,
                      const std::string& nonlinearity = "leaky_relu");

std::pair<std::int64_t, std::int64_t> fan_in_and_out(const Shape& shape);

}  // namespace nn::init
