// matmul_reference.hpp — the plain triple-loop matrix multiply, kept as the reference that
// faster kernels are tested against. Same contract as Backend::matmul.
#pragma once

#include "tensor/array.hpp"

namespace tensor::cpu {

void matmul_reference(const Array& a, const Array& b, const Array& out);

}  // namespace tensor::cpu
