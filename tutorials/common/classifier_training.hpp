// classifier_training.hpp — training the classifier of the majority task (tasks.hpp) with the
// usual tricks, each switchable: warmup, cosine decay, AdamW weight decay, gradient clipping,
// label smoothing, a small fixed training set (13_bert_encoder, 17_interpretability,
// 18_training_tricks).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/tasks.hpp"

namespace tutorial {

struct TrainingRecipe {
  std::int64_t steps = 400, batch = 64;
  double lr = 1e-3;
  std::int64_t warmup_steps = 0;   // linear warmup from lr/warmup to lr (0: none)
  bool cosine_decay = false;       // after warmup, cosine down to 0 at the last step
  double weight_decay = 0.0;       // AdamW's decoupled decay (0: plain Adam)
  double clip_norm = 0.0;          // clip the global gradient norm to this (0: no clipping)
  double label_smoothing = 0.0;
  std::int64_t eval_every = 25;
  // The training set: 0 draws fresh examples every step; N > 0 cycles through N fixed ones
  // (a small set, so that the model can overfit and regularisation can matter).
  std::int64_t train_set_size = 0;
  // A non-finite loss or gradient norm stops the run (nn::DivergenceGuard) before the weights
  // change. false: train_classifier throws nn::TrainingDiverged, for a program to report as an
  // error. true (a comparison of recipes, where diverging is one possible outcome): it returns
  // the history so far with .diverged set and .divergence saying why.
  bool divergence_is_a_result = false;
};

struct TrainingHistory {
  std::vector<double> losses;            // one per step
  std::vector<double> grad_norms;        // global gradient norm before clipping, per step
  std::vector<double> learning_rates;    // per step
  std::vector<std::pair<std::int64_t, double>> accuracy;  // (step, held-out accuracy)
  double train_accuracy = 0;             // on the fixed training set (when there is one)
  double seconds = 0;
  bool diverged = false;                 // a non-finite loss or gradient stopped the run
  std::string divergence;                // then: the guard's message (step, last finite loss)
};

// Trains model.classify on the majority task with the recipe. `data_gen` draws the batches.
// Prints nothing; `on_step(step, loss)` is called after every step when given.
TrainingHistory train_classifier(nn::BertEncoder& model, const MajorityData& data,
                                 const TrainingRecipe& recipe, nn::Generator& data_gen,
                                 const std::function<void(std::int64_t, double)>& on_step = {});

}  // namespace tutorial
