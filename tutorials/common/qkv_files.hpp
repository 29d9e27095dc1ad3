// qkv_files.hpp — let a learner run an attention tutorial on their own Q, K, V (and mask) from
// .npy files, and save what it computed as .npy, to compare with numpy or PyTorch.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.hpp"
#include "tutorials/common/tutorial.hpp"

namespace tutorial {

struct QKVFiles {
  std::string q, k, v, mask;  // .npy paths; empty = use the tutorial's own example
  std::string save;           // directory for output.npy, weights.npy, ...; empty = don't save
  bool allow_non_finite = false;  // --allow-non-finite: take NaN and inf in the files as they are
};

// Adds --q, --k, --v (and --mask when with_mask), --save and --allow-non-finite.
void add_qkv_flags(Flags& flags, QKVFiles& files, bool with_mask);

// The tensor in `path` (as float64; a mask file keeps its bool dtype), or `fallback` when path
// is empty. Prints which one is used. Throws with the file name if the file is not readable, or
// if it holds NaN or inf ("q.npy has 3 NaN values, first at [0, 2, 1]") unless allow_non_finite:
// a NaN input makes every check downstream fail with "got nan", far from the cause. In a mask
// (`what` is "mask") -inf is allowed: it is how an additive mask says "masked out".
autograd::Tensor load_or(const std::string& path, const autograd::Tensor& fallback, const char* what,
                         bool allow_non_finite = false);

// Writes each (name, tensor) to <dir>/<name>.npy when dir is not empty, and prints the paths.
void save_npy_files(const std::string& dir,
                    const std::vector<std::pair<std::string, autograd::Tensor>>& tensors);

}  // namespace tutorial
