// pictures.hpp — the PNG pictures the tutorials draw, on viz/: every picture is written into the
// tutorial's folder and announced with one line saying what to look for in it.
//
//   viz::Heatmap map = tutorial::attention_map(weights, "causal weights");
//   tutorial::save_picture(map, options, "causal.png",
//                          "the upper triangle is empty: no position attends to a later one");
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.hpp"
#include "nn/data.hpp"
#include "nn/transformer.hpp"
#include "tutorials/common/tutorial.hpp"
#include "viz/heatmap.hpp"
#include "viz/plot.hpp"

namespace tutorial {

// Writes a viz picture (Heatmap, HeatmapGrid, LinePlot) to output_path(options, name), then
// prints its path and what to look for in it (announce_file).
template <class Picture>
void save_picture(const Picture& picture, const Options& options, const std::string& name,
                  const std::string& look_for) {
  const std::string path = output_path(options, name);
  picture.save(path);
  announce_file(path, look_for);
}

// ---- attention maps
// --------------------------------------------------------------------------------

// The values of a matrix (a 2-d tensor, or the first matrix of a batch) in row-major order, for
// viz::Heatmap; NaN where `masked` (a bool tensor broadcastable to it) is true, which the heatmap
// draws as a hatched cell. Use it for pairs that were never scored: the library gives a masked
// pair weight 0 (and a fully masked row zeros), which a plain heatmap would draw as "weight 0".
std::vector<double> matrix_values(const autograd::Tensor& t,
                                  const autograd::Tensor& masked = autograd::Tensor());

// A [rows, cols] tensor (e.g. one head's weights) as a heatmap with axis names, indices and the
// colour range 0..1 of attention weights; NaN cells (see matrix_values) are explained as
// "blocked: weight 0".
viz::Heatmap attention_map(const autograd::Tensor& weights, const std::string& title,
                           const std::string& y_label = "query position",
                           const std::string& x_label = "key position");

// Attention maps side by side, each a (title, weights [rows, cols]) pair, sharing the 0..1 scale
// so that equal colours mean equal weights; `columns` panels per row.
viz::HeatmapGrid attention_grid(const std::vector<std::pair<std::string, autograd::Tensor>>& panels,
                                const std::string& title, int columns = 4,
                                const std::string& y_label = "query position",
                                const std::string& x_label = "key position");

// One panel per head: weights [H, rows, cols] as a grid of H heatmaps titled "head h", sharing
// the 0..1 scale, `columns` panels per row.
viz::HeatmapGrid head_grid(const autograd::Tensor& weights, const std::string& title,
                           int columns = 4, const std::string& y_label = "query position",
                           const std::string& x_label = "key position");

// ---- training curves
// -------------------------------------------------------------------------------

// The loss of every step as a series at steps 1, 2, ..., n.
viz::LinePlot& add_loss_curve(viz::LinePlot& plot, const std::string& name,
                              const std::vector<double>& losses);
// A score measured now and then during training, (step, value) pairs, as a series.
viz::LinePlot& add_eval_curve(viz::LinePlot& plot, const std::string& name,
                              const std::vector<std::pair<std::int64_t, double>>& at_steps);

// ---- tutorial 12
// -----------------------------------------------------------------------------------

// Writes loss_curve.png (training loss per step, log scale), accuracy.png (held-out exact match at
// each evaluation) and attention_*.png (the trained model's attention on `example`: encoder
// self-attention, decoder cross-attention, one panel per head, token labels on both axes), each
// announced with what to look for.
void write_training_pictures(nn::Transformer& model, const nn::data::SyntheticTask& task,
                             const nn::data::Example& example, const std::vector<double>& losses,
                             const std::vector<std::pair<std::int64_t, double>>& accuracy,
                             const Options& options);

}  // namespace tutorial
