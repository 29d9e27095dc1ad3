// viz/plot.hpp - line plots (loss curves, accuracy curves) and axis tick helpers.
//
//   viz::LinePlot plot("Training loss");
//   plot.set_x_label("step").set_y_label("loss").set_log_y(true);
//   plot.add_series("train", steps, train_loss);
//   plot.add_series("validation", steps, val_loss);
//   plot.save("loss.png");
#pragma once

#include <string>
#include <vector>

#include "viz/canvas.hpp"

namespace viz {

// "Nice" tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten, about
// `target_count` of them, e.g. 0, 0.2, ..., 1 for [0, 1]. Only values inside the range.
std::vector<double> nice_ticks(double low, double high, int target_count = 6);
// Ticks for a log axis on [low, high] (both > 0): the powers of ten inside the range, adding
// 2x and 5x values when fewer than two decades fit, and falling back to nice_ticks if needed.
std::vector<double> log_ticks(double low, double high);
// Text for a tick value, with as many decimals as the tick step needs ("0.25", "1e-05", "100").
std::string format_tick(double value, double step);

// When a series shows markers: automatic draws them for short series (at most 30 points).
enum class MarkerMode { automatic, always, never };

class LinePlot {
 public:
  explicit LinePlot(std::string title = "");

  LinePlot& set_title(std::string title);
  LinePlot& set_x_label(std::string label);
  LinePlot& set_y_label(std::string label);
  // Logarithmic y axis with decade ticks; points with y <= 0 are skipped.
  LinePlot& set_log_y(bool log_y);
  // Fixes the y range instead of fitting it to the data (e.g. 0..1 for accuracy).
  LinePlot& set_y_range(double low, double high);
  LinePlot& set_markers(MarkerMode mode);
  // Image size in pixels (default 1000 x 620).
  LinePlot& set_size(int width, int height);

  // Adds a series of points (x[i], y[i]); x and y must have the same length.
  // Non-finite points are skipped and leave a gap in the line.
  LinePlot& add_series(std::string name, std::vector<double> x, std::vector<double> y);
  LinePlot& add_series(std::string name, const std::vector<float>& x, const std::vector<float>& y);
  // Adds a series with x = 0, 1, 2, ...
  LinePlot& add_series(std::string name, std::vector<double> y);
  LinePlot& add_series(std::string name, const std::vector<float>& y);
  // Dashed horizontal line at y with a text label, e.g. (0.99, "99% accuracy").
  LinePlot& add_reference_line(double y, std::string label);

  // Draws the plot into a new image.
  Canvas render() const;
  // Renders and writes a PNG; throws std::runtime_error naming the path if writing fails.
  void save(const std::string& path) const;

 private:
  struct Series {
    std::string name;
    std::vector<double> x, y;
  };
  struct ReferenceLine {
    double y;
    std::string label;
  };

  std::string title_, x_label_, y_label_;
  bool log_y_ = false;
  bool has_y_range_ = false;
  double y_range_low_ = 0, y_range_high_ = 1;
  MarkerMode markers_ = MarkerMode::automatic;
  int width_ = 1000, height_ = 620;
  std::vector<Series> series_;
  std::vector<ReferenceLine> reference_lines_;
};

// Colour of the i-th series: a set of distinct hues of similar weight, then repeating.
Color series_color(int index);

}  // namespace viz
