// error.hpp — how the tensor layer reports a bad argument, written once for every file of it.
//
// Every message starts with the op's name and says what was wrong with which value, e.g.
//   "gather: tensors are on different devices (cpu and cuda-sim); move one with .to(device)"
// and is thrown as std::invalid_argument (std::out_of_range for a bad index).
#pragma once

#include <stdexcept>
#include <string>

#include "tensor/array.hpp"

namespace tensor {

// The exception for "<op>: <message>"; the caller throws it: `throw error("matmul", "...")`.
inline std::invalid_argument error(const std::string& op, const std::string& message) {
  return std::invalid_argument(op + ": " + message);
}

inline void check_defined(const Array& x, const std::string& op) {
  if (!x.defined()) throw error(op, "got an undefined tensor");
}

inline void check_same_device(const Array& a, const Array& b, const std::string& op) {
  if (a.device() != b.device())
    throw error(op, "tensors are on different devices (" + a.device().str() + " and " +
                        b.device().str() + "); move one with .to(device)");
}

}  // namespace tensor
