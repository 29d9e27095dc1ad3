// Readers bounded before they allocate, sizes that cannot overflow, stale temporaries removed,
// and NaN/inf found and located. Files are built byte by byte from the formats' specifications.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "tensor/factory.hpp"
#include "tensor/file_io.hpp"
#include "tensor/finite.hpp"
#include "tensor/npy.hpp"
#include "tensor/safetensors.hpp"
#include "tests/helpers.hpp"

using namespace tensor;
using testing::error_message;
using testing::little_endian;
using testing::npy_file;
using testing::read_bytes;
using testing::TempDir;

namespace {

std::string safetensors_file(std::string json, const std::string& data) {
  json.append((8 - json.size() % 8) % 8, ' ');
  return little_endian(json.size(), 8) + json + data;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// A file of `size` bytes that starts with `head` and is a hole after it (sparse: it costs no
// disk, and reads back as zeros).
void write_sparse(const std::string& path, const std::string& head, std::uint64_t size) {
  write_bytes(path, head);
  REQUIRE(::truncate(path.c_str(), static_cast<off_t>(size)) == 0);
}

// The process's peak resident memory so far, in bytes.
double peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

void check_contains(const std::string& text, const std::string& part) {
  INFO("message: " << text);
  INFO("expected to contain: " << part);
  CHECK(text.find(part) != std::string::npos);
}

}  // namespace

TEST_SUITE("files") {
  // ---- sizes that overflow ----------------------------------------------------------------------

  TEST_CASE("overflow: the fuzzer's <f4 (0, 2^60) .npy file is refused, not converted with UB") {
    // The finding: zero elements, so the reader's byte count (0) matched the empty data; then
    // converting to float64 computed the stride 2^60 times 8 bytes = 2^63, past int64.
    const std::int64_t huge = std::int64_t(1) << 60;
    std::string bytes = npy_file(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (0, " + std::to_string(huge) + "), }",
        "");
    std::string message = error_message([&] { (void)parse_npy(bytes, "finding.npy").to(DType::Float64); });
    CHECK(message ==
          "load_npy: finding.npy: the shape [0, 1152921504606846976] is too large (its byte "
          "strides overflow 64 bits for 8-byte elements)");
    // The same bytes through the file reader.
    TempDir dir;
    write_bytes(dir.file("finding.npy"), bytes);
    check_contains(error_message([&] { load_npy(dir.file("finding.npy")); }), "is too large");

    // And in a safetensors file.
    std::string st = safetensors_file(R"({"a":{"dtype":"F32","shape":[0,)" + std::to_string(huge) +
                                          R"(],"data_offsets":[0,0]}})",
                                      "");
    check_contains(error_message([&] { parse_safetensors(st, "finding.safetensors"); }),
                   "tensor 'a': shape [0, 1152921504606846976] is too large (its byte strides");

    // One notch smaller fits for every dtype and converts (to nothing).
    std::string fits = npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (0, " +
                                    std::to_string(huge / 2) + "), }",
                                "");
    Array empty = parse_npy(fits, "fits.npy").to(DType::Float64);
    CHECK(empty.numel() == 0);
    CHECK(empty.shape() == Shape{0, huge / 2});
  }

  TEST_CASE("overflow: arrays whose strides or sizes do not fit in int64 are refused") {
    const std::int64_t huge = std::int64_t(1) << 60;
    // An array that exists (no elements) but whose float64 version would not.
    Array narrow({0, huge}, DType::Float32);
    CHECK(narrow.numel() == 0);
    CHECK(error_message([&] { (void)narrow.to(DType::Float64); }) ==
          "Array: shape [0, 1152921504606846976] is too large: with 8-byte elements its byte "
          "strides overflow 64 bits");
    CHECK(error_message([&] { Array({0, huge * 4}, DType::Float32); }) ==
          "Array: shape [0, 4611686018427387904] is too large: with 4-byte elements its byte "
          "strides overflow 64 bits");
    // The element count itself: 2^32 * 2^32 = 2^64.
    const std::int64_t two_32 = std::int64_t(1) << 32;
    CHECK(error_message([&] { (void)shape_numel({two_32, two_32}); }) ==
          "numel: the element count of shape [4294967296, 4294967296] overflows 64 bits");
    CHECK(shape_numel({two_32, 0, two_32, two_32}) == 0);  // a zero anywhere: no overflow
    CHECK(shape_numel({two_32, two_32 / 2 - 1}) == two_32 * (two_32 / 2 - 1));
    CHECK(error_message([&] { (void)contiguous_strides({3, two_32, two_32}); }) ==
          "contiguous_strides: the strides of shape [3, 4294967296, 4294967296] overflow 64 bits");
    // The outermost size never enters a stride: [2^62, 2] is fine as strides (not as an array).
    CHECK(contiguous_strides({std::int64_t(1) << 62, 2}) == Strides{2, 1});
    CHECK(checked_mul(3, 5, "op", "x") == 15);
    CHECK(error_message([&] { checked_mul(huge, 8, "op", "a byte stride"); }) ==
          "op: a byte stride overflows 64 bits (1152921504606846976 * 8)");
    // The limits themselves, worked out by hand: 2^60 * 8 = 2^63 does not fit, 2^59 * 8 does.
    CHECK(layout_span_bytes({0, huge / 2}, 8, "op") == std::numeric_limits<std::int64_t>::max() / 2 + 1);
  }

  TEST_CASE("overflow: reshape and slice with sizes or steps past int64 give an error or a view") {
    Array a = arange(6);
    const std::int64_t two_40 = std::int64_t(1) << 40;
    CHECK(error_message([&] { (void)a.reshape({two_40, two_40, -1}); }) ==
          "reshape: shape [1099511627776, 1099511627776, -1] is invalid for 6 elements (its size "
          "overflows 64 bits)");
    Array empty({0}, DType::Float32);
    CHECK(empty.reshape({two_40, two_40, 0}).shape() == Shape{two_40, two_40, 0});
    Array every_max = a.slice(0, 0, 6, std::numeric_limits<std::int64_t>::max());
    CHECK(every_max.shape() == Shape{1});
    CHECK(every_max.to_vector<std::int64_t>() == std::vector<std::int64_t>{0});
    CHECK(a.slice(0, 1, 6, 4).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 5});
  }

  TEST_CASE("overflow: elementwise loops over empty views never look at their strides") {
    // A hand-made view with no elements and a stride whose byte count overflows (the Array
    // constructor that takes strides does no checking: a view is built from a checked array).
    Array base({4}, DType::Float32);
    base.fill_(1);
    Array odd(base.storage(), Shape{0, 3}, Strides{std::int64_t(1) << 62, 1}, 0, DType::Float32);
    Array out = odd.to(DType::Float64);
    CHECK(out.numel() == 0);
    CHECK(out.shape() == Shape{0, 3});
  }

  // ---- readers bounded before they allocate ------------------------------------------------------

  TEST_CASE("bounds: a huge shape in a tiny file is refused from the header alone") {
    TempDir dir;
    // 2^40 float32 elements (4 TiB) promised by a 128-byte file: refused before any allocation,
    // with the numbers that show why.
    std::string npy = npy_file(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }", "abcd");
    write_bytes(dir.file("huge.npy"), npy);
    double rss_before = peak_rss_bytes();
    CHECK(error_message([&] { load_npy(dir.file("huge.npy")); }) ==
          "load_npy: " + dir.file("huge.npy") +
              ": truncated: the header promises shape [1099511627776] float32 (4398046511104 "
              "bytes of data) but only 4 bytes follow the header");
    std::string st = safetensors_file(
        R"({"big":{"dtype":"F64","shape":[1099511627776],"data_offsets":[0,8796093022208]}})",
        "12345678");
    write_bytes(dir.file("huge.safetensors"), st);
    check_contains(error_message([&] { load_safetensors(dir.file("huge.safetensors")); }),
                   "tensor 'big': data_offsets [0, 8796093022208] go beyond the data buffer (8 "
                   "bytes)");
    CHECK(peak_rss_bytes() - rss_before < 64.0 * (1 << 20));
  }

  TEST_CASE("bounds: a big file that is not what its name says costs a header read, not its size") {
    // 1 GiB, sparse (no disk used). The old reader read all of it into memory before looking at
    // the magic bytes: the peak RSS would grow by 1 GiB and the read would take seconds.
    TempDir dir;
    const std::uint64_t gib = std::uint64_t(1) << 30;
    write_sparse(dir.file("big.npy"), "PK\x03\x04 this is a zip file", gib);
    write_sparse(dir.file("big.safetensors"), little_endian(1 << 30, 8), gib);
    // A real .npy header whose data is one byte short of the file: refused without reading data.
    std::string header = npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }", "");
    write_sparse(dir.file("longer.npy"), header, header.size() + 41);

    double rss_before = peak_rss_bytes();
    auto start = std::chrono::steady_clock::now();
    CHECK(error_message([&] { load_npy(dir.file("big.npy")); }) ==
          "load_npy: " + dir.file("big.npy") +
              ": not a .npy file (it does not start with the magic bytes \\x93NUMPY)");
    check_contains(error_message([&] { load_safetensors(dir.file("big.safetensors")); }),
                   "header length 1073741824 exceeds the limit of 100000000 bytes");
    check_contains(error_message([&] { load_npy(dir.file("longer.npy")); }),
                   "1 unexpected bytes after the data");
    double grew = peak_rss_bytes() - rss_before;
    INFO("peak RSS grew by " << grew / (1 << 20) << " MiB");
    CHECK(grew < 64.0 * (1 << 20));
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 0.5);
  }

  TEST_CASE("bounds: files read piece by piece load exactly what the whole-buffer parser does") {
    TempDir dir;
    Array values = from_vector(std::vector<double>{1.5, -2, 3e10, 0, 7, 8}, {2, 3});
    Array flags = from_vector(std::vector<bool>{true, false, true}, {3});
    save_npy(dir.file("v.npy"), values);
    save_safetensors(dir.file("m.safetensors"), {{"v", values}, {"flags", flags}}, {{"k", "x"}});
    std::string npy_bytes = read_file(dir.file("v.npy"), "test");
    CHECK(load_npy(dir.file("v.npy")).to_vector<double>() ==
          parse_npy(npy_bytes, "v").to_vector<double>());
    CHECK(load_npy(dir.file("v.npy")).to_vector<double>() == values.to_vector<double>());
    SafetensorsFile file = load_safetensors(dir.file("m.safetensors"));
    REQUIRE(file.tensors.size() == 2);
    CHECK(file.tensors[0].second.to_vector<double>() == values.to_vector<double>());
    CHECK(file.tensors[1].second.to_vector<bool>() == std::vector<bool>{true, false, true});
    CHECK(file.metadata.at("k") == "x");
  }

  // ---- temporaries of interrupted saves ----------------------------------------------------------

  TEST_CASE("temporaries: a save removes the ones whose process is gone, and only those") {
    TempDir dir;
    std::string path = dir.file("checkpoint.safetensors");
    // A pid that no longer exists: a child that has exited and been reaped.
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) ::_exit(0);
    REQUIRE(::waitpid(child, nullptr, 0) == child);
    std::string dead = path + ".tmp." + std::to_string(child);
    std::string live = path + ".tmp." + std::to_string(::getppid());  // our parent runs
    std::string other_file = dir.file("other.safetensors.tmp." + std::to_string(child));
    std::string not_a_pid = path + ".tmp.backup";
    for (const std::string& name : {dead, live, other_file, not_a_pid}) write_bytes(name, "half");

    save_safetensors(path, {{"w", ones({2})}});
    std::vector<std::string> expected = {
        "checkpoint.safetensors", "checkpoint.safetensors.tmp." + std::to_string(::getppid()),
        "checkpoint.safetensors.tmp.backup",
        "other.safetensors.tmp." + std::to_string(child)};
    std::sort(expected.begin(), expected.end());
    CHECK(dir.names() == expected);

    // Called directly it reports what it removed; .npy saves use the same writer.
    write_bytes(dead, "half");
    CHECK(remove_stale_temporaries(path) == std::vector<std::string>{dead});
    std::string npy = dir.file("x.npy");
    write_bytes(npy + ".tmp." + std::to_string(child), "half");
    save_npy(npy, ones({1}));
    CHECK(!std::filesystem::exists(npy + ".tmp." + std::to_string(child)));
  }

  // ---- NaN and inf, counted and located ------------------------------------------------------------

  TEST_CASE("finite: non-finite values are counted by kind and the first one is located") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    // [2, 3, 4]: flat position 1*12 + 2*4 + 1 = 21 is [1, 2, 1].
    std::vector<double> values(24, 0.5);
    values[21] = nan;
    values[23] = nan;
    values[22] = nan;
    Array a = from_vector(values, {2, 3, 4});
    NonFinite found = find_non_finite(a);
    CHECK(found.nan == 3);
    CHECK(found.count() == 3);
    CHECK(found.first_index == Shape{1, 2, 1});
    CHECK(describe_non_finite(found) == "3 NaN values, first at [1, 2, 1]");

    values[5] = -inf;  // a[0, 1, 1]
    values[6] = inf;   // a[0, 1, 2]
    // Scanned through a transposed float32 view v[i, k, j] = a[i, j, k], in v's row-major order:
    // v[0, 1, 1] = a[0, 1, 1] = -inf comes first; v[0, 2, 1] = a[0, 1, 2] = +inf later.
    NonFinite mixed =
        find_non_finite(from_vector(values, {2, 3, 4}).to(DType::Float32).transpose(1, 2));
    CHECK(mixed.nan == 3);
    CHECK(mixed.pos_inf == 1);
    CHECK(mixed.neg_inf == 1);
    CHECK(mixed.first_index == Shape{0, 1, 1});
    CHECK(describe_non_finite(mixed) ==
          "3 NaN values, 1 +inf value and 1 -inf value, first at [0, 1, 1] (-inf)");
    // -inf skipped (an additive mask): the first is then the +inf at view (0, 2, 1).
    NonFinite masked =
        find_non_finite(from_vector(values, {2, 3, 4}).transpose(1, 2), /*skip_neg_inf=*/true);
    CHECK(masked.neg_inf == 0);
    CHECK(masked.first_index == Shape{0, 2, 1});

    CHECK(!find_non_finite(from_vector(std::vector<double>{1, 2})).any());
    CHECK(!find_non_finite(arange(5)).any());  // int64: nothing to find
    CHECK(describe_non_finite(find_non_finite(from_vector(std::vector<double>{1, nan}))) ==
          "1 NaN value, at [1]");
  }
}
