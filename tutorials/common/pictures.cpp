#include "tutorials/common/pictures.hpp"

#include <cstdio>
#include <filesystem>

#include "viz/heatmap.hpp"
#include "viz/plot.hpp"

namespace tutorial {

namespace {

std::vector<std::string> token_labels(const nn::data::SyntheticTask& task,
                                      const std::vector<std::int64_t>& tokens) {
  // "position:token", so that repeated symbols stay apart.
  std::vector<std::string> labels;
  for (std::size_t i = 0; i < tokens.size(); ++i)
    labels.push_back(std::to_string(i) + ":" + task.to_text({tokens[i]}));
  return labels;
}

std::string path_in(const std::string& out, const std::string& name) {
  return (std::filesystem::path(out) / name).string();
}

// One panel per head: weights [1, H, rows, cols] -> a grid of H heatmaps sharing a 0..1 scale.
void save_heads(const nn::Tensor& weights, const std::string& title, const std::string& rows_are,
                const std::string& cols_are, const std::string& path) {
  const int heads = static_cast<int>(weights.size(1));
  const int rows = static_cast<int>(weights.size(2)), cols = static_cast<int>(weights.size(3));
  viz::HeatmapGrid grid(std::min(heads, 4));
  grid.set_title(title).set_range(0, 1).set_colorbar_label("weight");
  grid.set_y_label(rows_are).set_x_label(cols_are);
  for (int h = 0; h < heads; ++h)
    grid.add_panel("head " + std::to_string(h), weights.select(0, 0).select(0, h).to_vector<double>(),
                   rows, cols);
  grid.save(path);
  std::printf("  %s\n", path.c_str());
}

}  // namespace

void write_training_pictures(nn::Transformer& model, const nn::data::SyntheticTask& task,
                             const nn::data::Example& example, const std::vector<double>& losses,
                             const std::vector<std::pair<std::int64_t, double>>& accuracy,
                             const std::string& out) {
  // The training curve: loss per step on a log scale (it falls over orders of magnitude).
  viz::LinePlot loss_plot("Training loss (cross-entropy per target token)");
  std::vector<double> steps;
  for (std::size_t i = 0; i < losses.size(); ++i) steps.push_back(double(i + 1));
  loss_plot.set_x_label("step").set_y_label("loss").set_log_y(true);
  loss_plot.add_series("training batch", steps, losses);
  loss_plot.save(path_in(out, "loss_curve.png"));
  std::printf("  %s\n", path_in(out, "loss_curve.png").c_str());

  if (!accuracy.empty()) {
    viz::LinePlot accuracy_plot("Held-out exact match (greedy decoding)");
    std::vector<double> at, fraction;
    for (auto [step, value] : accuracy) {
      at.push_back(double(step));
      fraction.push_back(value);
    }
    accuracy_plot.set_x_label("step").set_y_label("fraction of sequences exactly right");
    accuracy_plot.set_y_range(0, 1).add_series("held-out", at, fraction);
    accuracy_plot.add_reference_line(0.99, "99%");
    accuracy_plot.save(path_in(out, "accuracy.png"));
    std::printf("  %s\n", path_in(out, "accuracy.png").c_str());
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
  const nn::Tensor& cross = decoder_layers.back()->last_cross_attention;  // [1, H, T, S]
  std::vector<std::string> source = token_labels(task, example.source);
  std::vector<std::int64_t> decoder_input = batch.tgt_in.to_vector<std::int64_t>();
  std::vector<std::string> target = token_labels(task, decoder_input);

  // Head-averaged cross-attention with the tokens on both axes: for "reverse" the weights
  // should form the anti-diagonal, each output position looking at its mirror source position.
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
  averaged.save(path_in(out, "attention_cross.png"));
  std::printf("  %s\n", path_in(out, "attention_cross.png").c_str());
  save_heads(cross, "Cross-attention per head, last decoder layer", "decoder position",
             "source position", path_in(out, "attention_cross_heads.png"));
  save_heads(encoder_layers.back()->last_attention, "Self-attention per head, last encoder layer",
             "query position", "key position", path_in(out, "attention_encoder_heads.png"));
}

}  // namespace tutorial
