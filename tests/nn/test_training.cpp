// Proof that it trains: XOR to ~0 loss, and two interleaved spirals to >= 95% accuracy,
// deterministically for a fixed seed.
#include <cmath>

#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using namespace nn;

TEST_CASE("an MLP learns XOR to near-zero loss") {
  Generator gen(0);
  Sequential mlp({std::make_shared<Linear>(2, 8, true, gen), std::make_shared<ReLU>(),
                  std::make_shared<Linear>(8, 1, true, gen)});
  Tensor x(tensor::from_rows({{0, 0}, {0, 1}, {1, 0}, {1, 1}}));
  Tensor y(tensor::from_rows({{0}, {1}, {1}, {0}}));
  Adam opt(mlp.parameters(), 0.05);
  double loss_value = 1;
  for (int step = 0; step < 600; ++step) {
    Tensor loss = autograd::binary_cross_entropy_with_logits(mlp(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    loss_value = loss.item();
  }
  CHECK(loss_value < 0.01);
  std::vector<double> logits = testing::values(mlp(x));
  CHECK(logits[0] < 0);
  CHECK(logits[1] > 0);
  CHECK(logits[2] > 0);
  CHECK(logits[3] < 0);
}

namespace {
// Two spirals, one per class, with a little noise: [2n, 2] points and [2n] labels.
std::pair<Tensor, Tensor> two_spirals(int n, Generator& gen) {
  std::vector<float> points;
  std::vector<std::int64_t> labels;
  std::vector<double> noise = testing::values(tensor::normal({4 * n}, 0, 0.05, gen));
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < n; ++i) {
      double r = 0.1 + 0.9 * i / n, angle = 3.5 * 3.14159265 * i / n + c * 3.14159265;
      points.push_back(float(r * std::cos(angle) + noise[(c * n + i) * 2]));
      points.push_back(float(r * std::sin(angle) + noise[(c * n + i) * 2 + 1]));
      labels.push_back(c);
    }
  return {Tensor(tensor::from_vector(points, {2 * n, 2})), Tensor(tensor::from_vector(labels))};
}

// Trains a fresh classifier and returns (final accuracy, loss history).
std::pair<double, std::vector<double>> train_spirals(std::uint64_t seed) {
  Generator gen(seed);
  auto [x, y] = two_spirals(200, gen);
  Sequential model({std::make_shared<Linear>(2, 64, true, gen), std::make_shared<ReLU>(),
                    std::make_shared<Linear>(64, 64, true, gen), std::make_shared<ReLU>(),
                    std::make_shared<Linear>(64, 2, true, gen)});
  Adam opt(model.parameters(), 0.01);
  std::vector<double> losses;
  for (int step = 0; step < 1000; ++step) {
    Tensor loss = autograd::cross_entropy(model(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    losses.push_back(loss.item());
  }
  autograd::NoGradGuard no_grad;
  std::vector<std::int64_t> predicted = autograd::argmax(model(x), 1).to_vector<std::int64_t>();
  std::vector<std::int64_t> truth = y.to_vector<std::int64_t>();
  int correct = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  return {double(correct) / truth.size(), losses};
}
}  // namespace

TEST_CASE("a classifier separates two spirals with >= 95% accuracy, deterministically") {
  auto [accuracy, losses] = train_spirals(7);
  INFO("accuracy " << accuracy << ", final loss " << losses.back());
  CHECK(accuracy >= 0.95);
  auto [again, losses_again] = train_spirals(7);
  CHECK(again == accuracy);
  CHECK(losses_again == losses);  // bit for bit
}
