// nn.hpp — the whole user-facing library in one include: tensors with autograd, layers,
// optimizers, schedules and initialisation.
#pragma once

#include "autograd/autograd.hpp"
#include "nn/attention.hpp"
#include "nn/checkpoint.hpp"
#include "nn/data.hpp"
#include "nn/divergence.hpp"
#include "nn/init.hpp"
#include "nn/layers.hpp"
#include "nn/module.hpp"
#include "nn/optim.hpp"
#include "nn/sampling.hpp"
#include "nn/transformer.hpp"
#include "tensor/nn_ops.hpp"
