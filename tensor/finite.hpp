// finite.hpp — finding NaN and infinity in an array, and saying where they are.
//
// Used wherever values enter or leave a program: an input file a tutorial loads ("q.npy has 3 NaN
// values, first at [0, 2, 1]"), a checkpoint about to be written (never from non-finite weights),
// optimizer state read back from a checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/array.hpp"

namespace tensor {

// How many elements are NaN, +inf and -inf, and the index of the first one (in row-major order).
struct NonFinite {
  std::int64_t nan = 0, pos_inf = 0, neg_inf = 0;
  Shape first_index;       // empty when every element is finite (and for a 0-d array: see any())
  std::string first_kind;  // "NaN", "+inf" or "-inf": what is at first_index
  std::int64_t count() const { return nan + pos_inf + neg_inf; }
  bool any() const { return count() > 0; }
};

// Counts the non-finite elements of any array (any device, any layout). Integer and bool arrays
// hold none. With skip_neg_inf, -inf counts as a value (an additive mask's "masked out").
NonFinite find_non_finite(const Array& array, bool skip_neg_inf = false);

// "3 NaN values, first at [0, 2, 1]", "1 NaN value and 2 +inf values, first at [4] (+inf)";
// "" when there are none.
std::string describe_non_finite(const NonFinite& found);

}  // namespace tensor
