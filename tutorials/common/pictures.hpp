// pictures.hpp — the PNG pictures that several tutorials draw (built on viz/).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "nn/data.hpp"
#include "nn/transformer.hpp"

namespace tutorial {

// Writes <out>/loss_curve.png (training loss per step, held-out exact match at each evaluation)
// and <out>/attention_*.png (the trained model's attention on `example`: encoder self-attention,
// decoder cross-attention, one panel per head, token labels on both axes). Prints each path.
void write_training_pictures(nn::Transformer& model, const nn::data::SyntheticTask& task,
                             const nn::data::Example& example, const std::vector<double>& losses,
                             const std::vector<std::pair<std::int64_t, double>>& accuracy,
                             const std::string& out);

}  // namespace tutorial
