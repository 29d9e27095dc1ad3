// viz/heatmap.cpp - Heatmap and HeatmapGrid.
#include "viz/heatmap.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "viz/plot.hpp"  // nice_ticks, format_tick for the colour bar

namespace viz {

namespace {

constexpr int margin = 24;
constexpr int colorbar_width = 26;

struct ValueRange {
  double vmin = 0, vmax = 1;
};

void check_matrix(const char* function, std::size_t value_count, int rows, int cols) {
  if (rows <= 0 || cols <= 0) {
    throw std::invalid_argument(std::string(function) + ": rows and cols must be positive, got " +
                                std::to_string(rows) + " x " + std::to_string(cols));
  }
  if (value_count != static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols)) {
    throw std::invalid_argument(
        std::string(function) + ": got " + std::to_string(value_count) + " values for a " +
        std::to_string(rows) + " x " + std::to_string(cols) + " matrix (expected " +
        std::to_string(static_cast<long long>(rows) * cols) + ", row-major)");
  }
}

void check_range(const char* function, double vmin, double vmax) {
  if (!std::isfinite(vmin) || !std::isfinite(vmax) || !(vmax > vmin)) {
    throw std::invalid_argument(std::string(function) + ": need finite vmin < vmax, got " +
                                std::to_string(vmin) + " and " + std::to_string(vmax));
  }
}

bool any_nan(const std::vector<double>& values) {
  return std::any_of(values.begin(), values.end(), [](double v) { return std::isnan(v); });
}

// The colour range: the user's if set; otherwise min..max of the finite values (sequential) or
// -m..m with m = max |value| (diverging, so that 0 is always the white middle).
ValueRange choose_range(const std::vector<const std::vector<double>*>& matrices, ColormapKind kind,
                        bool fixed, double vmin, double vmax) {
  if (fixed) return {vmin, vmax};
  double low = INFINITY, high = -INFINITY;
  for (const std::vector<double>* values : matrices) {
    for (double v : *values) {
      if (!std::isfinite(v)) continue;
      low = std::min(low, v);
      high = std::max(high, v);
    }
  }
  if (low > high) return {0.0, 1.0};  // nothing finite: any range will do
  if (kind == ColormapKind::diverging) {
    const double largest = std::max(std::abs(low), std::abs(high));
    return largest > 0 ? ValueRange{-largest, largest} : ValueRange{-1.0, 1.0};
  }
  if (high == low) return {low - 0.5, high + 0.5};  // a constant matrix: mid-range colour
  return {low, high};
}

Color value_color(double value, ColormapKind kind, const ValueRange& range) {
  return colormap(kind, (value - range.vmin) / (range.vmax - range.vmin));
}

// Matrix area for a rows x cols matrix whose cells are `cell` pixels (square) at (x, y).
MatrixArea make_area(int x, int y, int rows, int cols, double cell) {
  return {x,
          y,
          static_cast<int>(std::lround(cell * cols)),
          static_cast<int>(std::lround(cell * rows)),
          rows,
          cols};
}

// Pixels per cell: as large as allowed, while the longer side stays within max_side pixels.
// Whole pixels when cells are at least 1 px, so every cell has the same size.
double choose_cell_size(int rows, int cols, double max_side, double max_cell) {
  const double cell = std::min(max_cell, max_side / std::max(rows, cols));
  return cell >= 1.0 ? std::floor(cell) : cell;
}

// Cells, NaN ones hatched, optional white lines between cells, and a frame.
void draw_cells(Canvas& canvas, const MatrixArea& area, const std::vector<double>& values,
                ColormapKind kind, const ValueRange& range, bool grid_lines) {
  // Cell (r, c) covers pixels [x + c * width / cols, x + (c + 1) * width / cols): integer
  // edges that tile the area exactly, even when cells are not a whole number of pixels.
  for (int r = 0; r < area.rows; ++r) {
    const int y0 = area.y + r * area.height / area.rows,
              y1 = area.y + (r + 1) * area.height / area.rows;
    for (int c = 0; c < area.cols; ++c) {
      const int x0 = area.x + c * area.width / area.cols,
                x1 = area.x + (c + 1) * area.width / area.cols;
      const double value = values[static_cast<std::size_t>(r) * area.cols + c];
      if (std::isnan(value)) {
        canvas.fill_hatched_rect(x0, y0, x1 - x0, y1 - y0, masked_color, masked_stripe_color);
      } else {
        canvas.fill_rect(x0, y0, x1 - x0, y1 - y0, value_color(value, kind, range));
      }
    }
  }
  const double cell = static_cast<double>(area.width) / area.cols;
  if (grid_lines && cell >= 10.0) {
    const int thickness = cell >= 40.0 ? 2 : 1;
    for (int r = 1; r < area.rows; ++r)
      canvas.fill_rect(area.x, area.y + r * area.height / area.rows, area.width, thickness,
                       colors::white);
    for (int c = 1; c < area.cols; ++c)
      canvas.fill_rect(area.x + c * area.width / area.cols, area.y, thickness, area.height,
                       colors::white);
  }
  canvas.draw_rect(area.x - 1, area.y - 1, area.width + 2, area.height + 2, colors::axis);
}

std::vector<double> colorbar_ticks(const ValueRange& range, int height) {
  return nice_ticks(range.vmin, range.vmax, std::clamp(height / 60, 4, 8));
}

std::string colorbar_tick_text(const std::vector<double>& ticks, std::size_t i) {
  return format_tick(ticks[i], ticks.size() > 1 ? ticks[1] - ticks[0] : ticks[i]);
}

// Width of the colour bar plus its tick labels.
int colorbar_extent(const ValueRange& range, int height) {
  const std::vector<double> ticks = colorbar_ticks(range, height);
  int widest = 0;
  for (std::size_t i = 0; i < ticks.size(); ++i)
    widest = std::max(widest, text_width(colorbar_tick_text(ticks, i), label_scale));
  return colorbar_width + 12 + widest;
}

// Vertical colour bar: vmax at the top, vmin at the bottom, ticks and numbers on the right.
void draw_colorbar(Canvas& canvas, int x, int y, int height, ColormapKind kind,
                   const ValueRange& range, const std::string& label) {
  for (int row = 0; row < height; ++row) {
    const double t = 1.0 - static_cast<double>(row) / (height - 1);
    canvas.fill_rect(x, y + row, colorbar_width, 1, colormap(kind, t));
  }
  canvas.draw_rect(x - 1, y - 1, colorbar_width + 2, height + 2, colors::axis);
  const std::vector<double> ticks = colorbar_ticks(range, height);
  for (std::size_t i = 0; i < ticks.size(); ++i) {
    const double t = (ticks[i] - range.vmin) / (range.vmax - range.vmin);
    const int py = y + static_cast<int>(std::lround((1.0 - t) * (height - 1)));
    canvas.fill_rect(x + colorbar_width, py, 5, 1, colors::axis);
    canvas.draw_text(x + colorbar_width + 10, py, colorbar_tick_text(ticks, i), colors::text,
                     label_scale, HAlign::left, VAlign::middle);
  }
  if (!label.empty())
    canvas.draw_text(x, y - 14, label, colors::text, label_scale, HAlign::left, VAlign::bottom);
}

// A hatched swatch and a few words explaining the hatched cells (by default "masked (NaN)").
int mask_note_width(const std::string& label) {
  return 34 + text_width(label, label_scale);
}
void draw_mask_note(Canvas& canvas, int x, int y, const std::string& label) {
  canvas.fill_hatched_rect(x, y, 26, 18, masked_color, masked_stripe_color);
  canvas.draw_rect(x, y, 26, 18, colors::axis);
  canvas.draw_text(x + 34, y + 9, label, colors::muted, label_scale, HAlign::left, VAlign::middle);
}

// Smallest of 1, 2, 5, 10, 20, 50, ... that is at least `needed`: show every stride-th label.
int nice_stride(double needed) {
  for (int power = 1;; power *= 10) {
    for (int m : {1, 2, 5}) {
      if (m * power >= needed) return m * power;
    }
  }
}

std::string format_cell_value(double value, int decimals) {
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

// "0", "1", ..., "count - 1": what an axis without labels shows.
std::vector<std::string> index_labels(int count) {
  std::vector<std::string> labels;
  for (int i = 0; i < count; ++i) labels.push_back(std::to_string(i));
  return labels;
}

// True when every label is a whole number ("7", "-3"): such labels are positions, and showing
// every second or fifth one loses nothing, while a word skipped is a token the reader cannot see.
bool all_integers(const std::vector<std::string>& labels) {
  for (const std::string& label : labels) {
    std::size_t start = !label.empty() && label[0] == '-' ? 1 : 0;
    if (label.size() == start) return false;
    for (std::size_t i = start; i < label.size(); ++i)
      if (label[i] < '0' || label[i] > '9') return false;
  }
  return true;
}

// Column labels under the matrix (the top of the text at row y), with a tick under each labelled
// cell when only every stride-th is drawn.
void draw_column_ticks(Canvas& canvas, const MatrixArea& area, const TickLabels& ticks, int y) {
  for (int c = 0; c < area.cols; c += ticks.stride) {
    if (ticks.rotated) {
      canvas.draw_text_rotated(area.center_x(c), y, ticks.texts[c], colors::text, label_scale);
    } else {
      canvas.draw_text(area.center_x(c), y, ticks.texts[c], colors::text, label_scale,
                       HAlign::center);
    }
    if (ticks.stride > 1)
      canvas.fill_rect(area.center_x(c), area.y + area.height + 1, 1, 5, colors::axis);
  }
}

// Row labels left of the matrix, right-aligned, with ticks when only every stride-th is drawn.
void draw_row_ticks(Canvas& canvas, const MatrixArea& area, const TickLabels& ticks) {
  for (int r = 0; r < area.rows; r += ticks.stride) {
    canvas.draw_text(area.x - 10, area.center_y(r), ticks.texts[r], colors::text, label_scale,
                     HAlign::right, VAlign::middle);
    if (ticks.stride > 1) canvas.fill_rect(area.x - 6, area.center_y(r), 5, 1, colors::axis);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Tick labels
// ---------------------------------------------------------------------------------------

TickLabels column_tick_labels(const std::vector<std::string>& labels, double cell, int scale) {
  TickLabels ticks;
  ticks.texts = labels;
  const int line = text_height(scale);
  int widest = 0;
  for (const std::string& text : labels) widest = std::max(widest, text_width(text, scale));
  if (widest + 8 <= cell) {  // 8 px: neighbouring words must not run together
    ticks.extent = line;
  } else if (all_integers(labels)) {
    ticks.stride = nice_stride((widest + 10) / cell);
    ticks.extent = line;
  } else {
    // Turned a quarter turn, a label needs only its height across a column.
    ticks.rotated = true;
    ticks.stride = nice_stride((line + 4) / cell);
    for (std::size_t c = 0; c < ticks.texts.size(); ++c) {
      ticks.texts[c] = abbreviate(ticks.texts[c], 12);
      if (c % ticks.stride == 0)
        ticks.extent = std::max(ticks.extent, text_width(ticks.texts[c], scale));
    }
  }
  return ticks;
}

TickLabels row_tick_labels(const std::vector<std::string>& labels, double cell, int scale) {
  TickLabels ticks;
  ticks.stride = nice_stride((text_height(scale) + 4) / cell);
  for (std::size_t r = 0; r < labels.size(); ++r) {
    ticks.texts.push_back(abbreviate(labels[r], 16));
    if (r % ticks.stride == 0)
      ticks.extent = std::max(ticks.extent, text_width(ticks.texts.back(), scale));
  }
  return ticks;
}

// ---------------------------------------------------------------------------------------
// Heatmap
// ---------------------------------------------------------------------------------------

Heatmap::Heatmap(const std::vector<float>& values, int rows, int cols)
    : values_(values.begin(), values.end()), rows_(rows), cols_(cols) {
  check_matrix("Heatmap", values.size(), rows, cols);
}

Heatmap::Heatmap(const std::vector<double>& values, int rows, int cols)
    : values_(values), rows_(rows), cols_(cols) {
  check_matrix("Heatmap", values.size(), rows, cols);
}

Heatmap& Heatmap::set_title(std::string title) {
  title_ = std::move(title);
  return *this;
}
Heatmap& Heatmap::set_x_label(std::string label) {
  x_label_ = std::move(label);
  return *this;
}
Heatmap& Heatmap::set_y_label(std::string label) {
  y_label_ = std::move(label);
  return *this;
}
Heatmap& Heatmap::set_colormap(ColormapKind kind) {
  colormap_ = kind;
  return *this;
}
Heatmap& Heatmap::set_show_values(bool show) {
  show_values_ = show;
  return *this;
}
Heatmap& Heatmap::set_grid_lines(bool show) {
  grid_lines_ = show;
  return *this;
}
Heatmap& Heatmap::set_colorbar_label(std::string label) {
  colorbar_label_ = std::move(label);
  return *this;
}
Heatmap& Heatmap::set_masked_label(std::string label) {
  masked_label_ = std::move(label);
  return *this;
}

Heatmap& Heatmap::set_row_labels(std::vector<std::string> labels) {
  if (static_cast<int>(labels.size()) != rows_) {
    throw std::invalid_argument("Heatmap::set_row_labels: got " + std::to_string(labels.size()) +
                                " labels for " + std::to_string(rows_) +
                                " rows; pass one label per row");
  }
  row_labels_ = std::move(labels);
  return *this;
}

Heatmap& Heatmap::set_col_labels(std::vector<std::string> labels) {
  if (static_cast<int>(labels.size()) != cols_) {
    throw std::invalid_argument("Heatmap::set_col_labels: got " + std::to_string(labels.size()) +
                                " labels for " + std::to_string(cols_) +
                                " columns; pass one label per column");
  }
  col_labels_ = std::move(labels);
  return *this;
}

Heatmap& Heatmap::set_range(double vmin, double vmax) {
  check_range("Heatmap::set_range", vmin, vmax);
  has_range_ = true;
  vmin_ = vmin;
  vmax_ = vmax;
  return *this;
}

// Everything render() needs to know about positions, decided once so that render() and
// matrix_area() agree.
struct Heatmap::Layout {
  MatrixArea matrix;
  ValueRange range;
  TickLabels row_ticks, col_ticks;
  bool annotate = false;  // print values inside cells
  int decimals = 2;
  int colorbar_x = 0, colorbar_height = 0;
  int x_label_y = 0, note_y = 0;
  bool has_masked = false;
  int width = 0, height = 0;
};

Heatmap::Layout Heatmap::compute_layout() const {
  Layout layout;
  layout.range = choose_range({&values_}, colormap_, has_range_, vmin_, vmax_);
  layout.has_masked = any_nan(values_);

  // Cells: up to 120 px (a 2 x 3 matrix is big), and the matrix at most 800 px on a side.
  const double cell = choose_cell_size(rows_, cols_, 800.0, 120.0);

  layout.row_ticks =
      row_tick_labels(row_labels_.empty() ? index_labels(rows_) : row_labels_, cell, label_scale);
  layout.col_ticks = column_tick_labels(col_labels_.empty() ? index_labels(cols_) : col_labels_,
                                        cell, label_scale);

  // Values inside cells: only when the widest number fits with some room.
  double largest = 0;
  for (double v : values_)
    if (std::isfinite(v)) largest = std::max(largest, std::abs(v));
  layout.decimals = largest >= 100 ? 0 : largest >= 10 ? 1 : 2;
  int widest_value = 0;
  for (double v : values_)
    if (std::isfinite(v))
      widest_value =
          std::max(widest_value, text_width(format_cell_value(v, layout.decimals), label_scale));
  // 14 px of slack: numbers touching the cell edges run into their neighbours' numbers.
  layout.annotate =
      show_values_ && cell >= text_height(label_scale) + 12 && widest_value + 14 <= cell;

  // Vertical positions, top to bottom: title, axis/colour-bar labels, matrix, column
  // labels, x-axis label, mask note.
  int y = margin;
  if (!title_.empty()) y += text_height(title_scale) + 22;
  if (!y_label_.empty() || !colorbar_label_.empty()) y += text_height(label_scale) + 14;
  const int matrix_x = margin + layout.row_ticks.extent + 12;
  layout.matrix = make_area(matrix_x, y, rows_, cols_, cell);
  y += layout.matrix.height + 10 + layout.col_ticks.extent + 14;
  layout.x_label_y = y;
  if (!x_label_.empty()) y += text_height(label_scale) + 16;
  layout.note_y = y;
  if (layout.has_masked) y += 18 + 12;

  layout.colorbar_height = std::max(layout.matrix.height, 180);
  layout.colorbar_x = layout.matrix.x + layout.matrix.width + 32;
  const int content_right =
      layout.colorbar_x + colorbar_extent(layout.range, layout.colorbar_height);
  layout.width = std::max({content_right + margin, text_width(title_, title_scale) + 2 * margin,
                           layout.matrix.x + mask_note_width(masked_label_) + margin,
                           layout.colorbar_x + text_width(colorbar_label_, label_scale) + margin});
  layout.height = std::max(y, layout.matrix.y + layout.colorbar_height + 16) + margin - 10;
  return layout;
}

MatrixArea Heatmap::matrix_area() const {
  return compute_layout().matrix;
}

Canvas Heatmap::render() const {
  const Layout layout = compute_layout();
  const MatrixArea& area = layout.matrix;
  Canvas canvas(layout.width, layout.height);

  if (!title_.empty())
    canvas.draw_text(layout.width / 2, margin, title_, colors::text, title_scale, HAlign::center);
  if (!y_label_.empty())
    canvas.draw_text(margin, area.y - 14, y_label_, colors::text, label_scale, HAlign::left,
                     VAlign::bottom);

  draw_cells(canvas, area, values_, colormap_, layout.range, grid_lines_);

  if (layout.annotate) {
    for (int r = 0; r < rows_; ++r) {
      for (int c = 0; c < cols_; ++c) {
        const double value = values_[static_cast<std::size_t>(r) * cols_ + c];
        if (std::isnan(value)) continue;
        const Color text_color =
            contrasting_text_color(value_color(value, colormap_, layout.range));
        canvas.draw_text(area.center_x(c), area.center_y(r),
                         format_cell_value(value, layout.decimals), text_color, label_scale,
                         HAlign::center, VAlign::middle);
      }
    }
  }

  draw_row_ticks(canvas, area, layout.row_ticks);
  draw_column_ticks(canvas, area, layout.col_ticks, area.y + area.height + 10);
  if (!x_label_.empty()) {
    canvas.draw_text(area.x + area.width / 2, layout.x_label_y, x_label_, colors::text, label_scale,
                     HAlign::center);
  }
  if (layout.has_masked) draw_mask_note(canvas, area.x, layout.note_y, masked_label_);

  draw_colorbar(canvas, layout.colorbar_x, area.y, layout.colorbar_height, colormap_, layout.range,
                colorbar_label_);
  return canvas;
}

void Heatmap::save(const std::string& path) const {
  render().save_png(path);
}

// ---------------------------------------------------------------------------------------
// HeatmapGrid
// ---------------------------------------------------------------------------------------

HeatmapGrid::HeatmapGrid(int columns) : columns_(columns) {
  if (columns <= 0)
    throw std::invalid_argument("HeatmapGrid: columns must be positive, got " +
                                std::to_string(columns));
}

HeatmapGrid& HeatmapGrid::set_title(std::string title) {
  title_ = std::move(title);
  return *this;
}
HeatmapGrid& HeatmapGrid::set_colormap(ColormapKind kind) {
  colormap_ = kind;
  return *this;
}
HeatmapGrid& HeatmapGrid::set_colorbar_label(std::string label) {
  colorbar_label_ = std::move(label);
  return *this;
}
HeatmapGrid& HeatmapGrid::set_masked_label(std::string label) {
  masked_label_ = std::move(label);
  return *this;
}
HeatmapGrid& HeatmapGrid::set_x_label(std::string label) {
  x_label_ = std::move(label);
  return *this;
}
HeatmapGrid& HeatmapGrid::set_y_label(std::string label) {
  y_label_ = std::move(label);
  return *this;
}

HeatmapGrid& HeatmapGrid::set_range(double vmin, double vmax) {
  check_range("HeatmapGrid::set_range", vmin, vmax);
  has_range_ = true;
  vmin_ = vmin;
  vmax_ = vmax;
  return *this;
}

HeatmapGrid& HeatmapGrid::add_panel(std::string title, const std::vector<double>& values, int rows,
                                    int cols, std::vector<std::string> row_labels,
                                    std::vector<std::string> col_labels) {
  check_matrix("HeatmapGrid::add_panel", values.size(), rows, cols);
  if (!row_labels.empty() && static_cast<int>(row_labels.size()) != rows)
    throw std::invalid_argument("HeatmapGrid::add_panel: got " + std::to_string(row_labels.size()) +
                                " row labels for " + std::to_string(rows) + " rows of panel '" +
                                title + "'; pass one label per row, or none");
  if (!col_labels.empty() && static_cast<int>(col_labels.size()) != cols)
    throw std::invalid_argument("HeatmapGrid::add_panel: got " + std::to_string(col_labels.size()) +
                                " column labels for " + std::to_string(cols) +
                                " columns of panel '" + title +
                                "'; pass one label per column, or none");
  panels_.push_back(
      {std::move(title), values, rows, cols, std::move(row_labels), std::move(col_labels)});
  return *this;
}

HeatmapGrid& HeatmapGrid::add_panel(std::string title, const std::vector<float>& values, int rows,
                                    int cols) {
  return add_panel(std::move(title), std::vector<double>(values.begin(), values.end()), rows, cols);
}

struct HeatmapGrid::Layout {
  std::vector<MatrixArea> areas;                 // one per panel
  std::vector<TickLabels> row_ticks, col_ticks;  // one per panel
  std::vector<std::string> titles;
  std::vector<int> title_x;  // centre of each panel title
  int title_height = 0;      // space above each matrix for its panel title
  ValueRange range;
  int colorbar_x = 0, colorbar_y = 0, colorbar_height = 0;
  int grid_center_x = 0, x_label_y = 0, note_y = 0;
  bool has_masked = false;
  int width = 0, height = 0;
};

HeatmapGrid::Layout HeatmapGrid::compute_layout() const {
  Layout layout;
  std::vector<const std::vector<double>*> matrices;
  for (const Panel& panel : panels_) {
    matrices.push_back(&panel.values);
    layout.has_masked = layout.has_masked || any_nan(panel.values);
  }
  layout.range = choose_range(matrices, colormap_, has_range_, vmin_, vmax_);

  const int panel_count = static_cast<int>(panels_.size());
  const int columns = std::max(1, std::min(columns_, panel_count));
  const int grid_rows = (panel_count + columns - 1) / columns;
  constexpr int gap_x = 28, gap_y = 26;

  // Each panel gets a square slot; the grid aims for about 1300 x 1400 pixels at most.
  const double slot = std::clamp(
      std::min(1150.0 / columns - gap_x, 1250.0 / std::max(grid_rows, 1) - 60.0), 40.0, 300.0);
  // A slot holds a panel's title, its row labels on the left, its matrix, and its column labels
  // underneath; every slot has the size of the largest, so the panels line up.
  int matrix_width = 100, matrix_height = 0;  // at least 100 px wide so panel titles have room
  int row_label_width = 0, col_label_height = 0;
  std::vector<double> cells;
  for (const Panel& panel : panels_) {
    const double cell = choose_cell_size(panel.rows, panel.cols, slot, 50.0);
    cells.push_back(cell);
    matrix_width = std::max(matrix_width, static_cast<int>(std::lround(cell * panel.cols)));
    matrix_height = std::max(matrix_height, static_cast<int>(std::lround(cell * panel.rows)));
    layout.row_ticks.push_back(row_tick_labels(
        panel.row_labels.empty() ? index_labels(panel.rows) : panel.row_labels, cell, label_scale));
    layout.col_ticks.push_back(column_tick_labels(
        panel.col_labels.empty() ? index_labels(panel.cols) : panel.col_labels, cell, label_scale));
    row_label_width = std::max(row_label_width, layout.row_ticks.back().extent + 10);
    col_label_height = std::max(col_label_height, layout.col_ticks.back().extent + 10);
  }
  const int slot_width = row_label_width + matrix_width;
  const int slot_height = matrix_height + col_label_height;

  int y = margin;
  if (!title_.empty()) y += text_height(title_scale) + 22;
  if (!colorbar_label_.empty() || !y_label_.empty()) y += text_height(label_scale) + 24;
  layout.title_height = text_height(label_scale) + 12;
  for (int i = 0; i < panel_count; ++i) {
    const int grid_row = i / columns, grid_col = i % columns;
    const int slot_x = margin + grid_col * (slot_width + gap_x);
    const int slot_y =
        y + grid_row * (layout.title_height + slot_height + gap_y) + layout.title_height;
    const Panel& panel = panels_[i];
    MatrixArea area = make_area(slot_x + row_label_width, slot_y, panel.rows, panel.cols, cells[i]);
    area.x += (matrix_width - area.width) / 2;  // centre narrower panels in their slot
    layout.areas.push_back(area);
    // A panel title may use its whole slot, row labels included, and most of the gap: centred
    // over the matrix where it fits, shifted left as far as it needs to.
    const int title_room = slot_width + gap_x - 8;
    layout.titles.push_back(abbreviate(panel.title, title_room / (font_advance * label_scale)));
    const int half = text_width(layout.titles.back(), label_scale) / 2;
    layout.title_x.push_back(std::clamp(area.x + area.width / 2, slot_x + half,
                                        std::max(slot_x + half, slot_x + title_room - half)));
  }
  const int grid_right = margin + columns * slot_width + (columns - 1) * gap_x;
  const int grid_bottom =
      y + grid_rows * (layout.title_height + slot_height) + (grid_rows - 1) * gap_y;

  layout.colorbar_x = grid_right + 36;
  layout.colorbar_y = y + layout.title_height;
  layout.colorbar_height = std::max(grid_bottom - layout.colorbar_y, 180);
  layout.grid_center_x = (margin + grid_right) / 2;
  layout.x_label_y = grid_bottom + 14;
  layout.note_y = layout.x_label_y + (x_label_.empty() ? 4 : text_height(label_scale) + 18);
  const int bottom = std::max(layout.has_masked ? layout.note_y + 18 : layout.note_y - 4,
                              layout.colorbar_y + layout.colorbar_height);
  layout.width =
      std::max({layout.colorbar_x + colorbar_extent(layout.range, layout.colorbar_height) + margin,
                text_width(title_, title_scale) + 2 * margin,
                margin + mask_note_width(masked_label_) + margin,
                layout.colorbar_x + text_width(colorbar_label_, label_scale) + margin});
  layout.height = bottom + margin;
  return layout;
}

MatrixArea HeatmapGrid::panel_area(int index) const {
  if (index < 0 || index >= static_cast<int>(panels_.size())) {
    throw std::out_of_range("HeatmapGrid::panel_area: index " + std::to_string(index) +
                            " but the grid has " + std::to_string(panels_.size()) + " panels");
  }
  return compute_layout().areas[index];
}

Canvas HeatmapGrid::render() const {
  const Layout layout = compute_layout();
  Canvas canvas(layout.width, layout.height);
  if (!title_.empty())
    canvas.draw_text(layout.width / 2, margin, title_, colors::text, title_scale, HAlign::center);
  if (panels_.empty()) {
    canvas.draw_text(layout.width / 2, layout.height / 2, "no panels", colors::muted, label_scale,
                     HAlign::center, VAlign::middle);
    return canvas;
  }
  for (std::size_t i = 0; i < panels_.size(); ++i) {
    const MatrixArea& area = layout.areas[i];
    canvas.draw_text(layout.title_x[i], area.y - layout.title_height, layout.titles[i],
                     colors::text, label_scale, HAlign::center);
    draw_cells(canvas, area, panels_[i].values, colormap_, layout.range, true);
    draw_row_ticks(canvas, area, layout.row_ticks[i]);
    draw_column_ticks(canvas, area, layout.col_ticks[i], area.y + area.height + 10);
  }
  draw_colorbar(canvas, layout.colorbar_x, layout.colorbar_y, layout.colorbar_height, colormap_,
                layout.range, colorbar_label_);
  if (!y_label_.empty()) {
    canvas.draw_text(margin, layout.colorbar_y - layout.title_height - 22, "rows: " + y_label_,
                     colors::text, label_scale, HAlign::left, VAlign::bottom);
  }
  if (!x_label_.empty()) {
    canvas.draw_text(layout.grid_center_x, layout.x_label_y, "columns: " + x_label_, colors::text,
                     label_scale, HAlign::center);
  }
  if (layout.has_masked) draw_mask_note(canvas, margin, layout.note_y, masked_label_);
  return canvas;
}

void HeatmapGrid::save(const std::string& path) const {
  render().save_png(path);
}

}  // namespace viz
