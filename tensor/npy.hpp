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
// crashes the reader, and no size it claims is allocated before the file is seen to hold it:
// load_npy reads the preamble and header first and the data only once its size matches the
// file's, so a big file that is not .npy costs a few bytes of reading.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tensor/array.hpp"
#include "tensor/file_io.hpp"  // read_file, write_file_atomic (once declared here)

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

}  // namespace tensor
