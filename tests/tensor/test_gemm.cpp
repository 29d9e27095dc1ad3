// The fast packed GEMM (tensor/cpu/gemm.cpp) against an exact product computed here in double
// with a plain loop, and against matmul_reference, the plain kernel it replaces.
//
// How close is close enough: every output element is a sum of K products. In float32 each FMA
// rounds with relative error at most eps/2 (eps = 2^-23 ~ 1.2e-7); those rounding errors have
// random signs, so they grow like sqrt(K), not K (Higham & Mary, "A new approach to
// probabilistic rounding error analysis", 2019), and each is at most eps/2 of a partial sum,
// itself at most sum_k |a_ik b_kj|. We allow
//     |got - exact| <= 2 * sqrt(K) * eps * sum_k |a_ik b_kj|
// which leaves a wide margin for the blocked summation order (the largest error measured on
// these inputs is 13% of it at K = 33 and under 1% at K = 1100), and is still far below the
// error of one missing or doubled product (~|a_ik b_kj|, about sum/K): a kernel that drops the
// last row of a tile or adds a panel twice fails by orders of magnitude.
#include <omp.h>

#include <array>
#include <cmath>
#include <limits>

#include "tensor/cpu/gemm.hpp"
#include "tensor/cpu/matmul_reference.hpp"
#include "tests/helpers.hpp"

using namespace tensor;
using testing::values;

namespace {

// The exact product of a [batch..., M, K] and b [batch..., K, N] (same batch shape), element by
// element, with the scale sum_k |a_ik b_kj| of each element's rounding error.
struct ExactProduct {
  std::vector<double> value, scale;
  std::int64_t K;
};

ExactProduct exact_matmul(const Array& a, const Array& b) {
  const std::int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  const std::int64_t batches = M * K == 0 ? 0 : a.numel() / (M * K);
  const std::vector<double> av = values(a), bv = values(b);  // row-major, any layout
  ExactProduct exact{std::vector<double>(batches * M * N), std::vector<double>(batches * M * N), K};
  for (std::int64_t batch = 0; batch < batches; ++batch)
    for (std::int64_t i = 0; i < M; ++i)
      for (std::int64_t j = 0; j < N; ++j) {
        double sum = 0, abs_sum = 0;
        for (std::int64_t k = 0; k < K; ++k) {
          double product = av[(batch * M + i) * K + k] * bv[(batch * K + k) * N + j];
          sum += product;
          abs_sum += std::fabs(product);
        }
        exact.value[(batch * M + i) * N + j] = sum;
        exact.scale[(batch * M + i) * N + j] = abs_sum;
      }
  return exact;
}

double machine_epsilon(DType dtype) {
  return dtype == DType::Float32 ? std::numeric_limits<float>::epsilon()
                                 : std::numeric_limits<double>::epsilon();
}

// CHECKs every element of `got` against the exact product within the accumulation bound above.
void check_product(const Array& got, const ExactProduct& exact) {
  const std::vector<double> g = values(got);
  REQUIRE(g.size() == exact.value.size());
  const double eps = machine_epsilon(got.dtype());
  const double factor = 2 * std::sqrt(double(std::max<std::int64_t>(exact.K, 1))) * eps;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double tolerance = factor * exact.scale[i];
    if (!(std::fabs(g[i] - exact.value[i]) <= tolerance)) {
      INFO("element " << i << " of shape " << shape_str(got.shape()) << ": got " << g[i]
                      << ", exact " << exact.value[i] << ", tolerance " << tolerance);
      CHECK(false);
      return;
    }
  }
}

// out = gemm(a, b) into a fresh contiguous array of the right shape.
Array run_gemm(const Array& a, const Array& b) {
  Shape shape = a.shape();
  shape.back() = b.size(-1);
  Array out(shape, a.dtype());
  cpu::gemm(a, b, out);
  return out;
}

Array run_reference(const Array& a, const Array& b) {
  Shape shape = a.shape();
  shape.back() = b.size(-1);
  Array out(shape, a.dtype());
  cpu::matmul_reference(a, b, out);
  return out;
}

// Sizes around every tile edge: the AVX-512 tile is 12 x 32 for float and 12 x 16 for double
// (6 x 16 and 6 x 8 with AVX2), so 1, 7, 15, 17, 31, 33 and 100 leave partial tiles of many
// shapes.
const std::int64_t kOddSizes[] = {1, 7, 12, 15, 17, 31, 33, 100};

}  // namespace

TEST_SUITE("gemm") {
  TEST_CASE("gemm matches the exact product for every mix of odd sizes, float32 and float64") {
    Generator gen(11);
    for (DType dtype : {DType::Float32, DType::Float64})
      for (std::int64_t M : kOddSizes)
        for (std::int64_t N : kOddSizes)
          for (std::int64_t K : kOddSizes) {
            CAPTURE(dtype_name(dtype));
            CAPTURE(M);
            CAPTURE(N);
            CAPTURE(K);
            Array a = uniform({M, K}, -1, 1, gen, dtype), b = uniform({K, N}, -1, 1, gen, dtype);
            check_product(run_gemm(a, b), exact_matmul(a, b));
          }
  }

  TEST_CASE("gemm crosses the kc, mc and nc block edges, on one thread and on all") {
    // K > kc (256 with AVX-512, 512 with AVX2, 1024 scalar) makes later K slices add to C
    // instead of writing it; M > mc (192 float rows or fewer) packs A in several blocks; N > nc
    // (4096) packs B in several blocks. On one thread every block edge is crossed; with more,
    // each thread's share may fit in one block.
    struct Case {
      std::int64_t M, N, K;
    };
    Generator gen(12);
    const int threads = omp_get_max_threads();
    for (int run_threads : {1, threads}) {
      omp_set_num_threads(run_threads);
      for (DType dtype : {DType::Float32, DType::Float64})
        for (Case c : {Case{257, 100, 300}, Case{33, 65, 600}, Case{50, 40, 1100},
                       Case{1400, 20, 9}, Case{700, 17, 200}, Case{13, 4200, 7}}) {
          CAPTURE(run_threads);
          CAPTURE(dtype_name(dtype));
          CAPTURE(c.M);
          CAPTURE(c.N);
          CAPTURE(c.K);
          Array a = uniform({c.M, c.K}, -1, 1, gen, dtype);
          Array b = uniform({c.K, c.N}, -1, 1, gen, dtype);
          check_product(run_gemm(a, b), exact_matmul(a, b));
        }
    }
    omp_set_num_threads(threads);
  }

  TEST_CASE("gemm and matmul_reference agree within the float32 bound on a large product") {
    Generator gen(13);
    Array a = uniform({257, 300}, -1, 1, gen), b = uniform({300, 129}, -1, 1, gen);
    ExactProduct exact = exact_matmul(a, b);
    check_product(run_gemm(a, b), exact);
    check_product(run_reference(a, b), exact);
  }

  TEST_CASE("gemm reads transposed and strided operands and writes a strided output") {
    Generator gen(14);
    for (DType dtype : {DType::Float32, DType::Float64})
      for (auto [M, N, K] :
           {std::array<std::int64_t, 3>{37, 45, 29}, std::array<std::int64_t, 3>{130, 70, 200},
            std::array<std::int64_t, 3>{12, 32, 16}}) {
        CAPTURE(dtype_name(dtype));
        CAPTURE(M);
        CAPTURE(N);
        CAPTURE(K);
        Array a = uniform({M, K}, -1, 1, gen, dtype), b = uniform({K, N}, -1, 1, gen, dtype);
        ExactProduct exact = exact_matmul(a, b);
        // Column-major copies: the transposes of contiguous [K, M] and [N, K] arrays.
        Array a_t = a.t().contiguous().t(), b_t = b.t().contiguous().t();
        REQUIRE(a_t.strides()[0] == 1);
        REQUIRE(b_t.strides()[0] == 1);
        // Neither stride 1: every other row and column of a twice-as-large array.
        Array a_big = zeros({2 * M, 2 * K}, dtype), b_big = zeros({2 * K, 2 * N}, dtype);
        Array a_s = a_big.slice(0, 0, 2 * M, 2).slice(1, 1, 2 * K, 2);
        Array b_s = b_big.slice(0, 1, 2 * K, 2).slice(1, 0, 2 * N, 2);
        a_s.copy_(a);
        b_s.copy_(b);
        for (const Array& a_view : {a, a_t, a_s})
          for (const Array& b_view : {b, b_t, b_s}) {
            CAPTURE(shape_str(a_view.strides()));
            CAPTURE(shape_str(b_view.strides()));
            check_product(run_gemm(a_view, b_view), exact);
            // Output as a transposed view: C's columns are contiguous.
            Array out_t = Array({N, M}, dtype).t();
            cpu::gemm(a_view, b_view, out_t);
            check_product(out_t, exact);
            // Output with gaps between rows and columns; the gaps must stay untouched.
            Array out_big = full({M, 2 * N + 1}, 7.0, dtype);
            Array out_s = out_big.slice(1, 1, 2 * N + 1, 2);
            cpu::gemm(a_view, b_view, out_s);
            check_product(out_s, exact);
            std::vector<double> gaps = values(out_big.slice(1, 0, 2 * N + 1, 2));
            CHECK(std::all_of(gaps.begin(), gaps.end(), [](double v) { return v == 7.0; }));
          }
      }
  }

  TEST_CASE("gemm over broadcast batch dims (stride 0) and many small matrices") {
    Generator gen(15);
    for (DType dtype : {DType::Float32, DType::Float64}) {
      CAPTURE(dtype_name(dtype));
      // a: [3, 1, M, K] broadcast to [3, 4, M, K]; b: [4, K, N] broadcast to [3, 4, K, N].
      const std::int64_t M = 19, N = 35, K = 23;
      Array a = uniform({3, 1, M, K}, -1, 1, gen, dtype).expand({3, 4, M, K});
      Array b = uniform({4, K, N}, -1, 1, gen, dtype).expand({3, 4, K, N});
      REQUIRE(a.strides()[1] == 0);
      REQUIRE(b.strides()[0] == 0);
      check_product(run_gemm(a, b), exact_matmul(a, b));
      // Attention-shaped: scores = q @ k^T over many heads, then weights @ v.
      Array q = uniform({2, 3, 40, 16}, -1, 1, gen, dtype);
      Array k = uniform({2, 3, 40, 16}, -1, 1, gen, dtype);
      Array k_t = k.transpose(-2, -1);
      check_product(run_gemm(q, k_t), exact_matmul(q, k_t));
      Array weights = uniform({2, 3, 40, 40}, 0, 1, gen, dtype);
      check_product(run_gemm(weights, k), exact_matmul(weights, k));
      // Fewer matrices than threads, and an odd count: stripes inside each matrix.
      Array a3 = uniform({3, 100, 70}, -1, 1, gen, dtype),
            b3 = uniform({3, 70, 130}, -1, 1, gen, dtype);
      check_product(run_gemm(a3, b3), exact_matmul(a3, b3));
    }
  }

  TEST_CASE("tall-skinny products (weight gradients) cut along K: exact, strided, same bits") {
    // K >= 2048 and K >= 2 max(M, N): the product is cut into slices of K (at least 1024 each)
    // whose partials are added in order (gemm.cpp, section 6). The weight-gradient layout x^T g
    // reads A through a transposed view; the output may be strided. K = 3000 makes 2 slices of
    // uneven length, 4100 four, 8200 eight; K = 2047 is one short of slicing.
    struct Case {
      std::int64_t M, N, K;
    };
    Generator gen(21);
    const int threads = omp_get_max_threads();
    for (DType dtype : {DType::Float32, DType::Float64})
      for (Case c : {Case{128, 512, 2048}, Case{37, 45, 3000}, Case{12, 32, 4100},
                     Case{1, 1, 8200}, Case{300, 7, 2047}}) {
        CAPTURE(dtype_name(dtype));
        CAPTURE(c.M);
        CAPTURE(c.N);
        CAPTURE(c.K);
        Array x = uniform({c.K, c.M}, -1, 1, gen, dtype);  // [rows, in]
        Array g = uniform({c.K, c.N}, -1, 1, gen, dtype);  // [rows, out]
        Array a = x.transpose(0, 1);                        // [in, rows], a view
        const ExactProduct exact = exact_matmul(a, g);
        omp_set_num_threads(1);
        Array one = run_gemm(a, g);
        omp_set_num_threads(std::max(threads, 2));
        Array all = run_gemm(a, g);
        // Into every other column of a wider array: a strided C.
        Array wide({c.M, 2 * c.N}, dtype);
        Array strided = wide.slice(1, 0, 2 * c.N, 2);
        cpu::gemm(a, g, strided);
        // The epilogue on the sliced path: the bias is added after every slice's partial (the
        // bits of a separate add), and the row sums of A add up the slices' sums.
        Array bias = uniform({c.N}, -1, 1, gen, dtype);
        Array row_sums({c.M}, dtype), with_bias({c.M, c.N}, dtype);
        cpu::gemm(a, g, with_bias, {.bias = bias, .a_row_sums = row_sums});
        omp_set_num_threads(threads);
        check_product(one, exact);
        CHECK(values(one) == values(all));
        CHECK(values(one) == values(strided));
        CHECK(values(with_bias) == values(add(one, bias)));
        std::vector<double> expected_sums(c.M, 0.0);
        const std::vector<double> xv = values(x);
        for (std::int64_t k = 0; k < c.K; ++k)
          for (std::int64_t i = 0; i < c.M; ++i) expected_sums[i] += xv[k * c.M + i];
        testing::check_close(values(row_sums), expected_sums,
                             dtype == DType::Float32 ? 1e-6 : 1e-13, 1e-6);
      }
  }

  TEST_CASE("gemm edge cases: M, N or K of 0 or 1") {
    Generator gen(16);
    for (DType dtype : {DType::Float32, DType::Float64}) {
      CAPTURE(dtype_name(dtype));
      // K = 0: an empty sum, every element 0 (out starts as garbage: full of 5).
      Array out = full({3, 4}, 5.0, dtype);
      cpu::gemm(zeros({3, 0}, dtype), zeros({0, 4}, dtype), out);
      CHECK(values(out) == std::vector<double>(12, 0.0));
      // M = 0 or N = 0: nothing to write, nothing read.
      Array empty_rows({0, 4}, dtype), empty_cols({3, 0}, dtype);
      cpu::gemm(zeros({0, 5}, dtype), zeros({5, 4}, dtype), empty_rows);
      cpu::gemm(zeros({3, 5}, dtype), zeros({5, 0}, dtype), empty_cols);
      Array no_batches({0, 3, 4}, dtype);
      cpu::gemm(zeros({0, 3, 5}, dtype), zeros({0, 5, 4}, dtype), no_batches);
      // 1 x K x N (a row vector times a matrix), M x K x 1, M x 1 x N (an outer product), 1x1x1.
      for (auto [M, N, K] :
           {std::array<std::int64_t, 3>{1, 300, 50}, std::array<std::int64_t, 3>{300, 1, 50},
            std::array<std::int64_t, 3>{40, 70, 1}, std::array<std::int64_t, 3>{1, 1, 1}}) {
        CAPTURE(M);
        CAPTURE(N);
        CAPTURE(K);
        Array a = uniform({M, K}, -1, 1, gen, dtype), b = uniform({K, N}, -1, 1, gen, dtype);
        check_product(run_gemm(a, b), exact_matmul(a, b));
      }
    }
  }

  TEST_CASE("gemm gives bitwise the same result on 1 thread and on all threads") {
    // Threads split the output at tile edges and each element sums its products in the same
    // order, so the threading must not change a single bit.
    Generator gen(17);
    Array a = uniform({300, 260}, -1, 1, gen), b = uniform({260, 200}, -1, 1, gen);
    Array batched_a = uniform({3, 64, 50}, -1, 1, gen),
          batched_b = uniform({3, 50, 90}, -1, 1, gen);
    // Few rows, many columns: the threads split the columns instead of the rows.
    Array wide_a = uniform({20, 100}, -1, 1, gen), wide_b = uniform({100, 3000}, -1, 1, gen);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    Array one = run_gemm(a, b), one_batched = run_gemm(batched_a, batched_b);
    Array one_wide = run_gemm(wide_a, wide_b);
    omp_set_num_threads(std::max(threads, 2));
    Array all = run_gemm(a, b), all_batched = run_gemm(batched_a, batched_b);
    Array all_wide = run_gemm(wide_a, wide_b);
    omp_set_num_threads(threads);
    CHECK(values(one) == values(all));
    CHECK(values(one_batched) == values(all_batched));
    CHECK(values(one_wide) == values(all_wide));
    check_product(all_wide, exact_matmul(wide_a, wide_b));
  }

  TEST_CASE("matmul picks gemm or the reference and both paths stay right, int64 included") {
    Generator gen(18);
    CHECK_FALSE(cpu::gemm_pays_off(1, 16, 1000));  // 1 row and 16 columns of a 12 x 32 tile
    CHECK_FALSE(cpu::gemm_pays_off(100, 100, 1));  // an outer product: nothing to sum
    CHECK(cpu::gemm_pays_off(256, 256, 256));
    CHECK_FALSE(cpu::gemm_kernel_name().empty());
    for (auto [M, N, K] :
         {std::array<std::int64_t, 3>{2, 3, 4}, std::array<std::int64_t, 3>{64, 64, 64},
          std::array<std::int64_t, 3>{1, 64, 64}}) {
      Array a = uniform({M, K}, -1, 1, gen), b = uniform({K, N}, -1, 1, gen);
      check_product(matmul(a, b), exact_matmul(a, b));
    }
    Array ia = randint(-5, 5, {20, 30}, gen), ib = randint(-5, 5, {30, 40}, gen);
    ExactProduct exact = exact_matmul(ia, ib);
    CHECK(values(matmul(ia, ib)) == exact.value);  // integers: exact
    CHECK(testing::error_message([] {
            Array i64({2, 2}, DType::Int64);
            cpu::gemm(i64, i64, i64);
          }).find("gemm: expected float32 or float64") != std::string::npos);
  }

}  // TEST_SUITE("gemm")
