// Views: shape/stride bookkeeping, storage sharing, contiguity rules, and view errors.
#include "tests/helpers.hpp"

using namespace tensor;
using testing::error_message;
using testing::values;

namespace {
Array counting(const Shape& shape) {  // 0, 1, 2, ... as float32
  return arange(0.0, double(shape_numel(shape)), 1.0, DType::Float32).view(shape);
}
}  // namespace

TEST_CASE("shape helpers: numel, contiguous strides, printing") {
  CHECK(shape_numel({2, 3, 4}) == 24);
  CHECK(shape_numel({}) == 1);
  CHECK(shape_numel({3, 0}) == 0);
  CHECK(contiguous_strides({2, 3, 4}) == Strides{12, 4, 1});
  CHECK(contiguous_strides({}) == Strides{});
  CHECK(shape_str({2, 3}) == "[2, 3]");
  CHECK(shape_str({}) == "[]");
}

TEST_CASE("broadcast_shapes follows NumPy rules and names the clash") {
  CHECK(broadcast_shapes({2, 1, 4}, {3, 1}, "add") == Shape{2, 3, 4});
  CHECK(broadcast_shapes({}, {5}, "add") == Shape{5});
  CHECK(broadcast_shapes({0, 1}, {1, 3}, "add") == Shape{0, 3});
  std::string message = error_message([] { broadcast_shapes({2, 3}, {4}, "add"); });
  CHECK(message == "add: shapes [2, 3] and [4] cannot be broadcast (dim -1: 3 vs 4)");
}

TEST_CASE("normalize_dim accepts negative dims and rejects out-of-range ones") {
  CHECK(normalize_dim(-1, 3, "op") == 2);
  CHECK(normalize_dim(0, 3, "op") == 0);
  CHECK(error_message([] { normalize_dim(3, 3, "transpose"); }) ==
        "transpose: dim 3 out of range for a 3-d tensor (valid dims are -3..2)");
  CHECK(error_message([] { normalize_dim(-4, 3, "sum"); }).find("dim -4 out of range") !=
        std::string::npos);
}

TEST_CASE("transpose is a view: same storage, swapped strides, not contiguous") {
  Array a = counting({2, 3});
  Array t = a.transpose(0, 1);
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.strides() == Strides{1, 3});
  CHECK(t.storage() == a.storage());
  CHECK_FALSE(t.is_contiguous());
  CHECK(t.at({2, 1}) == a.at({1, 2}));
  // Writing through the view changes the base.
  t.set({0, 1}, 100.0);
  CHECK(a.at({1, 0}) == 100.0);
  // contiguous() copies a non-contiguous view into fresh memory, row by row of the view.
  Array packed = t.contiguous();
  CHECK(packed.is_contiguous());
  CHECK(packed.storage() != a.storage());
  CHECK(values(packed) == std::vector<double>{0, 100, 1, 4, 2, 5});
  // ... and returns the same storage when nothing needs copying.
  CHECK(a.contiguous().storage() == a.storage());
}

TEST_CASE("transpose with negative dims and its error message") {
  Array a = counting({2, 3, 4});
  CHECK(a.transpose(-2, -1).shape() == Shape{2, 4, 3});
  CHECK(a.transpose(0, -1).strides() == Strides{1, 4, 12});
  CHECK(error_message([&] { a.transpose(3, 0); }) ==
        "transpose: dim 3 out of range for a 3-d tensor (valid dims are -3..2)");
  CHECK(error_message([&] { a.t(); }).find("t: expects a 2-d tensor") == 0);
}

TEST_CASE("permute reorders dims and checks its argument") {
  Array a = counting({2, 3, 4});
  Array p = a.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.strides() == Strides{1, 12, 4});
  CHECK(p.at({3, 1, 2}) == a.at({1, 2, 3}));
  CHECK(error_message([&] { a.permute({0, 1}); }).find("permute: got 2 dims") == 0);
  CHECK(error_message([&] { a.permute({0, 1, 1}); }) == "permute: dim 1 appears twice");
}

TEST_CASE("view merges and splits dims; -1 is inferred") {
  Array a = counting({2, 3, 4});
  Array v = a.view({6, 4});
  CHECK(v.storage() == a.storage());
  CHECK(v.strides() == Strides{4, 1});
  CHECK(a.view({-1}).shape() == Shape{24});
  CHECK(a.view({2, -1, 2}).shape() == Shape{2, 6, 2});
  CHECK(error_message([&] { a.view({5, -1}); }) == "view: shape [5, -1] is invalid for 24 elements");
  CHECK(error_message([&] { a.view({-1, -1}); }).find("only one dimension can be -1") !=
        std::string::npos);
}

TEST_CASE("view of a non-contiguous tensor works only inside contiguous chunks") {
  Array a = counting({2, 3, 4});
  Array t = a.transpose(0, 1);  // [3, 2, 4], strides [4, 12, 1]
  // The last dim is still packed: splitting it is fine.
  Array split = t.view({3, 2, 2, 2});
  CHECK(split.storage() == a.storage());
  CHECK(split.at({2, 1, 1, 0}) == t.at({2, 1, 2}));
  // Merging dims 0 and 1 would need a jump in memory: view refuses, reshape copies.
  std::string message = error_message([&] { t.view({6, 4}); });
  CHECK(message.find("view: cannot view a tensor of shape [3, 2, 4]") == 0);
  CHECK(message.find("use reshape()") != std::string::npos);
  Array r = t.reshape({6, 4});
  CHECK(r.storage() != a.storage());
  CHECK(values(r) == values(t.contiguous()));
  // reshape stays a view when it can.
  CHECK(a.reshape({4, 6}).storage() == a.storage());
}

TEST_CASE("slice and narrow follow Python's rules and share storage") {
  Array a = counting({10});
  CHECK(values(a.slice(0, 2, 5)) == std::vector<double>{2, 3, 4});
  CHECK(values(a.slice(0, 1, 8, 3)) == std::vector<double>{1, 4, 7});
  CHECK(values(a.slice(0, -3, 100)) == std::vector<double>{7, 8, 9});
  CHECK(a.slice(0, 5, 2).numel() == 0);
  CHECK(a.slice(0, 2, 5).storage() == a.storage());
  CHECK(a.slice(0, 2, 5).offset() == 2);
  Array m = counting({3, 4});
  Array cols = m.slice(1, 1, 3);
  CHECK(cols.shape() == Shape{3, 2});
  CHECK(values(cols) == std::vector<double>{1, 2, 5, 6, 9, 10});
  CHECK(values(m.narrow(0, 1, 2)) == std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(error_message([&] { m.narrow(0, 2, 2); }).find("narrow: start 2 and length 2 exceed") == 0);
  CHECK(error_message([&] { m.slice(0, 0, 2, 0); }) == "slice: step must be positive, got 0");
}

TEST_CASE("select removes a dim; negative indices count from the end") {
  Array m = counting({3, 4});
  CHECK(values(m.select(0, 1)) == std::vector<double>{4, 5, 6, 7});
  CHECK(values(m.select(1, -1)) == std::vector<double>{3, 7, 11});
  CHECK(m.select(1, 0).strides() == Strides{4});
  CHECK(error_message([&] { m.select(0, 3); }) ==
        "select: index 3 out of range for dim 0 of size 3");
}

TEST_CASE("expand broadcasts with stride 0 without copying") {
  Array col = counting({3, 1});
  Array e = col.expand({2, 3, 4});
  CHECK(e.shape() == Shape{2, 3, 4});
  CHECK(e.strides() == Strides{0, 1, 0});
  CHECK(e.storage() == col.storage());
  CHECK(e.at({1, 2, 3}) == 2.0);
  CHECK(col.expand({-1, 5}).shape() == Shape{3, 5});
  CHECK(error_message([&] { col.expand({4, 4}); }).find("expand: cannot expand shape [3, 1] to [4, 4]") == 0);
  // An expanded array is not contiguous; contiguous() materialises the repeats.
  CHECK_FALSE(e.is_contiguous());
  CHECK(e.contiguous().numel() == 24);
}

TEST_CASE("squeeze and unsqueeze") {
  Array a = counting({1, 3, 1, 2});
  CHECK(a.squeeze().shape() == Shape{3, 2});
  CHECK(a.squeeze(0).shape() == Shape{3, 1, 2});
  CHECK(a.squeeze(1).shape() == Shape{1, 3, 1, 2});  // size 3: unchanged, like PyTorch
  CHECK(a.unsqueeze(-1).shape() == Shape{1, 3, 1, 2, 1});
  CHECK(a.unsqueeze(0).shape() == Shape{1, 1, 3, 1, 2});
  CHECK(a.unsqueeze(2).is_contiguous());
  CHECK(a.squeeze().storage() == a.storage());
}

TEST_CASE("contiguity: size-1 dims do not matter, offsets do not matter") {
  Array a = counting({4, 1, 3});
  CHECK(a.is_contiguous());
  CHECK(a.slice(0, 1, 3).is_contiguous());       // rows 1..2: packed, offset 3
  CHECK_FALSE(a.slice(2, 0, 2).is_contiguous());  // a gap after every 2 elements
  CHECK(counting({}).is_contiguous());
  CHECK(zeros({2, 0, 3}).is_contiguous());  // empty: contiguous whatever the strides say
}

TEST_CASE("clone copies; copy_ writes through views with broadcasting") {
  Array a = counting({2, 3});
  Array b = a.clone();
  b.set({0, 0}, -1);
  CHECK(a.at({0, 0}) == 0);
  Array target = zeros({2, 3});
  target.select(0, 1).copy_(from_vector(std::vector<float>{7, 8, 9}));
  target.select(0, 0).copy_(scalar(5));
  CHECK(values(target) == std::vector<double>{5, 5, 5, 7, 8, 9});
  // Overlapping source and destination (same storage) are handled by copying first.
  Array m = counting({2, 2});
  m.copy_(m.t());
  CHECK(values(m) == std::vector<double>{0, 2, 1, 3});
}

TEST_CASE("in-place writes bump the storage version; views share it") {
  Array a = counting({4});
  Array v = a.slice(0, 1, 3);
  std::uint64_t before = a.storage()->version();
  v.fill_(0);
  CHECK(a.storage()->version() > before);
  CHECK(values(a) == std::vector<double>{0, 0, 0, 3});
}

TEST_CASE("to(dtype) converts; element access") {
  Array a = from_vector(std::vector<double>{1.7, -2.2, 0.0});
  CHECK(values(a.to(DType::Int64)) == std::vector<double>{1, -2, 0});
  CHECK(values(a.to(DType::Bool)) == std::vector<double>{1, 1, 0});
  CHECK(a.to(DType::Float64).storage() == a.storage());  // already float64: no copy
  CHECK(a.to(DType::Float32).dtype() == DType::Float32);
  CHECK(scalar(3.5).item() == 3.5);
  CHECK(error_message([&] { a.item(); }).find("item: needs exactly one element") == 0);
  CHECK(error_message([&] { a.at({0, 0}); }).find("at: got 2 indices for a 1-d tensor") == 0);
  CHECK(error_message([&] { a.data<float>(); }).find("data<T>") == 0);
}

TEST_CASE("dtype names and promotion") {
  CHECK(dtype_name(DType::Float32) == "float32");
  CHECK(dtype_from_name("int64") == DType::Int64);
  CHECK(error_message([] { dtype_from_name("half"); }).find("unknown dtype 'half'") !=
        std::string::npos);
  CHECK(promote_types(DType::Int64, DType::Float32) == DType::Float32);
  CHECK(promote_types(DType::Float32, DType::Float64) == DType::Float64);
  CHECK(promote_types(DType::Bool, DType::Int64) == DType::Int64);
  CHECK(dtype_size(DType::Bool) == 1);
  CHECK(dtype_size(DType::Int64) == 8);
}

TEST_CASE("devices: parsing and a clear error for a backend this build lacks") {
  CHECK(Device::parse("cpu") == kCPU);
  CHECK(Device::parse("cuda:1").index == 1);
  CHECK(Device::parse("cuda-sim").type == DeviceType::CudaSim);
  CHECK(error_message([] { Device::parse("tpu"); }).find("unknown device 'tpu'") !=
        std::string::npos);
}
