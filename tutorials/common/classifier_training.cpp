// classifier_training.cpp — see classifier_training.hpp.
#include "tutorials/common/classifier_training.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

namespace tutorial {

TrainingHistory train_classifier(nn::BertEncoder& model, const MajorityData& data,
                                 const TrainingRecipe& recipe, nn::Generator& data_gen,
                                 const std::function<void(std::int64_t, double)>& on_step) {
  TrainingHistory history;
  // Weight decay shrinks the weight matrices (and embeddings) only: decaying biases and the
  // LayerNorm gains towards 0 has no regularising purpose, so they get a separate optimizer.
  std::vector<nn::Tensor> decayed, not_decayed;
  for (auto& [name, p] : model.named_parameters()) (p.dim() >= 2 ? decayed : not_decayed).push_back(p);
  nn::Adam matrices(decayed, recipe.lr, 0.9, 0.999, 1e-8, recipe.weight_decay, /*decoupled=*/true);
  nn::Adam vectors(not_decayed, recipe.lr, 0.9, 0.999, 1e-8, 0.0, true);
  std::vector<nn::Tensor> all = model.parameters();

  // The learning rate at a step: linear warmup, then constant or a cosine decay to 0.
  auto lr_at = [&](std::int64_t step) {
    double factor = 1.0;
    if (recipe.warmup_steps > 0 && step < recipe.warmup_steps)
      factor = double(step + 1) / double(recipe.warmup_steps);
    else if (recipe.cosine_decay) {
      double progress = double(step - recipe.warmup_steps) /
                        double(std::max<std::int64_t>(1, recipe.steps - recipe.warmup_steps));
      factor = 0.5 * (1 + std::cos(M_PI * progress));
    }
    return recipe.lr * factor;
  };

  std::vector<LabeledSequence> fixed;  // the small fixed training set, when there is one
  std::vector<std::int64_t> order;
  std::size_t next = 0;
  if (recipe.train_set_size > 0) fixed = data.sample_train(recipe.train_set_size, data_gen);
  auto next_batch = [&]() {
    if (fixed.empty()) return data.sample_train(recipe.batch, data_gen);
    std::vector<LabeledSequence> batch;
    while (static_cast<std::int64_t>(batch.size()) < recipe.batch) {
      if (next >= order.size()) {  // a new epoch: a new random order
        order = tensor::randperm(static_cast<std::int64_t>(fixed.size()), data_gen).to_vector<std::int64_t>();
        next = 0;
      }
      batch.push_back(fixed[order[next++]]);
    }
    return batch;
  };

  auto start = std::chrono::steady_clock::now();
  model.train();
  nn::DivergenceGuard guard("try a lower learning rate (this recipe's peak: " +
                            std::to_string(recipe.lr) + ")");
  for (std::int64_t step = 0; step < recipe.steps; ++step) {
    double lr = lr_at(step);
    matrices.set_lr(lr);
    vectors.set_lr(lr);
    ClassificationBatch batch = make_classification_batch(next_batch());
    nn::Tensor logits = model.classify(model.forward(batch.ids, batch.padding));  // [B, 2]
    nn::Tensor loss = autograd::cross_entropy(logits, batch.labels, -100, recipe.label_smoothing);
    double value = loss.item();
    matrices.zero_grad();
    vectors.zero_grad();
    loss.backward();
    double norm = nn::clip_grad_norm_(all, recipe.clip_norm > 0 ? recipe.clip_norm
                                                                : std::numeric_limits<double>::infinity());
    try {
      guard.check(step + 1, value, norm);  // before the update: a NaN never reaches the weights
    } catch (const nn::TrainingDiverged& diverged) {
      if (!recipe.divergence_is_a_result) throw;
      history.diverged = true;
      history.divergence = diverged.what();
      break;
    }
    matrices.step();
    vectors.step();
    history.losses.push_back(value);
    history.grad_norms.push_back(norm);
    history.learning_rates.push_back(lr);
    if (on_step) on_step(step + 1, value);
    if ((step + 1) % recipe.eval_every == 0 || step + 1 == recipe.steps)
      history.accuracy.emplace_back(step + 1, classification_accuracy(model, data.held_out()));
  }
  if (!fixed.empty()) history.train_accuracy = classification_accuracy(model, fixed);
  history.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return history;
}

}  // namespace tutorial
