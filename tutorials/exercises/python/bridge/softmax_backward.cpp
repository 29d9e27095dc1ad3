// exercise::softmax_backward for checkers/softmax_backward.cpp, answered by the learner's Python
// file (python_bridge.hpp says how).
#include <vector>

#include "tutorials/exercises/python/python_bridge.hpp"

namespace exercise {

// dout, out [rows, cols] -> dx [rows, cols], by softmax_backward(dout, out).
std::vector<float> softmax_backward(const std::vector<float>& dout, const std::vector<float>& out,
                                    int rows, int cols) {
  return python_bridge::call_python("softmax_backward", {{{rows, cols}, dout}, {{rows, cols}, out}},
                                    {rows, cols})
      .values;
}

}  // namespace exercise
