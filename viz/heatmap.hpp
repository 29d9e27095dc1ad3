// viz/heatmap.hpp - matrices as coloured grids: attention weights, confusion matrices, saliency.
//
//   viz::Heatmap map(weights, T, T);  // weights: [T, T], row-major; NaN marks masked cells
//   map.set_title("Attention, layer 0 head 1").set_range(0, 1);
//   map.set_row_labels(tokens).set_col_labels(tokens);
//   map.set_y_label("query").set_x_label("key");
//   map.save("attention.png");
//
// Cells are sized so a 2 x 3 matrix is large and readable and a 128 x 128 one still fits in
// about 800 x 800 pixels. Values are printed inside cells when the cells are large enough.
#pragma once

#include <string>
#include <vector>

#include "viz/canvas.hpp"
#include "viz/colormap.hpp"

namespace viz {

// Where render() puts the matrix inside the image (pixels), so callers can find cell (r, c).
struct MatrixArea {
  int x = 0, y = 0, width = 0, height = 0;
  int rows = 0, cols = 0;
  // Pixel at the centre of cell (row, col).
  int center_x(int col) const { return x + (2 * col + 1) * width / (2 * cols); }
  int center_y(int row) const { return y + (2 * row + 1) * height / (2 * rows); }
};

// How the labels along one edge of a matrix are drawn, decided from the labels and the size of
// a cell, so that no two labels overlap and none is written one letter per line.
struct TickLabels {
  std::vector<std::string> texts;  // one per row / column, as drawn (long ones shortened)
  int stride = 1;                  // every stride-th label is drawn; a tick marks each one
  bool rotated = false;            // turned a quarter turn, reading upwards (columns only)
  int extent = 0;  // pixels the labels take away from the matrix: height under it (columns),
                   // width beside it (rows)
};
// Column labels: written across when the widest fits in a cell. Otherwise numbers (indices, or
// labels that are all integers) stay across and every stride-th is drawn, and words (tokens)
// are turned a quarter turn, each one drawn unless even their height does not fit in a cell.
TickLabels column_tick_labels(const std::vector<std::string>& labels, double cell, int scale);
// Row labels: always across, shortened to 16 characters, every stride-th when rows are thin.
TickLabels row_tick_labels(const std::vector<std::string>& labels, double cell, int scale);

class Heatmap {
 public:
  // values: [rows, cols], row-major; values.size() must be rows * cols. NaN = masked cell.
  Heatmap(const std::vector<float>& values, int rows, int cols);
  Heatmap(const std::vector<double>& values, int rows, int cols);

  Heatmap& set_title(std::string title);
  // One label per row / column (e.g. tokens); without them rows and columns show indices.
  Heatmap& set_row_labels(std::vector<std::string> labels);
  Heatmap& set_col_labels(std::vector<std::string> labels);
  // Axis names, e.g. y "query position", x "key position".
  Heatmap& set_x_label(std::string label);
  Heatmap& set_y_label(std::string label);
  // Fixed colour range (e.g. 0..1 for attention weights) instead of the data's min..max.
  Heatmap& set_range(double vmin, double vmax);
  // sequential (default) or diverging; diverging centres the range on 0 unless set_range is used.
  Heatmap& set_colormap(ColormapKind kind);
  // Print each value inside its cell when cells are large enough (default true).
  Heatmap& set_show_values(bool show);
  // Thin white lines between cells when cells are large enough (default true).
  Heatmap& set_grid_lines(bool show);
  // Text above the colour bar, e.g. "weight".
  Heatmap& set_colorbar_label(std::string label);
  // The words next to the hatched swatch that explains NaN cells (default "masked (NaN)"), e.g.
  // "blocked: weight 0" where NaN only marks attention pairs that a mask forbids.
  Heatmap& set_masked_label(std::string label);

  // Draws the heatmap into a new image.
  Canvas render() const;
  // Renders and writes a PNG; throws std::runtime_error naming the path if writing fails.
  void save(const std::string& path) const;
  // Where render() draws the matrix.
  MatrixArea matrix_area() const;

 private:
  struct Layout;
  Layout compute_layout() const;

  std::vector<double> values_;  // [rows_, cols_]
  int rows_, cols_;
  std::string title_, x_label_, y_label_, colorbar_label_;
  std::string masked_label_ = "masked (NaN)";
  std::vector<std::string> row_labels_, col_labels_;
  bool has_range_ = false;
  double vmin_ = 0, vmax_ = 1;
  ColormapKind colormap_ = ColormapKind::sequential;
  bool show_values_ = true;
  bool grid_lines_ = true;
};

// Several heatmaps side by side (one per attention head, say) with one shared colour scale,
// so equal colours mean equal values in every panel.
class HeatmapGrid {
 public:
  // columns: panels per row of the grid.
  explicit HeatmapGrid(int columns);

  HeatmapGrid& set_title(std::string title);
  // Fixed shared range; by default the range over all panels.
  HeatmapGrid& set_range(double vmin, double vmax);
  HeatmapGrid& set_colormap(ColormapKind kind);
  HeatmapGrid& set_colorbar_label(std::string label);
  // As Heatmap::set_masked_label.
  HeatmapGrid& set_masked_label(std::string label);
  // Axis names shared by all panels, e.g. y "query", x "key"; shown once for the whole grid
  // (each panel has its own ticks).
  HeatmapGrid& set_x_label(std::string label);
  HeatmapGrid& set_y_label(std::string label);
  // Adds a panel: values [rows, cols], row-major, NaN = masked; panels fill the grid row by row.
  // Each panel shows its own row and column indices, or the labels given (one per row / column,
  // e.g. tokens; empty = indices).
  HeatmapGrid& add_panel(std::string title, const std::vector<float>& values, int rows, int cols);
  HeatmapGrid& add_panel(std::string title, const std::vector<double>& values, int rows, int cols,
                         std::vector<std::string> row_labels = {},
                         std::vector<std::string> col_labels = {});

  Canvas render() const;
  void save(const std::string& path) const;
  // Where render() draws the matrix of panel `index`.
  MatrixArea panel_area(int index) const;

 private:
  struct Panel {
    std::string title;
    std::vector<double> values;
    int rows, cols;
    std::vector<std::string> row_labels, col_labels;  // empty: indices
  };
  struct Layout;
  Layout compute_layout() const;

  int columns_;
  std::string title_, colorbar_label_, x_label_, y_label_;
  std::string masked_label_ = "masked (NaN)";
  bool has_range_ = false;
  double vmin_ = 0, vmax_ = 1;
  ColormapKind colormap_ = ColormapKind::sequential;
  std::vector<Panel> panels_;
};

}  // namespace viz
