// Mixed-precision training: the GradScaler's state machine against its rules worked out by
// hand, and one step of MixedPrecision on a Linear layer against the same step written out with
// plain loops (inputs, weights, outputs and gradients rounded where 16-bit storage rounds them).
#include <cmath>
#include <limits>

#include "llm/mixed_precision.hpp"
#include "tests/helpers.hpp"

using namespace llm;
using autograd::Tensor;
using testing::error_message;
using testing::values;
using tensor::DType;

namespace {

Tensor leaf(std::vector<float> v) { return Tensor(tensor::from_vector(v), true); }

void set_grad(Tensor& p, std::vector<float> g) { p.set_grad(tensor::from_vector(g)); }

// The fp16 value nearest to x, for the values these tests use (normal range, or exactly
// representable, or far below the smallest subnormal): written out with frexp, independently of
// the bit code under test. Ties do not occur in these tests.
double fp16_nearest_simple(double x) {
  if (x == 0 || std::fabs(x) < std::ldexp(1.0, -26)) return 0.0 * x;
  if (std::fabs(x) >= 65520) return std::copysign(INFINITY, x);
  int e;
  std::frexp(std::fabs(x), &e);  // |x| in [2^(e-1), 2^e)
  const double ulp = std::ldexp(1.0, std::max(e - 1, -14) - 10);
  return std::copysign(std::nearbyint(std::fabs(x) / ulp) * ulp, x);
}

}  // namespace

TEST_SUITE("mixed precision") {
  TEST_CASE("GradScaler has torch.cuda.amp.GradScaler's defaults") {
    GradScaler scaler;
    CHECK(scaler.get_scale() == 65536.0);
    CHECK(scaler.options().growth_factor == 2.0);
    CHECK(scaler.options().backoff_factor == 0.5);
    CHECK(scaler.options().growth_interval == 2000);
    Tensor loss(tensor::from_vector(std::vector<float>{0.25f}).view({}), true);
    CHECK(scaler.scale(loss).item() == 0.25 * 65536);
    CHECK(error_message([] { GradScaler bad({.backoff_factor = 1.5}); }).find("GradScaler") == 0);
  }

  TEST_CASE("GradScaler: unscales, skips and halves on inf/NaN, grows after N good steps") {
    Tensor p = leaf({1, 2});
    nn::SGD sgd({p}, 1.0);
    GradScaler scaler({.init_scale = 8, .growth_factor = 2, .backoff_factor = 0.5,
                       .growth_interval = 3});
    // a good step: the gradient is divided by 8 before SGD (lr 1) uses it
    set_grad(p, {8, 16});
    CHECK(scaler.step(sgd));
    scaler.update();
    CHECK(values(p) == std::vector<double>{0, 0});
    CHECK(values(p.grad()) == std::vector<double>{1, 2});
    CHECK(scaler.get_scale() == 8);
    CHECK(scaler.good_steps_in_a_row() == 1);
    // two more good steps: the third in a row doubles the scale
    for (int i = 0; i < 2; ++i) {
      set_grad(p, {8, 8});
      CHECK(scaler.step(sgd));
      scaler.update();
    }
    CHECK(values(p) == std::vector<double>{-2, -2});
    CHECK(scaler.get_scale() == 16);
    CHECK(scaler.good_steps_in_a_row() == 0);
    // inf: skipped, the weights untouched, the scale halved, the run of good steps restarted
    set_grad(p, {16, 16});
    CHECK(scaler.step(sgd));
    scaler.update();
    CHECK(scaler.good_steps_in_a_row() == 1);
    set_grad(p, {INFINITY, 16});
    CHECK_FALSE(scaler.step(sgd));
    scaler.update();
    CHECK(values(p) == std::vector<double>{-3, -3});
    CHECK(scaler.get_scale() == 8);
    CHECK(scaler.skipped_steps() == 1);
    CHECK(scaler.good_steps_in_a_row() == 0);
    // NaN too
    set_grad(p, {8, std::numeric_limits<float>::quiet_NaN()});
    CHECK_FALSE(scaler.step(sgd));
    scaler.update();
    CHECK(scaler.get_scale() == 4);
    CHECK(scaler.skipped_steps() == 2);
    CHECK(values(p) == std::vector<double>{-3, -3});
    // growth needs 3 good steps counted from the last skip
    for (int i = 0; i < 2; ++i) {
      set_grad(p, {4, 4});
      CHECK(scaler.step(sgd));
      scaler.update();
      CHECK(scaler.get_scale() == 4);
    }
    set_grad(p, {4, 4});
    CHECK(scaler.step(sgd));
    scaler.update();
    CHECK(scaler.get_scale() == 8);
    CHECK(values(p) == std::vector<double>{-6, -6});
  }

  TEST_CASE("a disabled GradScaler leaves the loss alone and always steps") {
    Tensor p = leaf({1});
    nn::SGD sgd({p}, 1.0);
    GradScaler scaler({.enabled = false});
    CHECK(scaler.get_scale() == 1);
    Tensor loss(tensor::from_vector(std::vector<float>{3}).view({}), true);
    CHECK(scaler.scale(loss).item() == 3);
    set_grad(p, {2});
    CHECK(scaler.step(sgd));
    scaler.update();
    CHECK(values(p) == std::vector<double>{-1});
  }

  TEST_CASE("rounded_sequential puts a RoundTo around every layer; set_precision reaches them") {
    tensor::Generator gen(1);
    auto model = rounded_sequential({std::make_shared<nn::Linear>(3, 4, true, gen),
                                     std::make_shared<nn::ReLU>(),
                                     std::make_shared<nn::Linear>(4, 2, true, gen)});
    CHECK(model->size() == 7);
    CHECK(model->named_parameters()[0].first == "1.weight");
    CHECK(set_precision(*model, Precision::Float16) == 4);
    CHECK(dynamic_cast<RoundTo&>((*model)[6]).precision == Precision::Float16);
    CHECK(parse_precision("bf16") == Precision::Bfloat16);
    CHECK(error_message([] { parse_precision("fp8"); }) ==
          "unknown precision 'fp8' (expected fp32, bf16 or fp16)");
    // RoundTo: forward and backward both rounded (fp32: the identity)
    Tensor x = leaf({1.0f + 1.0f / 4096, 1e-9f});
    RoundTo cast(Precision::Float16);
    Tensor y = cast(x);
    CHECK(values(y) == std::vector<double>{1.0, 0.0});
    y.backward(Tensor(tensor::from_vector(std::vector<float>{std::ldexp(1.0f, -26), 3.0f})));
    CHECK(values(x.grad()) == std::vector<double>{0.0, 3.0});
    Tensor z = RoundTo(Precision::Float32)(x);
    CHECK(values(z) == values(x));
  }

  // One step of y = x W^T + b, loss = sum(y * c), SGD, written out by hand:
  //   xr = fp16(x), Wr = fp16(W), br = fp16(b)           (the RoundTo on the input; the weights)
  //   the scaled loss's gradient at y is c * S, rounded by the RoundTo after the Linear: gy
  //   dW = fp16(gy^T xr), db = fp16(sum gy)                (16-bit weight gradients)
  //   W -= lr * dW / S in float32 on the master
  TEST_CASE("MixedPrecision: one fp16 step equals the step written out with plain loops") {
    const std::vector<float> x = {1, 2, -3, 0.5f, 4, -1};  // [2, 3]
    const std::vector<float> w = {1.0f + 1.0f / 4096, 0.3f, -0.7f, 2.0f, -1.5f, 0.001f};  // [2, 3]
    const std::vector<float> b = {0.1f, -0.2f};
    // c: ordinary values, one that underflows fp16 even when scaled, one that survives only
    // when scaled
    const std::vector<float> c = {0.25f, std::ldexp(1.0f, -40), std::ldexp(3.0f, -28), -0.5f};
    for (double scale : {1.0, 1024.0}) {
      CAPTURE(scale);
      tensor::Generator gen(2);
      auto linear = std::make_shared<nn::Linear>(3, 2, true, gen);
      linear->weight.set_data(tensor::from_vector(w, {2, 3}));
      linear->bias.set_data(tensor::from_vector(b));
      auto model = rounded_sequential({linear});
      MixedPrecision mixed(*model, Precision::Float16);
      const double lr = 0.5;
      nn::SGD sgd(mixed.master_parameters(), lr);
      GradScaler scaler({.init_scale = scale, .enabled = scale != 1.0});

      mixed.begin_step();
      for (int i = 0; i < 6; ++i)  // the working weights are the rounded masters
        CHECK(linear->weight.data().to_vector<double>()[i] == fp16_nearest_simple(w[i]));
      Tensor input(tensor::from_vector(x, {2, 3}));
      Tensor y = (*model)(input);
      Tensor loss = autograd::sum(y * Tensor(tensor::from_vector(c, {2, 2})));
      scaler.scale(loss).backward();
      CHECK(mixed.step(sgd, scaler));

      // the same by hand
      double xr[2][3], wr[2][3], gy[2][2];
      for (int i = 0; i < 2; ++i)
        for (int k = 0; k < 3; ++k) {
          xr[i][k] = fp16_nearest_simple(x[i * 3 + k]);
          wr[i][k] = fp16_nearest_simple(w[i * 3 + k]);
        }
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) gy[i][j] = fp16_nearest_simple(double(c[i * 2 + j]) * scale);
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {  // the forward output, rounded
          double sum = fp16_nearest_simple(b[j]);
          for (int k = 0; k < 3; ++k) sum += xr[i][k] * wr[j][k];
          CHECK(y.at({i, j}) == doctest::Approx(fp16_nearest_simple(sum)).epsilon(1e-6));
        }
      const std::vector<double> new_w = values(mixed.master_parameters()[0]);
      const std::vector<double> new_b = values(mixed.master_parameters()[1]);
      for (int j = 0; j < 2; ++j) {
        double db = 0;
        for (int i = 0; i < 2; ++i) db += gy[i][j];
        db = fp16_nearest_simple(db);
        CHECK(new_b[j] == doctest::Approx(double(b[j]) - lr * db / scale).epsilon(1e-7));
        for (int k = 0; k < 3; ++k) {
          double dw = 0;
          for (int i = 0; i < 2; ++i) dw += gy[i][j] * xr[i][k];
          dw = fp16_nearest_simple(dw);
          CHECK(new_w[j * 3 + k] ==
                doctest::Approx(double(w[j * 3 + k]) - lr * dw / scale).epsilon(1e-7));
        }
      }
      // c[2] * S survives fp16 only with the scale: with S = 1 the gradient at y[1][0] is 0
      if (scale == 1.0) CHECK(gy[1][0] == 0.0);
      else CHECK(gy[1][0] != 0.0);
      // (the reference starts from the float32 w: 1 + 2^-12, which fp16 rounds to 1 in the
      // working copy, is still in the master, and the check above would see it lost)
    }
  }

  TEST_CASE("MixedPrecision: an fp16 gradient overflowing to inf skips the step and halves S") {
    auto linear = std::make_shared<nn::Linear>(1, 1, false);
    linear->weight.set_data(tensor::from_vector(std::vector<float>{0.5f}, {1, 1}));
    auto model = rounded_sequential({linear});
    MixedPrecision mixed(*model, Precision::Float16);
    nn::SGD sgd(mixed.master_parameters(), 0.1);
    GradScaler scaler({.init_scale = std::ldexp(1.0, 17)});  // 2^17 > 65504
    mixed.begin_step();
    Tensor loss = autograd::sum((*model)(Tensor(tensor::from_vector(std::vector<float>{1}, {1, 1}))));
    scaler.scale(loss).backward();
    CHECK_FALSE(mixed.step(sgd, scaler));
    CHECK(values(mixed.master_parameters()[0]) == std::vector<double>{0.5});
    CHECK(scaler.get_scale() == std::ldexp(1.0, 16));
    CHECK(scaler.skipped_steps() == 1);
    // 2^16 = 65536 is still above 65504 (inf again); 2^15 fits
    mixed.begin_step();
    scaler.scale(autograd::sum((*model)(Tensor(tensor::from_vector(std::vector<float>{1}, {1, 1})))))
        .backward();
    CHECK_FALSE(mixed.step(sgd, scaler));
    CHECK(scaler.get_scale() == std::ldexp(1.0, 15));
    mixed.begin_step();
    scaler.scale(autograd::sum((*model)(Tensor(tensor::from_vector(std::vector<float>{1}, {1, 1})))))
        .backward();
    CHECK(mixed.step(sgd, scaler));
    CHECK(values(mixed.master_parameters()[0])[0] == doctest::Approx(0.5 - 0.1).epsilon(1e-7));
    // bf16 has float32's range: 2^17 is no problem there
    MixedPrecision mixed_bf16(*model, Precision::Bfloat16);
    nn::SGD sgd_bf16(mixed_bf16.master_parameters(), 0.1);
    GradScaler scaler_bf16({.init_scale = std::ldexp(1.0, 17)});
    mixed_bf16.begin_step();
    scaler_bf16.scale(autograd::sum((*model)(Tensor(tensor::from_vector(std::vector<float>{1}, {1, 1})))))
        .backward();
    CHECK(mixed_bf16.step(sgd_bf16, scaler_bf16));
  }
}
