// fuzz_npy.cpp — libFuzzer target for the .npy reader (tensor/npy.cpp).
//
// Any input must end in an array or a std::exception: a crash, a sanitizer report (ASan, UBSan),
// a leak, a hang or an allocation beyond the file's size is a finding. Run with `make fuzz`
// (see the Makefile), or after it: build/fuzz/fuzz_npy build/fuzz/corpus/npy
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

#include "tensor/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    tensor::Array array = tensor::parse_npy(bytes, "fuzz.npy");
    // What was accepted must be exactly what the file holds: its bytes fit in the input...
    std::size_t nbytes =
        static_cast<std::size_t>(array.numel()) * tensor::dtype_size(array.dtype());
    if (nbytes > size) __builtin_trap();
    // ...and every element can be read (UBSan checks that each bool holds 0 or 1).
    (void)array.to_vector<double>();
  } catch (const std::exception&) {
    // A clean refusal: what the reader is for.
  }
  return 0;
}
