// .npy files: round trips for every dtype and shape, files built byte by byte from the format's
// specification (as numpy writes them), and corrupt or unsupported files that must be refused
// with a message naming the problem.
#include <unistd.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tensor/npy.hpp"
#include "tests/helpers.hpp"

using namespace tensor;
using testing::error_message;
using testing::little_endian;
using testing::npy_file;
using testing::read_bytes;
using testing::TempDir;

namespace {

std::string f4_bytes(const std::vector<float>& values) {
  std::string out;
  for (float v : values) out += little_endian(std::bit_cast<std::uint32_t>(v), 4);
  return out;
}
std::string f8_bytes(const std::vector<double>& values) {
  std::string out;
  for (double v : values) out += little_endian(std::bit_cast<std::uint64_t>(v), 8);
  return out;
}
std::string i8_bytes(const std::vector<std::int64_t>& values) {
  std::string out;
  for (std::int64_t v : values) out += little_endian(std::uint64_t(v), 8);
  return out;
}


const std::string kDict23 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

}  // namespace

TEST_SUITE("files") {
  TEST_CASE("npy: save then load gives back every dtype and shape, bit for bit") {
    TempDir dir;
    std::vector<Shape> shapes = {{}, {0}, {5}, {2, 3}, {2, 0, 3}, {2, 3, 4}, {1, 1, 1, 1}};
    for (DType dtype : {DType::Float32, DType::Float64, DType::Int64, DType::Bool}) {
      for (const Shape& shape : shapes) {
        CAPTURE(dtype_name(dtype));
        CAPTURE(shape_str(shape));
        // Values that exercise the bits: negatives, fractions, large integers; for bool a pattern.
        Array original(shape, dtype);
        for (std::int64_t i = 0; i < original.numel(); ++i) {
          double value = dtype == DType::Bool    ? double(i % 3 == 0)
                         : dtype == DType::Int64 ? double((i * 7919) - 1000000007LL)
                                                 : (double(i) - 2.5) / 3.0;
          original.set(testing::unravel(i, shape), value);
        }
        std::string path = dir.file("a.npy");
        save_npy(path, original);
        Array loaded = load_npy(path);
        CHECK(loaded.dtype() == dtype);
        CHECK(loaded.shape() == shape);
        if (loaded.numel() > 0) CHECK(loaded.is_contiguous());  // (empty arrays: see array.cpp)
        CHECK(loaded.to_vector<double>() == original.to_vector<double>());
      }
    }
    CHECK(dir.count() == 1);  // only a.npy: no temporary file left behind
  }

  TEST_CASE("npy: a non-contiguous view is saved in row-major order") {
    TempDir dir;
    Array matrix = arange(0.0, 6.0, 1.0, DType::Float64).view({2, 3});
    Array transposed = matrix.t();  // [3, 2], strides [1, 3]
    save_npy(dir.file("t.npy"), transposed);
    Array loaded = load_npy(dir.file("t.npy"));
    CHECK(loaded.shape() == Shape{3, 2});
    CHECK(loaded.to_vector<double>() == std::vector<double>{0, 3, 1, 4, 2, 5});
    Array column = matrix.select(1, 1);  // [2], stride 3
    save_npy(dir.file("c.npy"), column);
    CHECK(load_npy(dir.file("c.npy")).to_vector<double>() == std::vector<double>{1, 4});
  }

  TEST_CASE("npy: save_npy writes exactly what numpy writes") {
    TempDir dir;
    save_npy(dir.file("x.npy"), from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3}));
    std::string bytes = read_bytes(dir.file("x.npy"));
    CHECK(bytes == npy_file(kDict23, f4_bytes({0, 1, 2, 3, 4, 5})));
    CHECK(bytes.size() == 128 + 24);  // 10 + 60 bytes of preamble and dict: the data starts at 128

    // The 1-tuple keeps its comma and the 0-tuple is (), as in Python.
    save_npy(dir.file("v.npy"), from_vector(std::vector<std::int64_t>{7}));
    CHECK(read_bytes(dir.file("v.npy")).find("'shape': (1,), }") != std::string::npos);
    save_npy(dir.file("s.npy"), scalar(1.5, DType::Float64));
    CHECK(read_bytes(dir.file("s.npy")) ==
          npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", f8_bytes({1.5})));
    save_npy(dir.file("b.npy"), from_vector(std::vector<bool>{true, false}));
    CHECK(read_bytes(dir.file("b.npy")) ==
          npy_file("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
                   std::string("\x01\x00", 2)));
  }

  TEST_CASE("npy: files built from the spec load (versions 1.0, 2.0, 3.0)") {
    // Version 1.0, exactly as numpy 1.x writes np.arange(6, dtype='<f4').reshape(2, 3).
    Array a = parse_npy(npy_file(kDict23, f4_bytes({0, 1, 2, 3, 4, 5})), "v1.npy");
    CHECK(a.dtype() == DType::Float32);
    CHECK(a.shape() == Shape{2, 3});
    CHECK(a.to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});

    // Version 2.0: a 4-byte header length.
    Array b = parse_npy(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
                                 f8_bytes({-1.25, 0.0, 1e300}), 2),
                        "v2.npy");
    CHECK(b.dtype() == DType::Float64);
    CHECK(b.to_vector<double>() == std::vector<double>{-1.25, 0.0, 1e300});

    // Version 3.0 (UTF-8 header); numpy 2 also leaves spare spaces after the dict for growth.
    Array c = parse_npy(npy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }" +
                                     std::string(20, ' '),
                                 i8_bytes({1, -2, 1LL << 40, -(1LL << 62)}), 3),
                        "v3.npy");
    CHECK(c.dtype() == DType::Int64);
    CHECK(c.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2, 1LL << 40, -(1LL << 62)});

    // Keys in another order, double quotes, no trailing comma, a Python 2 long: all still valid.
    Array d = parse_npy(npy_file("{\"shape\": (2L,), \"fortran_order\": False, \"descr\": \"|b1\"}",
                                 std::string("\x00\x07", 2)),
                        "py2.npy");
    CHECK(d.dtype() == DType::Bool);
    CHECK(d.to_vector<double>() == std::vector<double>{0, 1});  // any nonzero byte is true

    // 0-d and empty arrays.
    CHECK(
        parse_npy(
            npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f4_bytes({3})), "s")
            .item() == 3.0);
    CHECK(
        parse_npy(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 0), }", ""), "e")
            .shape() == Shape{4, 0});
  }

  TEST_CASE("npy: unsupported files are refused with a message that says why") {
    auto message = [](const std::string& bytes) {
      return error_message([&] { parse_npy(bytes, "data/x.npy"); });
    };
    std::string data6 = f4_bytes({0, 1, 2, 3, 4, 5});
    CHECK(message(npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data6)) ==
          "load_npy: data/x.npy: Fortran-order arrays are not supported (save with "
          "np.ascontiguousarray)");
    CHECK(message(npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", data6)) ==
          "load_npy: data/x.npy: big-endian data ('>f4') is not supported (convert with "
          "arr.astype('<f4'))");
    std::string complex_message =
        message(npy_file("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", data6));
    CHECK(complex_message.find(
              "load_npy: data/x.npy: unsupported dtype '<c8' (supported: '<f4' float32") == 0);
    CHECK(message(npy_file("{'descr': '<i4', 'fortran_order': False, 'shape': (6,), }", data6))
              .find("unsupported dtype '<i4'") != std::string::npos);
    CHECK(message(
              npy_file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", data6))
              .find("structured dtypes") != std::string::npos);
  }

  TEST_CASE("npy: corrupt files are refused cleanly") {
    auto message = [](const std::string& bytes) {
      return error_message([&] { parse_npy(bytes, "bad.npy"); });
    };
    auto contains = [](const std::string& text, const std::string& part) {
      INFO(text);
      CHECK(text.find(part) != std::string::npos);
    };
    std::string good = npy_file(kDict23, f4_bytes({0, 1, 2, 3, 4, 5}));
    REQUIRE(message(good).empty());

    // Truncated data, and data longer than the header says.
    CHECK(
        message(good.substr(0, good.size() - 4)) ==
        "load_npy: bad.npy: truncated: the header promises shape [2, 3] float32 (24 bytes of data) "
        "but only 20 bytes follow the header");
    contains(message(good + "xy"), "2 unexpected bytes after the data");
    // Cut anywhere in the preamble or the header.
    for (std::size_t size : {0, 3, 6, 7, 9, 30, 63})
      CHECK(message(good.substr(0, size)).find("load_npy: bad.npy: ") == 0);
    contains(message(good.substr(0, 7)), "truncated");

    // A header length beyond the end of the file, or absurdly large.
    std::string long_header = good;
    long_header[8] = '\xff';
    long_header[9] = '\x7f';  // 32767 bytes of header in a 152-byte file
    CHECK(message(long_header) ==
          "load_npy: bad.npy: header length 32767 goes beyond the end of the file (only 142 bytes "
          "follow the length field)");
    std::string huge = std::string("\x93NUMPY\x02\x00", 8) + little_endian(0xfffffff0u, 4) + "{}";
    contains(message(huge), "header length 4294967280 exceeds the limit of 1 MiB");

    // Not .npy at all, or a version we do not know.
    contains(message("PK\x03\x04 a zip file"), "not a .npy file");
    std::string v4 = good;
    v4[6] = '\x04';
    contains(message(v4), "unsupported .npy format version 4.0");

    // Headers that are not the dict they should be.
    std::string data = f4_bytes({0, 1, 2, 3, 4, 5});
    contains(message(npy_file("{'descr': '<f4', 'shape': (2, 3), }", data)),
             "no 'fortran_order' key");
    contains(message(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}",
                              data)),
             "unexpected key 'x'");
    contains(message(npy_file(
                 "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", data)),
             "appears twice");
    contains(message(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", data)),
             "invalid header");
    contains(message(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", data)),
             "'shape' is an integer, expected a tuple");
    contains(
        message(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 6), }", data)),
        "negative size -1");
    contains(
        message(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 'a'), }", data)),
        "'shape' holds a string");
    contains(message(npy_file("{'descr': '<f4', 'fortran_order': 0, 'shape': (6,), }", data)),
             "'fortran_order' is an integer");
    contains(
        message(npy_file(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", data)),
        "does not fit in 64 bits");
    contains(message(npy_file("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (6,), }", data)),
             "unexpected word 'Maybe'");
    contains(message(npy_file(std::string(100, '(') + std::string(100, ')'), data)),
             "nested more than");
    contains(message(npy_file("[1, 2]", data)), "the header is a list, expected a dict");
    std::string many_ones;
    for (int i = 0; i < 10001; ++i) many_ones += "1, ";
    contains(message(npy_file(
                 "{'descr': '<f4', 'fortran_order': False, 'shape': (" + many_ones + "), }", data)),
             "more than 10000 values");
    contains(message(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                                  many_ones.substr(0, 3 * 65) + "), }",
                              data.substr(0, 4))),
             "the shape has 65 dims (at most 64 are supported)");

    // Sizes whose byte count overflows, and huge sizes that the file cannot hold: an error, never
    // an attempt to allocate.
    contains(
        message(npy_file(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "")),
        "overflows 64 bits");
    contains(message(npy_file(
                 "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 0), }",
                 "")),
             "overflows 64 bits");
    contains(message(npy_file(
                 "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }", data)),
             "truncated: the header promises shape [1000000000000] float32 (4000000000000 bytes");
  }

  TEST_CASE("npy: an array on another device is saved from it") {
    TempDir dir;
    Array values = from_vector(std::vector<double>{1.5, -2, 3e10, 0}, {2, 2});
    Array on_sim = values.to(Device::parse("cuda-sim")).t();  // a non-contiguous view on the device
    save_npy(dir.file("sim.npy"), on_sim);
    Array loaded = load_npy(dir.file("sim.npy"));
    CHECK(loaded.device() == kCPU);
    CHECK(loaded.to_vector<double>() == std::vector<double>{1.5, 3e10, -2, 0});
  }

  TEST_CASE("npy: file system errors name the file") {
    TempDir dir;
    CHECK(error_message([&] { load_npy(dir.file("missing.npy")); }) ==
          "load_npy: " + dir.file("missing.npy") + ": cannot open (No such file or directory)");
    CHECK(error_message([&] { load_npy(dir.path.string()); }) ==
          "load_npy: " + dir.path.string() + ": not a regular file");
    std::string message =
        error_message([&] { save_npy(dir.file("no/such/dir/x.npy"), ones({2})); });
    CHECK(message.find("save_npy: " + dir.file("no/such/dir/x.npy") +
                       ": cannot create the temporary file") == 0);
    CHECK(error_message([&] { save_npy(dir.file("u.npy"), Array()); }).find("undefined") !=
          std::string::npos);
    CHECK(dir.count() == 0);
  }

}  // TEST_SUITE("files")
