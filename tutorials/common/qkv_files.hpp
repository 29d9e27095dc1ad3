// qkv_files.hpp — let a learner run an attention tutorial on their own Q, K, V (and mask) from
// .npy files, and save what it computed as .npy, to compare with numpy or PyTorch.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.hpp"

namespace tutorial {

struct QKVFiles {
  std::string q, k, v, mask;  // .npy paths; empty = use the tutorial's own example
  std::string save;           // directory for output.npy, weights.npy, ...; empty = don't save
};

// Adds --q, --k, --v (and --mask when with_mask) and --save to `app`.
void add_qkv_flags(CLI::App& app, QKVFiles& files, bool with_mask);

// The tensor in `path` (as float64; a mask file keeps its bool dtype), or `fallback` when path
// is empty. Prints which one is used. Throws with the file name if the file is not readable.
autograd::Tensor load_or(const std::string& path, const autograd::Tensor& fallback, const char* what);

// Writes each (name, tensor) to <dir>/<name>.npy when dir is not empty, and prints the paths.
void save_npy_files(const std::string& dir,
                    const std::vector<std::pair<std::string, autograd::Tensor>>& tensors);

}  // namespace tutorial
