// exercise::masked_scaled_attention for checkers/masked_scaled_attention.cpp, answered by the
// learner's Python file (python_bridge.hpp says how). The mask goes over as a numpy bool array.
#include <vector>

#include "tutorials/exercises/python/python_bridge.hpp"

namespace exercise {

// q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv], mask [B, Tq, Tk] (true = blocked) -> out [B, Tq, Dv],
// by masked_scaled_attention(q, k, v, mask).
std::vector<float> masked_scaled_attention(const std::vector<float>& q, const std::vector<float>& k,
                                           const std::vector<float>& v,
                                           const std::vector<bool>& mask, int B, int Tq, int Tk,
                                           int D, int Dv) {
  python_bridge::Array blocked{{B, Tq, Tk}, std::vector<float>(mask.begin(), mask.end()), true};
  return python_bridge::call_python("masked_scaled_attention",
                                    {{{B, Tq, D}, q}, {{B, Tk, D}, k}, {{B, Tk, Dv}, v}, blocked},
                                    {B, Tq, Dv})
      .values;
}

}  // namespace exercise
