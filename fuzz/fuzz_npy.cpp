// fuzz_npy.cpp — libFuzzer target for the .npy reader (tensor/npy.cpp).
//
// Any input must end in an array or a std::exception: a crash, a sanitizer report (ASan, UBSan),
// a leak, a hang or an allocation beyond the file's size is a finding. Both ways in are tried:
// parse_npy on the bytes in memory, and load_npy on the same bytes in a file (which reads the
// header first and the data only once its size is checked); they must agree. Run with
// `make fuzz` (see the Makefile), or after it: build/fuzz/fuzz_npy build/fuzz/corpus/npy
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "tensor/npy.hpp"

namespace {

// The result of reading: the elements as float64 and the shape, or the error message.
struct Outcome {
  bool ok = false;
  std::string error;
  tensor::Shape shape;
  std::vector<double> values;
};

template <typename Read>
Outcome attempt(Read&& read, std::size_t input_size) {
  Outcome outcome;
  try {
    tensor::Array array = read();
    // What was accepted must be exactly what the file holds: its bytes fit in the input...
    std::size_t nbytes =
        static_cast<std::size_t>(array.numel()) * tensor::dtype_size(array.dtype());
    if (nbytes > input_size) __builtin_trap();
    // ...and every element can be read (UBSan checks that each bool holds 0 or 1).
    outcome.values = array.to_vector<double>();
    outcome.shape = array.shape();
    outcome.ok = true;
  } catch (const std::exception& e) {
    outcome.error = e.what();  // a clean refusal: what the reader is for
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Outcome parsed = attempt([&] { return tensor::parse_npy(bytes, "fuzz.npy"); }, size);

  static const std::string path = "/tmp/fuzz_npy." + std::to_string(::getpid()) + ".npy";
  if (std::FILE* file = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, file);
    std::fclose(file);
    Outcome loaded = attempt([&] { return tensor::load_npy(path); }, size);
    // The same verdict and the same array (the messages differ only in the file's name).
    if (loaded.ok != parsed.ok || loaded.shape != parsed.shape) __builtin_trap();
    for (std::size_t i = 0; i < loaded.values.size(); ++i)
      if (loaded.values[i] != parsed.values[i] && loaded.values[i] == loaded.values[i])
        __builtin_trap();  // equal, or both NaN
  }
  return 0;
}
