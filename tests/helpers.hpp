// helpers.hpp — small tools shared by the test suites: independent reference computations
// (plain loops over plain vectors) and comparisons.
#pragma once

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "autograd/autograd.hpp"

namespace testing {

using tensor::Array;
using tensor::DType;
using tensor::Shape;

// Little-endian bytes of an unsigned integer, written out by hand as the spec says.
inline std::string little_endian(std::uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += char((value >> (8 * i)) & 0xff);
  return out;
}

// A .npy file as numpy writes it: magic, version, header length (2 bytes in 1.0, 4 in 2.0 and
// 3.0), the dict padded with spaces and ended by '\n' so that the data starts at a multiple of 64.
inline std::string npy_file(const std::string& dict, const std::string& data, int major = 1) {
  std::size_t preamble = major == 1 ? 10 : 12;
  std::string header = dict;
  header += std::string(63 - (preamble + header.size()) % 64, ' ') + "\n";
  std::string file = std::string("\x93NUMPY", 6) + char(major) + '\0';
  file += little_endian(header.size(), major == 1 ? 2 : 4);
  return file + header + data;
}

// CHECKs that `text` (an error message, a report) contains `part`, showing both when not.
inline void check_contains(const std::string& text, const std::string& part) {
  INFO("message: " << text);
  INFO("expected to contain: " << part);
  CHECK(text.find(part) != std::string::npos);
}

// The simulated CUDA device (cuda/sim/), there in every build.
inline const tensor::Device kSim = tensor::Device::parse("cuda-sim");

// Row-major multi-index of flat position `flat` in `shape`.
inline std::vector<std::int64_t> unravel(std::int64_t flat, const Shape& shape) {
  std::vector<std::int64_t> index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

// Flat position in a tensor of `shape` that broadcasting maps output index `out_index` to
// (shapes aligned on the right; size-1 dims always read index 0).
inline std::int64_t broadcast_source(const std::vector<std::int64_t>& out_index,
                                     const Shape& shape) {
  std::int64_t flat = 0;
  std::size_t lead = out_index.size() - shape.size();
  for (std::size_t d = 0; d < shape.size(); ++d) {
    std::int64_t i = shape[d] == 1 ? 0 : out_index[lead + d];
    flat = flat * shape[d] + i;
  }
  return flat;
}

// Every element as double, row-major, whatever the layout in memory.
inline std::vector<double> values(const Array& a) { return a.to_vector<double>(); }
inline std::vector<double> values(const autograd::Tensor& t) { return t.to_vector<double>(); }

// CHECKs that two value lists agree within atol + rtol*|expected|, naming the first mismatch.
inline void check_close(const std::vector<double>& got, const std::vector<double>& expected,
                        double rtol = 1e-5, double atol = 1e-6) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    bool both_nan = std::isnan(got[i]) && std::isnan(expected[i]);
    bool same = got[i] == expected[i];
    if (both_nan || same) continue;
    if (!(std::fabs(got[i] - expected[i]) <= atol + rtol * std::fabs(expected[i]))) {
      INFO("element " << i << ": got " << got[i] << ", expected " << expected[i]);
      CHECK(false);
      return;
    }
  }
}

// Runs gradcheck and reports its message when it fails.
inline void check_gradients(const autograd::GradcheckFn& f,
                            const std::vector<autograd::Tensor>& inputs,
                            const autograd::GradcheckOptions& options = {}) {
  autograd::GradcheckResult result = autograd::gradcheck(f, inputs, options);
  INFO(result.message);
  CHECK(result.passed);
  CHECK(result.elements_checked > 0);
}

// A float64 tensor of standard normal values (no grad).
inline autograd::Tensor f64_randn(const Shape& shape, tensor::Generator& gen) {
  return autograd::Tensor(tensor::randn(shape, gen, DType::Float64));
}

// A float64 leaf with random values in [low, high), requiring grad.
inline autograd::Tensor random_leaf(const Shape& shape, tensor::Generator& gen,
                                    double low = -1.0, double high = 1.0) {
  return autograd::Tensor(tensor::uniform(shape, low, high, gen, DType::Float64), true);
}

// The message of the exception `f` throws ("" if it throws none).
inline std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// A fresh folder under the system's temporary folder, removed with everything in it when the
// test ends (a test that writes files gives it a name: TempDir dir("checkpoint")).
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& what = "files") {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("attn_" + what + "_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::vector<std::string> names() const {  // what the folder holds, sorted
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(path))
      out.push_back(entry.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::size_t count() const { return names().size(); }
};

// The bytes of a file, all of them.
inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every node reachable from `output` that an op made (not a leaf's accumulator), each once.
inline std::vector<const autograd::Node*> op_nodes(const autograd::Tensor& output) {
  std::vector<const autograd::Node*> found, stack{output.grad_fn().get()};
  std::set<const autograd::Node*> seen;
  while (!stack.empty()) {
    const autograd::Node* node = stack.back();
    stack.pop_back();
    if (node == nullptr || !seen.insert(node).second) continue;
    if (!node->is_leaf_accumulator()) found.push_back(node);
    for (const auto& input : node->inputs) stack.push_back(input.get());
  }
  return found;
}

}  // namespace testing
