// safetensors.hpp — reading and writing safetensors files: named arrays plus string metadata,
// the format PyTorch and Hugging Face use for weights (safetensors.torch.save_file / load_file).
// Model and optimizer checkpoints built on it are in nn/checkpoint.hpp.
//
// The format (https://github.com/huggingface/safetensors), all integers little-endian:
//   bytes 0-7   N, the length of the header (unsigned 64-bit)
//   N bytes     a JSON object, UTF-8, possibly padded at the end with spaces:
//                 {"__metadata__": {"step": "100"},
//                  "fc.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
//   the rest    the data buffer: each tensor's elements, row-major, at
//               [begin, end) counted from the start of the buffer
// Rules the reader enforces (as the reference implementation does): end - begin equals
// numel * itemsize, the tensors neither overlap nor leave holes and together cover the buffer
// exactly, names are unique, metadata values are strings.
//
// Supported dtypes: F32, F64, I64, BOOL (our float32, float64, int64, bool).
//
// Saving is atomic: the file is written to "<path>.tmp.<pid>", flushed to the disk, and renamed
// over <path>, so an interrupted save leaves the previous file intact.
//
// It lives in tensor/ next to the .npy files: it needs only arrays (no autograd), so the fuzzer
// (fuzz/fuzz_safetensors.cpp) builds it with the rest of tensor/ alone. nn/checkpoint.hpp builds
// model and optimizer checkpoints on it and makes these names visible as nn:: too.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor/array.hpp"

namespace tensor {

// Arrays under names, in order (nn/optim.hpp declares the same alias as nn::NamedArrays).
using NamedArrays = std::vector<std::pair<std::string, Array>>;

// ---- safetensors files: named arrays plus string metadata -----------------------------------

struct SafetensorsFile {
  NamedArrays tensors;  // cpu arrays, in the order of the header
  std::map<std::string, std::string> metadata;
};

// Writes the arrays (any device, any layout) under their names. Throws on an undefined array, a
// duplicate or reserved name ("__metadata__"), or an I/O error (the old file then stays intact).
void save_safetensors(const std::string& path, const NamedArrays& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads a whole file. Throws std::runtime_error naming the file and the problem, e.g.
// "load_safetensors: model.safetensors: tensors 'a' and 'b' overlap (bytes [0, 24) and [16, 40))".
SafetensorsFile load_safetensors(const std::string& path);

// Parses the bytes of a whole file; `source` names it in error messages.
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source);

}  // namespace tensor
