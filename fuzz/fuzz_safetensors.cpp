// fuzz_safetensors.cpp — libFuzzer target for the safetensors reader (tensor/safetensors.cpp) and
// its JSON parser.
//
// Any input must end in named arrays or a std::exception: a crash, a sanitizer report (ASan,
// UBSan), a leak, a hang or an allocation beyond the file's size is a finding. Both ways in are
// tried: parse_safetensors on the bytes in memory, and load_safetensors on the same bytes in a
// file (header first, each tensor's data only after every offset is checked); they must agree.
// Run with `make fuzz` (see the Makefile), or after it: build/fuzz/fuzz_safetensors
// build/fuzz/corpus/safetensors
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "tensor/safetensors.hpp"

namespace {

// The result of reading: names, shapes and elements as float64, or the error message.
struct Outcome {
  bool ok = false;
  std::vector<std::string> names;
  std::vector<tensor::Shape> shapes;
  std::vector<std::vector<double>> values;
};

template <typename Read>
Outcome attempt(Read&& read, std::size_t input_size) {
  Outcome outcome;
  try {
    tensor::SafetensorsFile file = read();
    // The tensors tile the data buffer without overlapping: together they fit in the input...
    std::size_t total = 0;
    for (const auto& [name, array] : file.tensors) {
      total += static_cast<std::size_t>(array.numel()) * tensor::dtype_size(array.dtype());
      // ...and every element can be read (UBSan checks that each bool holds 0 or 1).
      outcome.values.push_back(array.to_vector<double>());
      outcome.names.push_back(name);
      outcome.shapes.push_back(array.shape());
    }
    if (total > input_size) __builtin_trap();
    outcome.ok = true;
  } catch (const std::exception&) {
    // A clean refusal: what the reader is for.
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Outcome parsed =
      attempt([&] { return tensor::parse_safetensors(bytes, "fuzz.safetensors"); }, size);

  static const std::string path =
      "/tmp/fuzz_safetensors." + std::to_string(::getpid()) + ".safetensors";
  if (std::FILE* file = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, file);
    std::fclose(file);
    Outcome loaded = attempt([&] { return tensor::load_safetensors(path); }, size);
    // The same verdict and the same tensors.
    if (loaded.ok != parsed.ok || loaded.names != parsed.names || loaded.shapes != parsed.shapes)
      __builtin_trap();
    for (std::size_t t = 0; t < loaded.values.size(); ++t)
      for (std::size_t i = 0; i < loaded.values[t].size(); ++i)
        if (loaded.values[t][i] != parsed.values[t][i] && loaded.values[t][i] == loaded.values[t][i])
          __builtin_trap();  // equal, or both NaN
  }
  return 0;
}
