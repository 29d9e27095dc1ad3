// pictures.cpp — see pictures.hpp.
#include "tutorials/common/pictures.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "tensor/shape.hpp"

namespace tutorial {

using autograd::Tensor;
using tensor::Array;
using tensor::DType;

// ---- attention maps
// --------------------------------------------------------------------------------

// What a hatched (NaN) cell of an attention map means: the library gives a blocked pair weight 0,
// and a row whose every key is blocked all zeros (PyTorch: NaN).
const char* const kBlocked = "blocked: weight 0";

std::vector<double> matrix_values(const Tensor& t, const Tensor& masked) {
  Array m = t.data().to(DType::Float64);
  Array blocked = masked.defined() ? masked.data().expand(t.shape()) : Array();
  while (m.dim() > 2) {
    m = m.select(0, 0);
    if (blocked.defined()) blocked = blocked.select(0, 0);
  }
  std::vector<double> values = m.contiguous().to_vector<double>();
  if (blocked.defined()) {
    std::vector<double> b = blocked.to(DType::Float64).contiguous().to_vector<double>();
    for (std::size_t i = 0; i < values.size(); ++i)
      if (b[i] != 0) values[i] = std::numeric_limits<double>::quiet_NaN();
  }
  return values;
}

viz::Heatmap attention_map(const Tensor& weights, const std::string& title,
                           const std::string& y_label, const std::string& x_label) {
  if (weights.dim() != 2)
    throw std::invalid_argument("attention_map: expects weights [rows, cols], got " +
                                tensor::shape_str(weights.shape()));
  viz::Heatmap map(weights.to_vector<double>(), static_cast<int>(weights.size(0)),
                   static_cast<int>(weights.size(1)));
  map.set_title(title).set_y_label(y_label).set_x_label(x_label).set_range(0, 1);
  map.set_colorbar_label("weight").set_masked_label(kBlocked);
  return map;
}

viz::HeatmapGrid attention_grid(const std::vector<std::pair<std::string, Tensor>>& panels,
                                const std::string& title, int columns, const std::string& y_label,
                                const std::string& x_label) {
  viz::HeatmapGrid grid(std::max(1, std::min(columns, static_cast<int>(panels.size()))));
  grid.set_title(title).set_range(0, 1).set_colorbar_label("weight").set_masked_label(kBlocked);
  grid.set_y_label(y_label).set_x_label(x_label);
  for (const auto& [panel_title, weights] : panels) {
    if (weights.dim() != 2)
      throw std::invalid_argument("attention_grid: panel '" + panel_title +
                                  "' expects weights [rows, cols], got " +
                                  tensor::shape_str(weights.shape()));
    grid.add_panel(panel_title, weights.to_vector<double>(), static_cast<int>(weights.size(0)),
                   static_cast<int>(weights.size(1)));
  }
  return grid;
}

viz::HeatmapGrid head_grid(const Tensor& weights, const std::string& title, int columns,
                           const std::string& y_label, const std::string& x_label) {
  if (weights.dim() != 3)
    throw std::invalid_argument("head_grid: expects weights [H, rows, cols], got " +
                                tensor::shape_str(weights.shape()));
  std::vector<std::pair<std::string, Tensor>> panels;
  for (std::int64_t h = 0; h < weights.size(0); ++h)
    panels.emplace_back("head " + std::to_string(h), weights.select(0, h));
  return attention_grid(panels, title, columns, y_label, x_label);
}

// ---- training curves
// -------------------------------------------------------------------------------

viz::LinePlot& add_loss_curve(viz::LinePlot& plot, const std::string& name,
                              const std::vector<double>& losses) {
  std::vector<double> steps;
  for (std::size_t i = 0; i < losses.size(); ++i) steps.push_back(double(i + 1));
  return plot.add_series(name, steps, losses);
}

viz::LinePlot& add_eval_curve(viz::LinePlot& plot, const std::string& name,
                              const std::vector<std::pair<std::int64_t, double>>& at_steps) {
  std::vector<double> steps, values;
  for (auto [step, value] : at_steps) {
    steps.push_back(double(step));
    values.push_back(value);
  }
  return plot.add_series(name, steps, values);
}

// ---- tutorial 12
// -----------------------------------------------------------------------------------

namespace {

std::vector<std::string> token_labels(const nn::data::SyntheticTask& task,
                                      const std::vector<std::int64_t>& tokens) {
  // "position:token", so that repeated symbols stay apart.
  std::vector<std::string> labels;
  for (std::size_t i = 0; i < tokens.size(); ++i)
    labels.push_back(std::to_string(i) + ":" + task.to_text({tokens[i]}));
  return labels;
}

// Where the cross-attention of a model that learned the task should look.
std::string cross_attention_pattern(nn::data::TaskKind kind) {
  switch (kind) {
    case nn::data::TaskKind::Reverse:
      return "a bright anti-diagonal: output position i reads source position n-1-i";
    case nn::data::TaskKind::Copy:
      return "a bright diagonal: output position i reads source position i";
    case nn::data::TaskKind::Sort:
      return "each output row lights the source positions holding the next-smallest symbol";
    case nn::data::TaskKind::Addition:
      return "each output digit reads the operand digits it depends on";
  }
  return "";
}

}  // namespace

void write_training_pictures(nn::Transformer& model, const nn::data::SyntheticTask& task,
                             const nn::data::Example& example, const std::vector<double>& losses,
                             const std::vector<std::pair<std::int64_t, double>>& accuracy,
                             const Options& options) {
  // The training curve: loss per step on a log scale (it falls over orders of magnitude).
  viz::LinePlot loss_plot("Training loss (cross-entropy per target token)");
  loss_plot.set_x_label("step").set_y_label("loss").set_log_y(true);
  add_loss_curve(loss_plot, "training batch", losses);
  save_picture(
      loss_plot, options, "loss_curve.png",
      "the loss falls by orders of magnitude (log scale); a flat stretch is the model still "
      "guessing, before attention finds the right positions");

  if (!accuracy.empty()) {
    viz::LinePlot accuracy_plot("Held-out exact match (greedy decoding)");
    accuracy_plot.set_x_label("step").set_y_label("fraction of sequences exactly right");
    accuracy_plot.set_y_range(0, 1);
    add_eval_curve(accuracy_plot, "held-out", accuracy);
    accuracy_plot.add_reference_line(0.99, "99%");
    save_picture(accuracy_plot, options, "accuracy.png",
                 "near 0 for a while (one wrong token spoils a sequence), then a steep rise to "
                 "the 99% line");
  }

  // Attention on one held-out example, teacher-forced with its true target.
  nn::data::Batch batch = nn::data::make_batch({example}, model.device());
  autograd::NoGradGuard no_grad;
  bool was_training = model.is_training();
  model.eval();
  model.keep_attention(true);
  model.forward(batch.src, batch.tgt_in, batch.src_padding, batch.tgt_padding);
  model.keep_attention(false);
  model.train(was_training);

  auto& decoder_layers = model.decoder->layers->items();
  auto& encoder_layers = model.encoder->layers->items();
  const Tensor& cross = decoder_layers.back()->last_cross_attention;  // [1, H, T, S]
  std::vector<std::string> source = token_labels(task, example.source);
  std::vector<std::int64_t> decoder_input = batch.tgt_in.to_vector<std::int64_t>();
  std::vector<std::string> target = token_labels(task, decoder_input);

  // Head-averaged cross-attention with the tokens on both axes.
  viz::Heatmap averaged(autograd::mean(cross, {1}).select(0, 0).to_vector<double>(),
                        static_cast<int>(cross.size(2)), static_cast<int>(cross.size(3)));
  averaged.set_title("Cross-attention, last decoder layer (mean of heads)")
      .set_row_labels(target)
      .set_col_labels(source)
      .set_y_label("decoder input (predicting the next token)")
      .set_x_label("source token")
      .set_range(0, 1)
      .set_show_values(false)
      .set_colorbar_label("weight");
  save_picture(averaged, options, "attention_cross.png",
               cross_attention_pattern(task.kind()) + " (row <bos> predicts the first token)");

  viz::HeatmapGrid cross_heads =
      head_grid(cross.select(0, 0), "Cross-attention per head, last decoder layer", 4,
                "decoder position", "source position");
  save_picture(cross_heads, options, "attention_cross_heads.png",
               "heads split the work: some are sharp and follow the pattern, others spread out");
  viz::HeatmapGrid encoder_heads =
      head_grid(encoder_layers.back()->last_attention.select(0, 0),
                "Self-attention per head, last encoder layer", 4, "query position", "key position");
  save_picture(encoder_heads, options, "attention_encoder_heads.png",
               "no masked triangle (the encoder sees the whole source); heads that attend to "
               "neighbours or to equal symbols");
}

}  // namespace tutorial
