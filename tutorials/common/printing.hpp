// printing.hpp — what a tutorial prints besides its checks: matrices as aligned rows, and the
// message of the error a wrong call throws (shown next to the right call).
#pragma once

#include <cstdint>
#include <exception>
#include <string>

#include "autograd/tensor.hpp"

namespace tutorial {

using autograd::Tensor;

// Prints a 2-d tensor (or the first matrix of a batch) as aligned rows under a title:
//   scores = Q K^T   [2, 2]
//     [   50.0000    68.0000 ]
//     [  122.0000   167.0000 ]
// Large matrices print their top-left corner and say so.
void print_matrix(const std::string& title, const Tensor& t, int precision = 4,
                  std::int64_t max_rows = 8, std::int64_t max_cols = 8);

// Runs f and returns the message of the exception it throws, or "" if it throws none. For
// showing the library's error for a wrong call, next to the right one.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace tutorial
