#include "tutorials/common/qkv_files.hpp"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "tensor/finite.hpp"
#include "tensor/npy.hpp"

namespace tutorial {

void add_qkv_flags(Flags& flags, QKVFiles& files, bool with_mask) {
  flags.add_input_file("--q", files.q, "queries from a .npy file (float32/float64)");
  flags.add_input_file("--k", files.k, "keys from a .npy file");
  flags.add_input_file("--v", files.v, "values from a .npy file");
  if (with_mask)
    flags.add_input_file("--mask", files.mask, "mask from a .npy file (bool: true = masked out)");
  flags.add_output_folder("--save", files.save,
                          "folder to write the output and weights into as .npy (default: none)");
  flags.add_switch("--allow-non-finite", files.allow_non_finite,
                   "accept NaN and inf in the .npy inputs (refused by default)");
}

autograd::Tensor load_or(const std::string& path, const autograd::Tensor& fallback, const char* what,
                         bool allow_non_finite) {
  if (path.empty()) return fallback;
  tensor::Array loaded = tensor::load_npy(path);
  // -inf in a mask is "masked out" (an additive mask), not a broken input.
  bool is_mask = std::string(what) == "mask";
  tensor::NonFinite found = tensor::find_non_finite(loaded, /*skip_neg_inf=*/is_mask);
  if (found.any() && !allow_non_finite)
    throw std::runtime_error(path + " has " + tensor::describe_non_finite(found) +
                             " (pass --allow-non-finite to use them as they are)");
  if (loaded.dtype() != tensor::DType::Bool) loaded = loaded.to(tensor::DType::Float64);
  std::printf("  %s from %s: shape %s\n", what, path.c_str(), tensor::shape_str(loaded.shape()).c_str());
  return autograd::Tensor(loaded);
}

void save_npy_files(const std::string& dir,
                    const std::vector<std::pair<std::string, autograd::Tensor>>& tensors) {
  if (dir.empty()) return;
  std::filesystem::create_directories(dir);
  for (const auto& [name, t] : tensors) {
    std::string path = (std::filesystem::path(dir) / (name + ".npy")).string();
    tensor::save_npy(path, t.data());
    std::printf("  saved %s %s\n", path.c_str(), tensor::shape_str(t.shape()).c_str());
  }
}

}  // namespace tutorial
