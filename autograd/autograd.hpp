// autograd.hpp — everything a user of tensors with gradients needs, in one include.
#pragma once

#include "autograd/debug.hpp"
#include "autograd/grad_mode.hpp"
#include "autograd/gradcheck.hpp"
#include "autograd/ops.hpp"
#include "autograd/tensor.hpp"
#include "tensor/factory.hpp"
#include "tensor/ops.hpp"
#include "tensor/random.hpp"
