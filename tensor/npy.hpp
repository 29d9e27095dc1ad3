// npy.hpp — reading and writing NumPy's .npy files, so arrays move between this library, NumPy
// (np.save / np.load) and PyTorch (torch.from_numpy).
//
// The format (numpy.lib.format), all integers little-endian:
//   bytes 0-5   magic "\x93NUMPY"
//   bytes 6-7   format version: major, minor (1.0, 2.0 or 3.0)
//   then        header length N: 2 bytes in version 1.0, 4 bytes in 2.0 and 3.0
//   then        N bytes of header: a Python dict literal, padded with spaces and ended by '\n'
//               so that the data starts at a multiple of 64 bytes, e.g.
//               {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//               (ASCII in 1.0 and 2.0, UTF-8 in 3.0)
//   then        the elements, numel * itemsize raw bytes, row-major ("C order")
//
// Supported element types: '<f4' float32, '<f8' float64, '<i8' int64, '|b1' bool. Anything else
// (Fortran order, big-endian data, other dtypes, a truncated file, a header that lies about the
// data size) is refused with an error that names the file and the problem; a bad file never
// crashes the reader, and no size it claims is allocated before the file is seen to hold it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tensor/array.hpp"

namespace tensor {

// Reads a .npy file into a new contiguous cpu array. Throws std::runtime_error, e.g.
// "load_npy: data/x.npy: Fortran-order arrays are not supported (save with np.ascontiguousarray)".
Array load_npy(const std::string& path);

// Writes any array (any device, any layout: it is brought to the cpu and packed first) as a
// version 1.0 .npy file. The file is written to a temporary name and renamed into place.
void save_npy(const std::string& path, const Array& array);

// Parses the bytes of a whole .npy file. `source` names the file in error messages.
Array parse_npy(std::string_view bytes, const std::string& source);

// The .npy descriptor of a dtype ("<f4", "<f8", "<i8", "|b1").
std::string npy_descr(DType dtype);

// ---- whole-file helpers, shared with the checkpoint code in nn/ ---------------------------------

// The whole content of a regular file. Throws "<op>: <path>: cannot open (No such file or
// directory)" and the like.
std::string read_file(const std::string& path, const std::string& op);

// Writes `pieces` one after another so that `path` is replaced all at once or not at all: the
// bytes go to "<path>.tmp.<pid>", are flushed to the disk (fsync), and only then is the temporary
// renamed over `path` (rename is atomic within a file system). On any failure the temporary is
// removed, `path` keeps its previous content, and "<op>: <path>: ..." is thrown.
void write_file_atomic(const std::string& path, const std::vector<std::string_view>& pieces,
                       const std::string& op);

}  // namespace tensor
