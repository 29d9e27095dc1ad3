// viz/plot.cpp - tick generation and the LinePlot renderer.
#include "viz/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace viz {

// ---------------------------------------------------------------------------------------
// Ticks
// ---------------------------------------------------------------------------------------

std::vector<double> nice_ticks(double low, double high, int target_count) {
  if (!std::isfinite(low) || !std::isfinite(high) || high < low) return {};
  if (high == low) return {low};
  // The step is 1, 2 or 5 times a power of ten: those are the steps people count in.
  const double raw_step = (high - low) / std::max(target_count, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  const double ratio = raw_step / magnitude;  // in [1, 10)
  const double multiplier = ratio < 1.5 ? 1.0 : ratio < 3.0 ? 2.0 : ratio < 7.0 ? 5.0 : 10.0;
  const double step = multiplier * magnitude;

  // Ticks are k * step for whole k, computed by multiplication (not repeated addition)
  // so rounding errors do not pile up; the 1e-9 tolerates a range ending at 0.99999999.
  const long long first = static_cast<long long>(std::ceil(low / step - 1e-9));
  const long long last = static_cast<long long>(std::floor(high / step + 1e-9));
  std::vector<double> ticks;
  for (long long k = first; k <= last; ++k)
    ticks.push_back(k == 0 ? 0.0 : static_cast<double>(k) * step);
  return ticks;
}

std::vector<double> log_ticks(double low, double high) {
  if (!(low > 0.0) || !(high > low) || !std::isfinite(high)) return {};
  const int first_exponent = static_cast<int>(std::ceil(std::log10(low) - 1e-9));
  const int last_exponent = static_cast<int>(std::floor(std::log10(high) + 1e-9));
  const int decade_count = last_exponent - first_exponent + 1;

  std::vector<double> ticks;
  if (decade_count >= 3) {
    // Many decades would crowd the axis: then label every 2nd (or 3rd, ...) one.
    const int stride = (decade_count + 7) / 8;
    for (int e = first_exponent; e <= last_exponent; ++e) {
      if ((e - first_exponent) % stride == 0) ticks.push_back(std::pow(10.0, e));
    }
    return ticks;
  }
  // Fewer than three decades: use 1, 2, 5 x 10^k so the axis still has several labels.
  for (int e = first_exponent - 1; e <= last_exponent + 1; ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double value = m * std::pow(10.0, e);
      if (value >= low * (1 - 1e-9) && value <= high * (1 + 1e-9)) ticks.push_back(value);
    }
  }
  if (ticks.size() >= 2) return ticks;
  return nice_ticks(low, high, 4);  // a very narrow range: plain linear ticks read best
}

std::string format_tick(double value, double step) {
  char buffer[64];
  step = std::abs(step);
  if (step == 0.0 || !std::isfinite(step)) step = std::abs(value);
  if (std::abs(value) < step * 1e-9) value = 0.0;  // k * step can land on 1e-17 instead of 0
  const double magnitude = std::abs(value);
  if (value == 0.0 && (step < 1e-3 || step >= 1e5)) return "0";
  if (value != 0.0 && (magnitude >= 1e5 || magnitude < 1e-3)) {
    // Scientific notation, short form: 1e-05 is written 1e-5.
    const int exponent = static_cast<int>(std::floor(std::log10(magnitude)));
    const double mantissa = value / std::pow(10.0, exponent);
    const int digits =
        std::clamp(exponent - static_cast<int>(std::floor(std::log10(step) + 1e-9)), 0, 3);
    std::snprintf(buffer, sizeof(buffer), "%.*fe%d", digits, mantissa, exponent);
    return buffer;
  }
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

Color series_color(int index) {
  // Hues far apart on the colour wheel, all dark enough to read as lines on white.
  static const Color palette[] = {
      {0, 114, 190},   // blue
      {230, 110, 0},   // orange
      {0, 150, 90},    // green
      {205, 40, 70},   // red
      {125, 80, 185},  // purple
      {140, 90, 40},   // brown
      {215, 70, 160},  // pink
      {90, 90, 90},    // grey
  };
  constexpr int palette_size = sizeof(palette) / sizeof(palette[0]);
  return palette[((index % palette_size) + palette_size) % palette_size];
}

// ---------------------------------------------------------------------------------------
// LinePlot: settings
// ---------------------------------------------------------------------------------------

LinePlot::LinePlot(std::string title) : title_(std::move(title)) {}

LinePlot& LinePlot::set_title(std::string title) {
  title_ = std::move(title);
  return *this;
}
LinePlot& LinePlot::set_x_label(std::string label) {
  x_label_ = std::move(label);
  return *this;
}
LinePlot& LinePlot::set_y_label(std::string label) {
  y_label_ = std::move(label);
  return *this;
}
LinePlot& LinePlot::set_log_y(bool log_y) {
  log_y_ = log_y;
  return *this;
}
LinePlot& LinePlot::set_markers(MarkerMode mode) {
  markers_ = mode;
  return *this;
}

LinePlot& LinePlot::set_y_range(double low, double high) {
  if (!(high > low) || !std::isfinite(low) || !std::isfinite(high)) {
    throw std::invalid_argument("LinePlot::set_y_range: need finite low < high, got " +
                                std::to_string(low) + " and " + std::to_string(high));
  }
  has_y_range_ = true;
  y_range_low_ = low;
  y_range_high_ = high;
  return *this;
}

LinePlot& LinePlot::set_size(int width, int height) {
  if (width < 300 || height < 200) {
    throw std::invalid_argument("LinePlot::set_size: " + std::to_string(width) + " x " +
                                std::to_string(height) +
                                " is too small for axes and labels; use at least 300 x 200");
  }
  width_ = width;
  height_ = height;
  return *this;
}

LinePlot& LinePlot::add_series(std::string name, std::vector<double> x, std::vector<double> y) {
  if (x.size() != y.size()) {
    throw std::invalid_argument("LinePlot::add_series('" + name + "'): x has " +
                                std::to_string(x.size()) + " values but y has " +
                                std::to_string(y.size()) + "; they must match");
  }
  series_.push_back({std::move(name), std::move(x), std::move(y)});
  return *this;
}

LinePlot& LinePlot::add_series(std::string name, const std::vector<float>& x,
                               const std::vector<float>& y) {
  return add_series(std::move(name), std::vector<double>(x.begin(), x.end()),
                    std::vector<double>(y.begin(), y.end()));
}

LinePlot& LinePlot::add_series(std::string name, std::vector<double> y) {
  std::vector<double> x(y.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i);
  return add_series(std::move(name), std::move(x), std::move(y));
}

LinePlot& LinePlot::add_series(std::string name, const std::vector<float>& y) {
  return add_series(std::move(name), std::vector<double>(y.begin(), y.end()));
}

LinePlot& LinePlot::add_reference_line(double y, std::string label) {
  reference_lines_.push_back({y, std::move(label)});
  return *this;
}

void LinePlot::save(const std::string& path) const {
  render().save_png(path);
}

// ---------------------------------------------------------------------------------------
// LinePlot: rendering
// ---------------------------------------------------------------------------------------

namespace {

struct Rect {
  int x, y, w, h;
  bool contains(double px, double py) const {
    return px >= x && px < x + w && py >= y && py < y + h;
  }
};

// Maps data values to pixels along one axis, linearly or on log10.
struct Axis {
  double low = 0, high = 1;
  bool log = false;
  // Pixels where `low` and `high` land; for y, pixel_low > pixel_high because y runs upwards.
  double pixel_low = 0, pixel_high = 1;

  double to_pixel(double value) const {
    const double v = log ? std::log10(value) : value;
    const double lo = log ? std::log10(low) : low;
    const double hi = log ? std::log10(high) : high;
    return pixel_low + (v - lo) / (hi - lo) * (pixel_high - pixel_low);
  }
};

// Adds a margin around [low, high] and gives a zero-width range (one point, a constant
// series) a sensible width, so nothing sits on the frame and no division by zero happens.
void pad_range(double& low, double& high, double fraction, bool log) {
  if (log) {
    double log_low = std::log10(low), log_high = std::log10(high);
    if (log_high - log_low < 1e-12) {
      log_low -= 0.5;
      log_high += 0.5;
    }
    const double pad = (log_high - log_low) * fraction;
    low = std::pow(10.0, log_low - pad);
    high = std::pow(10.0, log_high + pad);
    return;
  }
  if (high - low < 1e-12 * std::max(1.0, std::abs(high))) {
    const double half_width = std::abs(low) > 0 ? std::abs(low) * 0.1 : 1.0;
    low -= half_width;
    high += half_width;
  }
  const double pad = (high - low) * fraction;
  low -= pad;
  high += pad;
}

// How many sample points fall inside a rectangle: a measure of how much data it would hide.
int count_inside(const std::vector<std::pair<double, double>>& samples, const Rect& rect) {
  int count = 0;
  for (const auto& [px, py] : samples) count += rect.contains(px, py) ? 1 : 0;
  return count;
}


}  // namespace

Canvas LinePlot::render() const {
  Canvas canvas(width_, height_);

  // 1. Which points can be drawn: finite, and positive on a log axis.
  auto usable = [this](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!log_y_ || y > 0.0);
  };
  double x_low = std::numeric_limits<double>::infinity(), x_high = -x_low;
  double y_low = x_low, y_high = -x_low;
  std::vector<int> usable_count(series_.size(), 0);
  for (std::size_t s = 0; s < series_.size(); ++s) {
    for (std::size_t i = 0; i < series_[s].x.size(); ++i) {
      if (!usable(series_[s].x[i], series_[s].y[i])) continue;
      ++usable_count[s];
      x_low = std::min(x_low, series_[s].x[i]);
      x_high = std::max(x_high, series_[s].x[i]);
      y_low = std::min(y_low, series_[s].y[i]);
      y_high = std::max(y_high, series_[s].y[i]);
    }
  }
  const bool has_data = x_low <= x_high;

  // 2. Axis ranges: the data (and reference lines) plus a small margin, or the fixed y range.
  if (!has_data) {
    x_low = 0;
    x_high = 1;
    y_low = log_y_ ? 0.1 : 0;
    y_high = 1;
  }
  for (const ReferenceLine& line : reference_lines_) {
    if (has_data && std::isfinite(line.y) && (!log_y_ || line.y > 0)) {
      y_low = std::min(y_low, line.y);
      y_high = std::max(y_high, line.y);
    }
  }
  pad_range(x_low, x_high, has_data ? 0.02 : 0.0, false);
  if (has_y_range_ && (!log_y_ || y_range_low_ > 0)) {
    y_low = y_range_low_;
    y_high = y_range_high_;
  } else {
    pad_range(y_low, y_high, has_data ? 0.06 : 0.0, log_y_);
  }

  // 3. Layout: title on top, y-axis label above the plot's top-left corner (horizontal, so
  //    it reads without tilting your head), tick labels left and below, x-axis label below.
  const int title_height = title_.empty() ? 0 : text_height(title_scale) + 24;
  const int y_label_height = y_label_.empty() ? 0 : text_height(label_scale) + 16;
  Rect plot{0, 16 + title_height + y_label_height, 0, 0};

  std::vector<double> y_ticks = log_y_ ? log_ticks(y_low, y_high) : nice_ticks(y_low, y_high, 7);
  if (!has_data) y_ticks.clear();  // numbers on an empty plot would suggest data that is not there
  // Faint minor grid lines at 2..9 x 10^k help read a log axis spanning at least a decade.
  const bool log_minor_grid = log_y_ && std::log10(y_high / y_low) >= 1.0;
  auto y_tick_text = [&](std::size_t i) {
    if (log_y_) return format_tick(y_ticks[i], y_ticks[i]);
    return format_tick(y_ticks[i], y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : y_ticks[i]);
  };
  int widest_y_tick = 0;
  for (std::size_t i = 0; i < y_ticks.size(); ++i)
    widest_y_tick = std::max(widest_y_tick, text_width(y_tick_text(i), label_scale));
  plot.x = 20 + widest_y_tick + 12;
  const int bottom_margin =
      16 + text_height(label_scale) + (x_label_.empty() ? 20 : 20 + text_height(label_scale) + 16);
  plot.h = height_ - plot.y - bottom_margin;
  plot.w = width_ - plot.x - 30;

  // Legend size: a short line sample plus the series name per row.
  constexpr int legend_row = 26, legend_pad = 10, legend_sample = 30;
  std::vector<std::string> legend_names;
  for (std::size_t s = 0; s < series_.size(); ++s) {
    legend_names.push_back(series_[s].name +
                           (usable_count[s] == 0 && !series_[s].name.empty() ? " (no data)" : ""));
  }
  const bool show_legend = has_data && std::any_of(series_.begin(), series_.end(),
                                                   [](const Series& s) { return !s.name.empty(); });
  int legend_w = 0;
  for (const std::string& name : legend_names)
    legend_w = std::max(legend_w, text_width(name, label_scale));
  legend_w += 2 * legend_pad + legend_sample + 10;
  const int legend_h = 2 * legend_pad + static_cast<int>(series_.size()) * legend_row -
                       (legend_row - text_height(label_scale));

  // The x/y mappings depend on the plot rectangle, which the legend may still shrink.
  Axis x_axis, y_axis;
  auto set_axes = [&]() {
    x_axis = {x_low, x_high, false, static_cast<double>(plot.x),
              static_cast<double>(plot.x + plot.w - 1)};
    y_axis = {y_low, y_high, log_y_, static_cast<double>(plot.y + plot.h - 1),
              static_cast<double>(plot.y)};
  };
  set_axes();

  // Points along every drawn line, every ~3 px, to measure what a legend or label would cover.
  auto sample_data = [&](bool include_reference_lines) {
    std::vector<std::pair<double, double>> samples;
    for (const Series& series : series_) {
      for (std::size_t i = 0; i < series.x.size(); ++i) {
        if (!usable(series.x[i], series.y[i])) continue;
        const double px = x_axis.to_pixel(series.x[i]), py = y_axis.to_pixel(series.y[i]);
        samples.push_back({px, py});
        if (i + 1 < series.x.size() && usable(series.x[i + 1], series.y[i + 1])) {
          const double qx = x_axis.to_pixel(series.x[i + 1]), qy = y_axis.to_pixel(series.y[i + 1]);
          const int steps = static_cast<int>(std::hypot(qx - px, qy - py) / 3.0);
          for (int k = 1; k < steps; ++k) {
            samples.push_back({px + (qx - px) * k / steps, py + (qy - py) * k / steps});
          }
        }
      }
    }
    if (include_reference_lines) {
      for (const ReferenceLine& line : reference_lines_) {
        if (!std::isfinite(line.y) || (log_y_ && line.y <= 0)) continue;
        const double py = y_axis.to_pixel(line.y);
        for (int px = plot.x; px < plot.x + plot.w; px += 3) samples.push_back({px, py});
      }
    }
    return samples;
  };

  // 4. Legend position: the inside corner covering the fewest data points. If every corner
  //    would hide data, put the legend outside, to the right of the plot.
  Rect legend{0, 0, legend_w, legend_h};
  if (show_legend) {
    const std::vector<std::pair<double, double>> samples = sample_data(true);
    constexpr int inset = 10;
    const Rect corners[4] = {
        {plot.x + plot.w - legend_w - inset, plot.y + inset, legend_w, legend_h},  // top right
        {plot.x + inset, plot.y + inset, legend_w, legend_h},                      // top left
        {plot.x + plot.w - legend_w - inset, plot.y + plot.h - legend_h - inset, legend_w,
         legend_h},                                                                // bottom right
        {plot.x + inset, plot.y + plot.h - legend_h - inset, legend_w, legend_h},  // bottom left
    };
    int best_count = std::numeric_limits<int>::max();
    for (const Rect& corner : corners) {
      // Grow the rectangle a little: a line just touching the legend's border looks covered too.
      const int count =
          count_inside(samples, {corner.x - 6, corner.y - 6, corner.w + 12, corner.h + 12});
      if (count < best_count) {
        best_count = count;
        legend = corner;
      }
    }
    const bool fits_inside = legend_w < plot.w / 2 && legend_h < plot.h / 2;
    if (best_count > 0 || !fits_inside) {
      plot.w -= legend_w + 20;
      set_axes();
      legend = {plot.x + plot.w + 20, plot.y, legend_w, legend_h};
    }
  }

  // x ticks: fewer of them until the widest label fits between neighbours with room to spare.
  std::vector<double> x_ticks;
  std::vector<std::string> x_tick_texts;
  for (int target = std::max(2, plot.w / 90); target >= 2 && has_data; --target) {
    x_ticks = nice_ticks(x_low, x_high, target);
    const double step = x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1.0;
    x_tick_texts.clear();
    int widest = 0;
    for (double tick : x_ticks) {
      x_tick_texts.push_back(format_tick(tick, step));
      widest = std::max(widest, text_width(x_tick_texts.back(), label_scale));
    }
    const double spacing =
        x_ticks.size() > 1 ? x_axis.to_pixel(x_ticks[1]) - x_axis.to_pixel(x_ticks[0]) : plot.w;
    if (widest + 24 <= spacing) break;
  }

  // 5. Grid lines (behind everything) at the ticks; on a log axis also faint lines at 2..9 x 10^k.
  if (log_minor_grid && has_data) {
    for (int e = static_cast<int>(std::floor(std::log10(y_low)));
         e <= static_cast<int>(std::ceil(std::log10(y_high))); ++e) {
      for (int m = 2; m <= 9; ++m) {
        const double value = m * std::pow(10.0, e);
        if (value <= y_low || value >= y_high) continue;
        const int py = static_cast<int>(std::lround(y_axis.to_pixel(value)));
        canvas.fill_rect(plot.x, py, plot.w, 1, Color{242, 242, 242});
      }
    }
  }
  for (double tick : y_ticks)
    canvas.fill_rect(plot.x, static_cast<int>(std::lround(y_axis.to_pixel(tick))), plot.w, 1,
                     colors::grid);
  for (double tick : x_ticks)
    canvas.fill_rect(static_cast<int>(std::lround(x_axis.to_pixel(tick))), plot.y, 1, plot.h,
                     colors::grid);

  // 6. Reference lines: dashed, with the label where it covers the least data.
  for (const ReferenceLine& line : reference_lines_) {
    if (!std::isfinite(line.y) || (log_y_ && line.y <= 0) || line.y < y_low || line.y > y_high)
      continue;
    const int py = static_cast<int>(std::lround(y_axis.to_pixel(line.y)));
    canvas.draw_dashed_hline(plot.x, plot.x + plot.w - 1, py, colors::muted, 2);
  }

  // 7. The data. Lines are split at unusable points (NaN, inf, y <= 0 on log), so a gap in
  //    the data shows as a gap in the line; a point with no drawable neighbour gets a dot.
  for (std::size_t s = 0; s < series_.size(); ++s) {
    const Series& series = series_[s];
    const Color color = series_color(static_cast<int>(s));
    const bool markers = markers_ == MarkerMode::always ||
                         (markers_ == MarkerMode::automatic && usable_count[s] <= 30);
    for (std::size_t i = 0; i < series.x.size(); ++i) {
      if (!usable(series.x[i], series.y[i])) continue;
      const double px = x_axis.to_pixel(series.x[i]), py = y_axis.to_pixel(series.y[i]);
      const bool next_ok = i + 1 < series.x.size() && usable(series.x[i + 1], series.y[i + 1]);
      const bool previous_ok = i > 0 && usable(series.x[i - 1], series.y[i - 1]);
      if (next_ok) {
        canvas.draw_line(px, py, x_axis.to_pixel(series.x[i + 1]), y_axis.to_pixel(series.y[i + 1]),
                         color, 2.5);
      }
      if (markers || (!next_ok && !previous_ok)) canvas.fill_circle(px, py, 4.0, color);
    }
  }

  // Clip: anything drawn outside the plot rectangle (data beyond a fixed y range) is
  // painted over with the background before the axes and labels go on top.
  canvas.fill_rect(0, 0, width_, plot.y, colors::white);
  canvas.fill_rect(0, plot.y + plot.h, width_, height_ - plot.y - plot.h, colors::white);
  canvas.fill_rect(0, 0, plot.x, height_, colors::white);
  canvas.fill_rect(plot.x + plot.w, 0, width_ - plot.x - plot.w, height_, colors::white);

  // 8. Frame, ticks and their labels, axis labels, title.
  canvas.draw_rect(plot.x - 1, plot.y - 1, plot.w + 2, plot.h + 2, colors::axis);
  for (std::size_t i = 0; i < y_ticks.size(); ++i) {
    const int py = static_cast<int>(std::lround(y_axis.to_pixel(y_ticks[i])));
    canvas.fill_rect(plot.x - 7, py, 6, 1, colors::axis);
    canvas.draw_text(plot.x - 12, py, y_tick_text(i), colors::text, label_scale, HAlign::right,
                     VAlign::middle);
  }
  for (std::size_t i = 0; i < x_ticks.size(); ++i) {
    const int px = static_cast<int>(std::lround(x_axis.to_pixel(x_ticks[i])));
    canvas.fill_rect(px, plot.y + plot.h + 1, 1, 6, colors::axis);
    canvas.draw_text(px, plot.y + plot.h + 14, x_tick_texts[i], colors::text, label_scale,
                     HAlign::center);
  }
  if (!x_label_.empty()) {
    canvas.draw_text(plot.x + plot.w / 2, plot.y + plot.h + 14 + text_height(label_scale) + 16,
                     x_label_, colors::text, label_scale, HAlign::center);
  }
  if (!y_label_.empty()) {
    canvas.draw_text(20, plot.y - 16, y_label_, colors::text, label_scale, HAlign::left,
                     VAlign::bottom);
  }
  if (!title_.empty())
    canvas.draw_text(width_ / 2, 20, title_, colors::text, title_scale, HAlign::center);

  // 9. Reference line labels: try the four places next to the line's ends (right above
  //    first) and take the one covering the fewest data points and not the legend.
  const std::vector<std::pair<double, double>> samples = sample_data(false);
  for (const ReferenceLine& line : reference_lines_) {
    if (line.label.empty() || !std::isfinite(line.y) || (log_y_ && line.y <= 0) || line.y < y_low ||
        line.y > y_high)
      continue;
    const int py = static_cast<int>(std::lround(y_axis.to_pixel(line.y)));
    const int w = text_width(line.label, label_scale) + 8, h = text_height(label_scale) + 8;
    const Rect places[4] = {
        {plot.x + plot.w - w - 6, py - h - 3, w, h},
        {plot.x + 6, py - h - 3, w, h},
        {plot.x + plot.w - w - 6, py + 4, w, h},
        {plot.x + 6, py + 4, w, h},
    };
    Rect best = places[0];
    int best_cost = std::numeric_limits<int>::max();
    for (const Rect& place : places) {
      const bool inside_plot = place.y >= plot.y && place.y + place.h <= plot.y + plot.h;
      const bool hits_legend = show_legend && place.x < legend.x + legend.w &&
                               legend.x < place.x + place.w && place.y < legend.y + legend.h &&
                               legend.y < place.y + place.h;
      // A label squeezed against the frame reads badly: a small penalty, less than hiding data.
      const bool cramped = place.y < plot.y + 6 || place.y + place.h > plot.y + plot.h - 6;
      const int cost = count_inside(samples, place) + (cramped ? 5 : 0) +
                       (hits_legend ? 100000 : 0) + (inside_plot ? 0 : 1000000);
      if (cost < best_cost) {
        best_cost = cost;
        best = place;
      }
    }
    canvas.fill_rect(best.x, best.y, best.w, best.h,
                     colors::white);  // keeps the text legible over grid lines
    canvas.draw_text(best.x + 4, best.y + 4, line.label, colors::muted, label_scale);
  }

  // 10. Legend box.
  if (show_legend) {
    canvas.fill_rect(legend.x, legend.y, legend.w, legend.h, colors::white);
    canvas.draw_rect(legend.x, legend.y, legend.w, legend.h, Color{190, 190, 190});
    for (std::size_t s = 0; s < series_.size(); ++s) {
      const int row_y = legend.y + legend_pad + static_cast<int>(s) * legend_row;
      const int middle = row_y + text_height(label_scale) / 2;
      const Color color = series_color(static_cast<int>(s));
      canvas.draw_line(legend.x + legend_pad, middle, legend.x + legend_pad + legend_sample, middle,
                       color, 3.0);
      canvas.draw_text(legend.x + legend_pad + legend_sample + 10, row_y, legend_names[s],
                       colors::text, label_scale);
    }
  }

  if (!has_data) {
    const std::string message = series_.empty() ? "no data: no series were added"
                                : log_y_ ? "no data: every point is NaN, inf, or <= 0 (log scale)"
                                         : "no data: every series is empty or NaN/inf";
    canvas.draw_text(plot.x + plot.w / 2, plot.y + plot.h / 2, message, colors::muted, label_scale,
                     HAlign::center, VAlign::middle);
  }
  return canvas;
}

}  // namespace viz
