// 00_tensors — What are shape, strides, views and broadcasting?
//              张量的形状（shape）、步长（stride）、视图（view）和广播（broadcasting）是什么？
//
// Short answer
//   A tensor is a flat block of memory (its storage) plus a recipe for reading it: the shape
//   (how many elements along each dim) and the strides (how many elements to skip in memory to
//   move one step along each dim), from an offset. Element [i, j] lives at
//   storage[offset + i * stride0 + j * stride1]. A view (transpose, slice, select, expand,
//   unsqueeze, view) is a new shape/strides/offset over the SAME storage: nothing is copied,
//   and writing through one is seen through the other. A transpose just swaps two strides, so
//   the result is no longer laid out row by row ("not contiguous"); contiguous() copies it into
//   fresh row-major memory, and view() refuses shapes that need such a copy.
//   Broadcasting lines shapes up from the right; two sizes fit when they are equal or one is 1
//   (a missing dim counts as 1), and a size-1 dim is stretched with stride 0, again no copy.
//
// What this program shows
//   1. shape, strides and offsets of a small matrix, checked by reading the raw storage;
//   2. a transpose that is a view: same storage, swapped strides, writes seen through both;
//   3. contiguous() copying into new storage, and view() vs reshape() (and why the interview
//      articles write `.transpose(1, 2).contiguous().view(...)` when merging attention heads);
//   4. other views (select, slice with a step, unsqueeze, expand with stride 0);
//   5. the broadcasting rule written by hand and compared with the library on a table of shapes,
//      the failing cases with the library's error, the fix, and a silent attention-mask bug;
//   6. a picture of where each element of x, x^T and x^T.contiguous() lives in memory.
//
// Run:  build/tutorials/00_tensors            (--rows / --cols change the example matrix)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/printing.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/tutorial.hpp"
#include "viz/heatmap.hpp"

using autograd::Tensor;
using tensor::DType;
using tensor::Shape;

namespace {

std::string str(const Shape& s) {
  return tensor::shape_str(s);
}

// Where element `index` of t lives in its storage: offset + sum_d index[d] * strides[d].
std::int64_t storage_position(const Tensor& t, const std::vector<std::int64_t>& index) {
  std::int64_t position = t.data().offset();
  for (std::size_t d = 0; d < index.size(); ++d) position += index[d] * t.strides()[d];
  return position;
}

// Reads element [i, j] of a float64 matrix straight from the storage, with the formula above.
double read_raw(const Tensor& t, std::int64_t i, std::int64_t j) {
  const double* memory = static_cast<const double*>(t.data().storage()->data());
  return memory[storage_position(t, {i, j})];
}

bool same_storage(const Tensor& a, const Tensor& b) {
  return a.data().storage() == b.data().storage();
}

// The storage positions visited when a matrix is read row by row: "0 3 1 4 2 5".
std::string visit_order(const Tensor& t) {
  std::string order;
  for (std::int64_t i = 0; i < t.size(0); ++i)
    for (std::int64_t j = 0; j < t.size(1); ++j)
      order += std::to_string(storage_position(t, {i, j})) + " ";
  return order;
}

void describe(const char* name, const Tensor& t, const Tensor& base) {
  std::printf(
      "  %-32s shape %-10s strides %-10s offset %lld  contiguous %-3s  shares x's memory: %s\n",
      name, str(t.shape()).c_str(), str(t.strides()).c_str(), (long long)t.data().offset(),
      t.is_contiguous() ? "yes" : "no", same_storage(t, base) ? "yes" : "no");
}

// Broadcasting, written by hand: align on the right, missing dims are 1, sizes must be equal
// or 1. Returns nothing when the shapes do not fit.
std::optional<Shape> broadcast_by_hand(const Shape& a, const Shape& b) {
  std::size_t ndim = std::max(a.size(), b.size());
  Shape out(ndim);
  for (std::size_t from_right = 0; from_right < ndim; ++from_right) {
    std::int64_t size_a = from_right < a.size() ? a[a.size() - 1 - from_right] : 1;
    std::int64_t size_b = from_right < b.size() ? b[b.size() - 1 - from_right] : 1;
    if (size_a != size_b && size_a != 1 && size_b != 1) return std::nullopt;
    out[ndim - 1 - from_right] = std::max(size_a, size_b);
  }
  return out;
}

// a + b by loops over the output shape: each input is read at the output index, with index 0
// along its size-1 (stretched) dims and its missing leading dims dropped.
std::vector<double> add_by_loops(const Tensor& a, const Tensor& b, const Shape& out_shape) {
  std::vector<double> av = a.data().contiguous().to_vector<double>();
  std::vector<double> bv = b.data().contiguous().to_vector<double>();
  auto flat_index = [&](const Shape& shape, const std::vector<std::int64_t>& out_index) {
    std::int64_t flat = 0, lead = std::int64_t(out_index.size() - shape.size());
    for (std::size_t d = 0; d < shape.size(); ++d)
      flat = flat * shape[d] + (shape[d] == 1 ? 0 : out_index[lead + d]);
    return flat;
  };
  std::vector<double> result;
  std::vector<std::int64_t> index(out_shape.size(), 0);
  for (std::int64_t n = 0; n < tensor::shape_numel(out_shape); ++n) {
    result.push_back(av[flat_index(a.shape(), index)] + bv[flat_index(b.shape(), index)]);
    for (std::int64_t d = std::int64_t(index.size()) - 1; d >= 0; --d) {  // next index, odometer
      if (++index[d] < out_shape[d]) break;
      index[d] = 0;
    }
  }
  return result;
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "00_tensors",
    .chinese = "张量的形状（shape）、步长（stride）、视图（view）和广播（broadcasting）是什么？",
    .english = "What are shape, strides, views and broadcasting?",
    .answer = "A tensor is flat storage read through a shape and strides: element [i, j] sits at\n"
              "offset + i*stride0 + j*stride1. A view (transpose, slice, expand) changes only\n"
              "shape, strides and offset over the same storage; contiguous() copies into row-major\n"
              "order. Broadcasting aligns shapes from the right: sizes must be equal or 1, and a\n"
              "size-1 dim is stretched with stride 0, without a copy.",
    .article = "",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  const tutorial::Options& options = flags.options;
  std::int64_t rows = 2, cols = 3;
  flags.add("--rows", rows, "rows of the example matrix x", tutorial::between(2, 200));
  flags.add("--cols", cols, "columns of the example matrix x", tutorial::between(2, 200));
  flags.parse(argc, argv);
  tutorial::Flags::require(rows * cols <= 400, "--rows " + std::to_string(rows) + " times --cols " +
                                                   std::to_string(cols) + " is over 400 elements");
  tutorial::Checks checks;

  tutorial::section("1. Shape and strides");
  // arange gives 0, 1, 2, ... in one flat block; view() reads that block as a matrix.
  Tensor x = autograd::arange(0.0, double(rows * cols), 1.0, DType::Float64).view({rows, cols});
  tutorial::print_matrix("x = arange(" + std::to_string(rows * cols) + ").view(" +
                             std::to_string(rows) + ", " + std::to_string(cols) + ")",
                         x, 0);
  std::printf("  storage: ");
  for (double value : x.data().contiguous().to_vector<double>()) std::printf("%g ", value);
  std::printf(
      "\n  shape %s, strides %s: one step down a column skips %lld elements, one step\n"
      "  along a row skips 1. Element [i, j] is storage[offset + i*%lld + j*1].\n\n",
      str(x.shape()).c_str(), str(x.strides()).c_str(), (long long)x.strides()[0],
      (long long)x.strides()[0]);
  bool formula_holds = true;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) formula_holds &= read_raw(x, i, j) == x.at({i, j});
  checks.check(x.strides() == Shape{cols, 1}, "a fresh row-major matrix has strides [cols, 1]");
  checks.check(formula_holds,
               "reading storage[offset + i*stride0 + j*stride1] gives x[i, j] everywhere");

  tutorial::section("2. A transpose is a view: same memory, swapped strides");
  Tensor xt = x.transpose(0, 1);  // the same as x.t() for a matrix
  tutorial::print_matrix("xt = x.transpose(0, 1)", xt, 0);
  describe("x", x, x);
  describe("xt", xt, x);
  std::printf(
      "  Reading xt row by row visits storage positions: %s\n"
      "  (jumps around: that is what 'not contiguous' means)\n\n",
      visit_order(xt).c_str());
  checks.check(same_storage(x, xt), "xt uses x's storage: nothing was copied");
  checks.check(xt.strides() == Shape{1, cols}, "xt's strides are x's strides swapped");
  bool transposed_values = true;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j)
      transposed_values &= read_raw(xt, j, i) == x.at({i, j}) && xt.at({j, i}) == x.at({i, j});
  checks.check(transposed_values, "xt[j, i] == x[i, j] for every element");
  xt.data().set({cols - 1, rows - 1}, 100.0);  // write through the view ...
  double seen = x.at({rows - 1, cols - 1});    // ... and read through the original
  std::printf("  after xt[%lld, %lld] = 100:  x[%lld, %lld] = %g\n", (long long)cols - 1,
              (long long)rows - 1, (long long)rows - 1, (long long)cols - 1, seen);
  checks.check(seen == 100.0, "a write through the view is seen through x");
  xt.data().set({cols - 1, rows - 1}, double(rows * cols - 1));  // put it back
  std::string t_error = tutorial::error_of([&] { (void)x.view({1, rows, cols}).t(); });
  std::printf(
      "\n  t() is for matrices only; on a batch [1, %lld, %lld] (like the articles' `keys.T`):\n"
      "    %s\n",
      (long long)rows, (long long)cols, t_error.c_str());
  checks.check(!t_error.empty(), "t() on a 3-d tensor is refused, naming transpose(-2, -1)");

  tutorial::section("3. contiguous() copies; view() refuses to, reshape() copies when it must");
  Tensor xc = xt.contiguous();
  describe("xc = xt.contiguous()", xc, x);
  std::printf("  xc's storage, in order: ");
  for (double value :
       std::vector<double>(static_cast<const double*>(xc.data().storage()->data()),
                           static_cast<const double*>(xc.data().storage()->data()) + xc.numel()))
    std::printf("%g ", value);
  std::printf("\n\n");
  checks.check(!same_storage(xc, x) && xc.is_contiguous() && xc.strides() == Shape{rows, 1},
               "contiguous() made new row-major memory with strides [rows, 1]");
  checks.same(xc, xt, 0, "the copy holds the same values as xt");
  checks.check(same_storage(x.contiguous(), x),
               "contiguous() of an already contiguous x is x itself (no copy)");

  std::string view_error = tutorial::error_of([&] { (void)xt.view({rows * cols}); });
  Tensor flat = xt.reshape({rows * cols});
  std::printf("  xt.view(%lld) -> %s\n", (long long)(rows * cols), view_error.c_str());
  std::printf("  xt.reshape(%lld) works: it copies (shares x's memory: %s)\n",
              (long long)(rows * cols), same_storage(flat, x) ? "yes" : "no");
  checks.check(!view_error.empty() && !same_storage(flat, x),
               "view() of a transposed tensor fails; reshape() silently copies");
  Tensor wrong = x.view({cols, rows});
  std::printf("  x.view(%lld, %lld) is NOT a transpose: it re-reads the same memory in order:\n",
              (long long)cols, (long long)rows);
  tutorial::print_matrix("x.view(cols, rows)", wrong, 0);
  checks.check(tutorial::max_abs_diff(wrong, xt) > 0,
               "view(cols, rows) differs from the transpose");

  // The articles' multi-head attention merges heads with transpose(1, 2).contiguous().view(...).
  const std::int64_t B = 1, H = 2, T = 3, D = 2;
  Tensor heads =
      autograd::arange(0.0, double(B * H * T * D), 1.0, DType::Float64).view({B, H, T, D});
  Tensor swapped = heads.transpose(1, 2);  // [B, T, H, D], a view
  std::string merge_error = tutorial::error_of([&] { (void)swapped.view({B, T, H * D}); });
  Tensor merged = swapped.contiguous().view({B, T, H * D});
  std::printf(
      "\n  Merging attention heads [B, H, T, D] = %s -> [B, T, H*D]:\n"
      "    x.transpose(1, 2).view(B, T, H*D)              -> %s\n"
      "    x.transpose(1, 2).contiguous().view(B, T, H*D) -> shape %s\n"
      "  That is why the articles' multi-head attention writes .contiguous() before .view().\n\n",
      str(heads.shape()).c_str(), merge_error.c_str(), str(merged.shape()).c_str());
  // Row t of the merged tensor is head 0's row t followed by head 1's row t.
  bool merge_right = true;
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t d = 0; d < D; ++d)
        merge_right &= merged.at({0, t, h * D + d}) == heads.at({0, h, t, d});
  checks.check(!merge_error.empty() && merge_right,
               "view() refuses the transposed heads; after contiguous() row t = [head 0 row t, "
               "head 1 row t]");

  tutorial::section("4. More views: select, slice with a step, unsqueeze, expand");
  describe("x", x, x);
  describe("x.select(1, 1)   (x[:, 1])", x.select(1, 1), x);
  describe("x.slice(1, 0, cols, 2)", x.slice(1, 0, cols, 2), x);
  describe("x.unsqueeze(0)", x.unsqueeze(0), x);
  Tensor row = x.select(0, 0).unsqueeze(0);  // [1, cols]
  Tensor stretched = row.expand({4, cols});
  describe("x[0] as [1,cols].expand(4,cols)", stretched, x);
  std::printf(
      "  select moves the offset and drops a dim; a step multiplies the stride; expand gives\n"
      "  the stretched dim stride 0, so all 4 rows read the same memory.\n\n");
  checks.check(same_storage(x.select(1, 1), x) && same_storage(x.slice(1, 0, cols, 2), x) &&
                   same_storage(stretched, x),
               "select, slice and expand are views of x's memory");
  checks.check(x.select(1, 1).data().offset() == 1 && x.select(1, 1).strides() == Shape{cols},
               "x[:, 1] starts at offset 1 and steps by cols");
  checks.check(stretched.strides()[0] == 0, "expand stretches with stride 0");

  tutorial::section("5. Broadcasting: align on the right; sizes equal or 1");
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> cases = {
      {{2, 3}, {3}}, {{2, 3}, {2, 1}}, {{2, 1}, {1, 3}}, {{4, 1, 3}, {2, 1}},
      {{}, {2, 3}},  {{2, 3}, {2}},    {{3, 4}, {4, 3}}, {{2, 4, 5}, {2, 5}},
  };
  std::printf("  %-12s %-10s %-14s %s\n", "a", "b", "by hand", "library");
  bool all_agree = true, values_agree = true;
  tensor::Generator gen(options.seed);
  for (const Case& c : cases) {
    std::optional<Shape> by_hand = broadcast_by_hand(c.a, c.b);
    Tensor a = autograd::randn(c.a, gen, DType::Float64),
           b = autograd::randn(c.b, gen, DType::Float64);
    std::string library;
    try {
      Tensor sum = a + b;
      library = str(sum.shape());
      all_agree &= by_hand && *by_hand == sum.shape();
      Tensor expected = autograd::from_vector(add_by_loops(a, b, sum.shape()), sum.shape());
      values_agree &= tutorial::max_abs_diff(sum, expected) == 0;
    } catch (const std::exception& e) {
      library = std::string("error: ") + e.what();
      all_agree &= !by_hand.has_value();
    }
    std::printf("  %-12s %-10s %-14s %s\n", str(c.a).c_str(), str(c.b).c_str(),
                by_hand ? str(*by_hand).c_str() : "no fit", library.c_str());
  }
  std::printf("\n");
  checks.check(all_agree, "the rule written by hand predicts every result shape and every failure");
  checks.check(values_agree, "a + b equals loops that read size-1 dims at index 0");

  // The failing case [2, 3] + [2]: the 2 is meant per row, so give it its own column dim.
  Tensor m = autograd::from_rows({{1, 2, 3}, {4, 5, 6}}, DType::Float64);
  Tensor per_row = autograd::from_rows({{10, 20}}, DType::Float64).squeeze(0);  // [2]
  std::printf("  m [2, 3] + per_row [2] -> %s\n",
              tutorial::error_of([&] { (void)(m + per_row); }).c_str());
  Tensor fixed = m + per_row.unsqueeze(-1);  // [2, 1] broadcasts along the columns
  tutorial::print_matrix("fix: m + per_row.unsqueeze(-1)   ([2, 1] -> [2, 3])", fixed, 0);
  checks.check(fixed.at({0, 2}) == 13 && fixed.at({1, 0}) == 24,
               "after unsqueeze(-1), row i gets per_row[i] added");

  // In attention, scores are [B, Tq, Tk] and a padding mask is [B, Tk]. It must become [B, 1, Tk].
  const std::int64_t batch = 2, tk = 5;
  Tensor pad = autograd::zeros({batch, tk}, DType::Float64);  // 1 = padding key
  pad.data().set({1, 3}, 1.0);
  pad.data().set({1, 4}, 1.0);
  std::printf("\n  Attention: scores [B, Tq, Tk] + padding mask [B, Tk], B = %lld, Tk = %lld:\n",
              (long long)batch, (long long)tk);
  std::string mask_error = tutorial::error_of([&] {
    (void)(autograd::zeros({batch, 4, tk}, DType::Float64) + pad);
  });
  std::printf("    Tq = 4: [2, 4, 5] + [2, 5] -> %s\n", mask_error.c_str());
  // With Tq == B the wrong shape broadcasts without complaint: mask row b lands on query b of
  // every batch element instead of on batch element b.
  Tensor scores = autograd::zeros({batch, batch, tk}, DType::Float64);
  Tensor silently_wrong = scores + pad;      // [2, 2, 5] + [2, 5]
  Tensor right = scores + pad.unsqueeze(1);  // [2, 2, 5] + [2, 1, 5]
  std::printf("    Tq = 2: [2, 2, 5] + [2, 5] runs, but sequence 0 now has padding at query 1:\n");
  tutorial::print_matrix("(scores + pad)[0]               (wrong)", silently_wrong.select(0, 0), 0);
  tutorial::print_matrix("(scores + pad.unsqueeze(1))[0]   (right)", right.select(0, 0), 0);
  checks.check(!mask_error.empty(), "[B, Tq, Tk] + [B, Tk] fails when Tq != B");
  checks.check(tutorial::max_abs_diff(silently_wrong, right) > 0,
               "when Tq == B it runs and is silently wrong; unsqueeze(1) gives [B, 1, Tk]");

  tutorial::section("6. Pictures: where each element lives in memory");
  {
    // Each cell shows the storage position its element is read from.
    auto positions = [](const Tensor& t) {
      std::vector<double> where;
      for (std::int64_t i = 0; i < t.size(0); ++i)
        for (std::int64_t j = 0; j < t.size(1); ++j)
          where.push_back(double(storage_position(t, {i, j})));
      return where;
    };
    viz::Heatmap view_map(positions(xt), int(cols), int(rows));
    view_map.set_title("x^T is a view: it reads x's memory out of order")
        .set_y_label("row of x^T")
        .set_x_label("column of x^T")
        .set_colorbar_label("position in x's storage");
    tutorial::save_picture(view_map, options, "00_transpose_view.png",
                           "along a row the storage position jumps by x's row length: the view "
                           "reads x's memory out of order");
    viz::Heatmap copy_map(positions(xc), int(cols), int(rows));
    copy_map.set_title("x^T.contiguous() is a copy, read in order")
        .set_y_label("row")
        .set_x_label("column")
        .set_colorbar_label("position in the new storage");
    tutorial::save_picture(
        copy_map, options, "00_contiguous_copy.png",
        "0, 1, 2, ... row after row: the copy is laid out in the order it is read");
    checks.check(
        positions(xc) ==
            [&] {
              std::vector<double> in_order(xc.numel());
              for (std::size_t n = 0; n < in_order.size(); ++n) in_order[n] = double(n);
              return in_order;
            }(),
        "the contiguous copy is read at positions 0, 1, 2, ... in order");
  }

  std::printf(
      "\nWhat to notice: transpose, select, slice and expand only change shape, strides\n"
      "and offset; only contiguous() (or reshape() when it must) copies. Broadcasting\n"
      "compares sizes from the right, and a size that matches by accident can hide a bug.\n");
  tutorial::print_answer(
      kQuestion,
      "x [" + std::to_string(rows) + ", " + std::to_string(cols) + "] has strides [" +
          std::to_string(cols) + ", 1]; its transpose shares the storage with strides [1, " +
          std::to_string(cols) + "]\n(a write through it was seen through x). contiguous() "
          "copied it to new row-major memory,\nview() refused the transposed tensor and reshape() "
          "copied. The broadcasting rule written\nby hand predicted all " +
          std::to_string(cases.size()) + " result shapes and failures, and [B, Tq, Tk] + [B, Tk] "
          "ran silently\nwrong when Tq == B.");
  return checks.finish();
} catch (...) {
  return tutorial::report_error();
}
