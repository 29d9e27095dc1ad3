// fuzz_safetensors.cpp — libFuzzer target for the safetensors reader (nn/safetensors.cpp) and
// its JSON parser.
//
// Any input must end in named arrays or a std::exception: a crash, a sanitizer report (ASan,
// UBSan), a leak, a hang or an allocation beyond the file's size is a finding. Run with
// `make fuzz` (see the Makefile), or after it: build/fuzz/fuzz_safetensors
// build/fuzz/corpus/safetensors
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

#include "nn/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    nn::SafetensorsFile file = nn::parse_safetensors(bytes, "fuzz.safetensors");
    // The tensors tile the data buffer without overlapping: together they fit in the input...
    std::size_t total = 0;
    for (const auto& [name, array] : file.tensors) {
      total += static_cast<std::size_t>(array.numel()) * tensor::dtype_size(array.dtype());
      // ...and every element can be read (UBSan checks that each bool holds 0 or 1).
      (void)array.to_vector<double>();
    }
    if (total > size) __builtin_trap();
  } catch (const std::exception&) {
    // A clean refusal: what the reader is for.
  }
  return 0;
}
