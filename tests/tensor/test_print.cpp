// Printing like PyTorch.
#include "tests/helpers.hpp"

using namespace tensor;

TEST_CASE("printing a float matrix") {
  Array a = from_rows({{1.5, 2}, {3, 4.25}});
  CHECK(a.to_string() ==
        "tensor([[1.5000, 2.0000],\n"
        "        [3.0000, 4.2500]], shape=[2, 2], dtype=float32)");
}

TEST_CASE("printing whole numbers, ints, bools, 0-d and empty tensors") {
  CHECK(from_rows({{1, 2}}).to_string() == "tensor([[1., 2.]], shape=[1, 2], dtype=float32)");
  CHECK(arange(3).to_string() == "tensor([0, 1, 2], shape=[3], dtype=int64)");
  CHECK(from_vector(std::vector<bool>{true, false}).to_string() ==
        "tensor([ true, false], shape=[2], dtype=bool)");
  CHECK(scalar(0.5).to_string() == "tensor(0.5000, shape=[], dtype=float32)");
  CHECK(zeros({0}).to_string() == "tensor([], shape=[0], dtype=float32)");
}

TEST_CASE("printing switches to scientific notation for wide ranges, and shows nan/inf") {
  Array a = from_vector(std::vector<double>{1e-6, 1.0});
  CHECK(a.to_string() == "tensor([1.0000e-06, 1.0000e+00], shape=[2], dtype=float64)");
  Array b = from_vector(std::vector<float>{NAN, INFINITY, 0.5f});
  CHECK(b.to_string() == "tensor([   nan,    inf, 0.5000], shape=[3], dtype=float32)");
}

TEST_CASE("large tensors are summarised with ...") {
  std::string text = arange(2000).to_string();
  CHECK(text == "tensor([   0,    1,    2, ..., 1997, 1998, 1999], shape=[2000], dtype=int64)");
  std::string matrix = zeros({100, 100}).to_string();
  CHECK(matrix.find("...") != std::string::npos);
  CHECK(matrix.size() < 600);
}
