// viz/canvas.hpp - an RGB image you can draw on and save as PNG.
//
// Everything in viz draws into a Canvas: rectangles, anti-aliased lines, markers and
// text from stb_easy_font (a tiny segment font, scaled up by an integer so it stays crisp).
// Coordinates are pixels, x to the right, y downwards, (0, 0) is the top-left corner.
// Drawing outside the image is silently clipped, so callers need not check bounds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace viz {

// One sRGB colour, 8 bits per channel.
struct Color {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Color&) const = default;
};

// A few named colours used across the library.
namespace colors {
inline constexpr Color white{255, 255, 255};
inline constexpr Color black{0, 0, 0};
inline constexpr Color text{30, 30, 30};      // near-black for labels
inline constexpr Color axis{70, 70, 70};      // axis lines and frames
inline constexpr Color grid{225, 225, 225};   // light grid lines behind data
inline constexpr Color muted{110, 110, 110};  // secondary text (notes, reference lines)
}  // namespace colors

// Where a text anchor point sits relative to the text.
enum class HAlign { left, center, right };
enum class VAlign { top, middle, bottom };

// The text sizes every picture uses (integer scales of the font).
constexpr int label_scale = 2;  // tick labels, axis labels, legends, values in cells
constexpr int title_scale = 3;

// Font metrics of stb_easy_font, in font units; multiply by the scale for pixels.
inline constexpr int font_cap_height = 7;    // height of capitals and digits
inline constexpr int font_line_height = 12;  // distance between lines of text
inline constexpr int font_advance = 6;       // horizontal advance of most characters

// Width in pixels of a single line of text drawn at an integer scale.
int text_width(std::string_view text, int scale);
// Height in pixels of capitals/digits at an integer scale (what VAlign::middle centres).
int text_height(int scale);

class Canvas {
 public:
  // A width x height image filled with the background colour.
  Canvas(int width, int height, Color background = colors::white);

  int width() const { return width_; }
  int height() const { return height_; }

  // Colour at (x, y); throws std::out_of_range outside the image.
  Color pixel(int x, int y) const;
  // Sets one pixel; ignored outside the image.
  void set_pixel(int x, int y, Color color);
  // Mixes `color` into a pixel with weight alpha in [0, 1] (used for anti-aliasing).
  void blend_pixel(int x, int y, Color color, double alpha);

  // Filled axis-aligned rectangle covering [x, x+w) x [y, y+h).
  void fill_rect(int x, int y, int w, int h, Color color);
  // Rectangle outline of the given thickness, drawn inside [x, x+w) x [y, y+h).
  void draw_rect(int x, int y, int w, int h, Color color, int thickness = 1);
  // Anti-aliased straight line between two points; pixel (i, j) has its centre at (i, j).
  void draw_line(double x0, double y0, double x1, double y1, Color color, double thickness = 1.0);
  // Horizontal dashed line from x0 to x1 at row y.
  void draw_dashed_hline(int x0, int x1, int y, Color color, int thickness = 2, int dash = 10,
                         int gap = 6);
  // Anti-aliased filled disc centred at (cx, cy).
  void fill_circle(double cx, double cy, double radius, Color color);
  // Diagonal hatching over a rectangle: background plus stripes (used for masked cells).
  void fill_hatched_rect(int x, int y, int w, int h, Color background, Color stripe);

  // One line of text anchored at (x, y) with the given alignment; scale 2 is a good label size.
  void draw_text(int x, int y, std::string_view text, Color color, int scale = 2,
                 HAlign halign = HAlign::left, VAlign valign = VAlign::top);
  // One line of text turned a quarter turn counter-clockwise, so that it reads upwards (as the
  // labels under a matrix's columns in most plotting tools): the glyphs' caps are centred on
  // column x, and the text's last character ends at row y, the rest running down from there.
  // It takes text_width(text, scale) rows and about text_height(scale) columns.
  void draw_text_rotated(int x, int y, std::string_view text, Color color, int scale = 2);

  // Raw pixels, row-major, 3 bytes (R, G, B) per pixel.
  const std::vector<std::uint8_t>& rgb() const { return pixels_; }

  // Writes the image as PNG; throws std::runtime_error naming the path if that fails.
  void save_png(const std::string& path) const;

 private:
  int width_;
  int height_;
  std::vector<std::uint8_t> pixels_;
};

// Shortens text to at most max_chars characters, ending in '.' when something was cut.
std::string abbreviate(std::string_view text, int max_chars);

}  // namespace viz
