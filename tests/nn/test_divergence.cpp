// Training that diverges stops and keeps the last good checkpoint; a resumed run checks every
// key it reads back; optimizer state from a file is finite and a valid step count.
#include <unistd.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "nn/checkpoint.hpp"
#include "nn/divergence.hpp"
#include "nn/nn.hpp"
#include "tensor/finite.hpp"
#include "tests/helpers.hpp"

using namespace nn;
using testing::check_contains;
using testing::error_message;
using testing::read_bytes;
using testing::TempDir;

namespace {

std::shared_ptr<Sequential> make_two_layer_mlp(std::uint64_t seed) {
  Generator gen(seed);
  return std::make_shared<Sequential>(std::vector<std::shared_ptr<UnaryModule>>{
      std::make_shared<Linear>(4, 16, true, gen), std::make_shared<ReLU>(),
      std::make_shared<Linear>(16, 2, true, gen)});
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The training loop every tutorial runs, reduced to its parts: forward, backward, the guard,
// the update, a checkpoint after every step. `batch_at(step)` gives the (inputs, targets) of
// each step.
// Returns the step that stopped it (0 when none did) and leaves `last_saved` holding the bytes
// of the last checkpoint written.
struct RunResult {
  std::int64_t stopped_at = 0;
  std::string message;
  std::vector<double> losses;
  std::string last_saved;
};

RunResult train(const std::string& path, double lr, std::int64_t steps,
                const std::function<std::pair<Tensor, Tensor>(std::int64_t)>& batch_at) {
  RunResult result;
  auto model = make_two_layer_mlp(1);
  SGD optimizer(model->parameters(), lr);
  DivergenceGuard guard("try a lower lr");
  try {
    for (std::int64_t step = 1; step <= steps; ++step) {
      auto [x, y] = batch_at(step);
      Tensor loss = autograd::mse_loss((*model)(x), y);
      optimizer.zero_grad();
      loss.backward();
      guard.check(step, loss.item(), grad_norm(model->parameters()));
      optimizer.step();
      result.losses.push_back(loss.item());
      save_checkpoint(path, *model, &optimizer, {{"step", std::to_string(step)}});
      result.last_saved = read_bytes(path);
    }
  } catch (const TrainingDiverged& stop) {
    result.stopped_at = stop.step();
    result.message = stop.what();
  }
  return result;
}

}  // namespace

TEST_SUITE("nn") {
  TEST_CASE("divergence: an injected NaN stops training and the last checkpoint stays as it was") {
    TempDir dir;
    std::string path = dir.file("checkpoint.safetensors");
    Generator gen(4);
    Tensor x(tensor::randn({8, 4}, gen)), y(tensor::randn({8, 2}, gen));
    Tensor poisoned(y.data().clone());
    poisoned.data().fill_(kNaN);  // a NaN target: the loss itself is NaN at step 4
    RunResult run = train(path, 0.01, 10, [&](std::int64_t step) {
      return std::pair{x, step == 4 ? poisoned : y};
    });
    REQUIRE(run.stopped_at == 4);
    REQUIRE(run.losses.size() == 3);
    char last[32];
    std::snprintf(last, sizeof last, "%.6g", run.losses.back());
    CHECK(run.message ==
          "training diverged at step 4: the loss is nan (the last finite loss was " +
              std::string(last) +
              ", at step 3); the weights were not updated with it and no checkpoint is written "
              "from it. try a lower lr; anomaly mode (autograd::DetectAnomaly) finds the op that "
              "made the first NaN or inf");
    // On disk: the checkpoint of step 3, byte for byte, and nothing else (no temporary).
    CHECK(read_bytes(path) == run.last_saved);
    CHECK(load_safetensors(path).metadata.at("step") == "3");
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path), {}) == 1);

    // NaN inputs: ReLU turns them into 0, so the loss stays finite, but the first layer's weight
    // gradient (inputs^T @ upstream gradient) is NaN. The gradient norm catches it.
    Tensor nan_inputs(x.data().clone());
    nan_inputs.data().fill_(kNaN);
    std::string other = dir.file("other.safetensors");
    RunResult by_gradient = train(other, 0.01, 10, [&](std::int64_t step) {
      return std::pair{step == 2 ? nan_inputs : x, y};
    });
    CHECK(by_gradient.stopped_at == 2);
    check_contains(by_gradient.message, "at step 2: the gradient norm is nan (the loss, ");
    CHECK(read_bytes(other) == by_gradient.last_saved);
  }

  TEST_CASE("divergence: a learning rate far too high stops with the step and the last finite loss") {
    TempDir dir;
    std::string path = dir.file("checkpoint.safetensors");
    Generator gen(4);
    Tensor x(tensor::randn({8, 4}, gen)), y(tensor::randn({8, 2}, gen));
    // SGD with lr 1e30: the first update throws the weights to ~1e30, the next loss to ~1e60
    // and beyond; float32 overflows within a few steps.
    RunResult run = train(path, 1e30, 50, [&](std::int64_t) { return std::pair{x, y}; });
    REQUIRE(run.stopped_at > 1);
    REQUIRE(run.stopped_at <= 50);
    CHECK(run.losses.size() == std::size_t(run.stopped_at - 1));
    for (double loss : run.losses) CHECK(std::isfinite(loss));
    check_contains(run.message, "training diverged at step " + std::to_string(run.stopped_at) + ": ");
    check_contains(run.message, "at step " + std::to_string(run.stopped_at - 1) + ")");
    // Whatever was written last is what is on disk, and every value in it is finite.
    CHECK(read_bytes(path) == run.last_saved);
    for (const auto& [name, array] : load_safetensors(path).tensors) {
      CAPTURE(name);
      CHECK(!tensor::find_non_finite(array).any());
    }
  }

  TEST_CASE("divergence: the guard checks the gradient norm too, and remembers the last loss") {
    DivergenceGuard guard;
    CHECK(!guard.has_finite_loss());
    guard.check(1, 2.5, 1.0);
    guard.check(2, 1.25, 3.0);
    CHECK(guard.last_finite_loss() == 1.25);
    CHECK(guard.last_finite_step() == 2);
    std::string message = error_message([&] { guard.check(3, 0.75, kNaN); });
    check_contains(message, "training diverged at step 3: the gradient norm is nan (the loss, "
                            "0.75, is finite) (the last finite loss was 1.25, at step 2)");
    check_contains(message, "try a lower learning rate; anomaly mode");
    CHECK(guard.last_finite_step() == 2);  // a failed step is not remembered
    DivergenceGuard first;
    check_contains(error_message([&] { first.check(1, std::numeric_limits<double>::infinity(), 0); }),
                   "the loss is inf (no finite loss was seen before it in this run)");

    // grad_norm is the norm clip_grad_norm_ returns, and a plain loop over the gradients.
    Generator gen(3);
    Tensor a(tensor::randn({3, 2}, gen), true), b(tensor::randn({4}, gen), true), unused(tensor::ones({2}), true);
    (autograd::sum(a * a) + autograd::sum(b * 3.0)).backward();
    double expected = 0;
    for (double g : testing::values(a.grad())) expected += g * g;
    for (double g : testing::values(b.grad())) expected += g * g;
    CHECK(grad_norm({a, b, unused}) == doctest::Approx(std::sqrt(expected)).epsilon(1e-12));
    CHECK(clip_grad_norm_({a, b, unused}, 1e9) == grad_norm({a, b, unused}));
  }

  TEST_CASE("divergence: save and save_checkpoint refuse non-finite values and write nothing") {
    TempDir dir;
    std::string path = dir.file("model.safetensors");
    auto model = make_two_layer_mlp(1);
    SGD optimizer(model->parameters(), 0.1);
    save_checkpoint(path, *model, &optimizer, {{"step", "1"}});
    std::string good = read_bytes(path);

    // A NaN at [3, 1] of the first weight ([16, 4]: flat position 13).
    Tensor weight = model->parameters()[0];
    std::vector<float> values = weight.to_vector<float>();
    values[13] = float(kNaN);
    weight.data().copy_(tensor::from_vector(values, {16, 4}));
    std::string message = error_message([&] { save_checkpoint(path, *model, &optimizer); });
    CHECK(message == "save_checkpoint: " + path +
                         ": '0.weight' has 1 NaN value, at [3, 1]; nothing was written, the "
                         "previous file is unchanged (the training diverged? save only from a "
                         "finite model)");
    check_contains(error_message([&] { save(*model, path); }), "save: " + path + ": '0.weight'");
    CHECK(read_bytes(path) == good);
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path), {}) == 1);
  }

  TEST_CASE("resume: optimizer state from a file must be finite and a valid step count") {
    TempDir dir;
    std::string path = dir.file("ckpt.safetensors");
    auto model = make_two_layer_mlp(1);
    Adam optimizer(model->parameters(), 0.01);
    Generator gen(2);
    Tensor x(tensor::randn({8, 4}, gen)), y(tensor::randn({8, 2}, gen));
    Tensor loss = autograd::mse_loss((*model)(x), y);
    loss.backward();
    optimizer.step();
    save_checkpoint(path, *model, &optimizer);

    // Rewrite the file with one optimizer entry replaced by `value` (written by the plain
    // safetensors writer, which checks nothing, as another program might).
    auto with_entry = [&](const std::string& name, const tensor::Array& value) {
      tensor::SafetensorsFile file = load_safetensors(path);
      for (auto& [entry, array] : file.tensors)
        if (entry == name) array = value;
      std::string bad = dir.file("bad.safetensors");
      save_safetensors(bad, file.tensors, file.metadata);
      return bad;
    };
    auto fresh = make_two_layer_mlp(2);
    Adam target(fresh->parameters(), 0.01);
    auto load_message = [&](const std::string& file) {
      return error_message([&] { load_checkpoint(file, *fresh, &target); });
    };
    for (double bad_steps : {kNaN, 1e300, -3.0, 2.5, std::numeric_limits<double>::infinity()}) {
      CAPTURE(bad_steps);
      std::string message = load_message(with_entry("optimizer.steps", tensor::scalar(bad_steps, tensor::DType::Float64)));
      check_contains(message, "optimizer: 'optimizer.steps' is ");
      check_contains(message, "expected a step count: an integer in 0..2^63-1");
    }
    check_contains(load_message(with_entry("optimizer.steps", tensor::scalar(-4, tensor::DType::Int64))),
                   "'optimizer.steps' is -4, expected a step count >= 0");
    check_contains(load_message(with_entry("optimizer.steps", tensor::ones({2}))),
                   "'optimizer.steps' has shape [2], expected one number");
    tensor::Array moment = tensor::zeros({16, 4});
    moment.fill_(std::numeric_limits<double>::infinity());
    check_contains(load_message(with_entry("optimizer.0.exp_avg", moment)),
                   "'optimizer.0.exp_avg' has 64 +inf values, first at [0, 0]");
    CHECK(target.steps_taken() == 0);  // nothing was loaded
    // A float step count that is a whole number is fine (another writer may store it so).
    load_checkpoint(with_entry("optimizer.steps", tensor::scalar(7, tensor::DType::Float64)), *fresh, &target);
    CHECK(target.steps_taken() == 7);
    // Optimizer::load_state checks the same on its own.
    check_contains(error_message([&] {
                     target.load_state({{"steps", tensor::scalar(kNaN, tensor::DType::Float64)}});
                   }),
                   "optimizer: state entry 'steps' is nan");
    CHECK(target.steps_taken() == 7);
  }

  TEST_CASE("resume: every metadata key is checked and the message names the file and the key") {
    const std::string path = "out/checkpoint.safetensors";
    CheckpointMetadata meta({{"step", "40"},
                             {"negative", "-5"},
                             {"junk", "12abc"},
                             {"spaced", " 12"},
                             {"offset", "18446744073709551615"},
                             {"too_big", "18446744073709551616"},
                             {"losses", "2.5,1e-3,0.125"},
                             {"bad_losses", "2.5,nan,1"},
                             {"empty", ""},
                             {"seconds", "12.5"},
                             {"inf", "inf"}},
                            path);
    const std::string prefix = "load_checkpoint: " + path + ": metadata ";
    CHECK(meta.integer("step", 0, 400) == 40);
    CHECK(error_message([&] { meta.integer("step", 0, 30, "this run's --steps"); }) ==
          prefix + "\"step\" is \"40\", expected an integer in 0..30 (this run's --steps)");
    CHECK(error_message([&] { meta.integer("negative", 0, 400); }) ==
          prefix + "\"negative\" is \"-5\", expected an integer in 0..400");
    CHECK(error_message([&] { meta.integer("junk", 0, 400); }) ==
          prefix + "\"junk\" is \"12abc\", expected an integer in 0..400");
    CHECK(error_message([&] { meta.integer("spaced", 0, 400); }) ==
          prefix + "\"spaced\" is \" 12\", expected an integer in 0..400");
    CHECK(error_message([&] { meta.integer("missing", 0, 400); }) ==
          prefix + "\"missing\" is missing (the file was not written by this program, or by an "
                   "older version)");
    CHECK(meta.unsigned_integer("offset") == std::numeric_limits<std::uint64_t>::max());
    CHECK(error_message([&] { meta.unsigned_integer("too_big"); }) ==
          prefix + "\"too_big\" is \"18446744073709551616\", expected a non-negative integer "
                   "below 2^64");
    check_contains(error_message([&] { meta.unsigned_integer("negative"); }), "\"negative\" is \"-5\"");
    CHECK(meta.numbers("losses") == std::vector<double>{2.5, 1e-3, 0.125});
    CHECK(meta.numbers("empty").empty());
    CHECK(error_message([&] { meta.numbers("bad_losses"); }) ==
          prefix + "\"bad_losses\" holds \"nan\" at position 1, expected finite numbers "
                   "separated by commas");
    CHECK(meta.number("seconds", 0, 1e9) == 12.5);
    CHECK(error_message([&] { meta.number("inf", 0, 1e9); }) ==
          prefix + "\"inf\" is \"inf\", expected a finite number in 0..1e+09");
    CHECK(error_message([&] { meta.number("negative", 0, 1e9); }) ==
          prefix + "\"negative\" is \"-5\", expected a finite number in 0..1e+09");
    CHECK(error_message([&] { meta.fail("losses", "holds 3 losses, expected 40"); }) ==
          prefix + "\"losses\" holds 3 losses, expected 40");

    // join_numbers writes what numbers() reads back exactly.
    std::vector<double> values{0.1, 1.0 / 3, -2e-300, 12345678.901234567, 0};
    CheckpointMetadata round({{"v", join_numbers(values)}}, path);
    CHECK(round.numbers("v") == values);
  }
}
