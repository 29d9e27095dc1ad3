#include "tutorials/common/qkv_files.hpp"

#include <cstdio>
#include <filesystem>

#include "tensor/npy.hpp"

namespace tutorial {

void add_qkv_flags(CLI::App& app, QKVFiles& files, bool with_mask) {
  app.add_option("--q", files.q, "queries from a .npy file (float32/float64)");
  app.add_option("--k", files.k, "keys from a .npy file");
  app.add_option("--v", files.v, "values from a .npy file");
  if (with_mask)
    app.add_option("--mask", files.mask, "mask from a .npy file (bool: true = masked out)");
  app.add_option("--save", files.save, "directory to write the output and weights as .npy");
}

autograd::Tensor load_or(const std::string& path, const autograd::Tensor& fallback, const char* what) {
  if (path.empty()) return fallback;
  tensor::Array loaded = tensor::load_npy(path);
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
