// viz/canvas.cpp - pixels, shapes, text and PNG output.
#include "viz/canvas.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

// stb_image_write is a single-header library: exactly one .cpp file must define the
// implementation macro before including it. In viz that file is this one.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_easy_font.h>
#include <stb/stb_image_write.h>

namespace viz {

namespace {

// stb_easy_font indexes a table with (character - 32) and knows only printable ASCII,
// so anything else (newlines, UTF-8 bytes of tokens like "Ġthe") is shown as '?'.
std::string printable_ascii(std::string_view text) {
  std::string clean(text);
  for (char& c : clean) {
    if (c < 32 || c > 126) c = '?';
  }
  return clean;
}

// Distance from point p to the segment a-b.
double distance_to_segment(double px, double py, double ax, double ay, double bx, double by) {
  const double dx = bx - ax;
  const double dy = by - ay;
  const double length_squared = dx * dx + dy * dy;
  double t = 0.0;
  if (length_squared > 0.0)
    t = std::clamp(((px - ax) * dx + (py - ay) * dy) / length_squared, 0.0, 1.0);
  const double cx = ax + t * dx - px;
  const double cy = ay + t * dy - py;
  return std::sqrt(cx * cx + cy * cy);
}

}  // namespace

int text_width(std::string_view text, int scale) {
  if (text.empty()) return 0;
  std::string clean = printable_ascii(text);
  // stb counts a one-unit gap after the last character; drop it so centred text is centred.
  const int units = stb_easy_font_width(clean.data()) - 1;
  return std::max(units, 0) * scale;
}

int text_height(int scale) {
  return font_cap_height * scale;
}

Canvas::Canvas(int width, int height, Color background) : width_(width), height_(height) {
  if (width <= 0 || height <= 0) {
    throw std::invalid_argument("Canvas: size must be positive, got " + std::to_string(width) +
                                " x " + std::to_string(height));
  }
  pixels_.resize(static_cast<std::size_t>(width) * height * 3);
  for (std::size_t i = 0; i < pixels_.size(); i += 3) {
    pixels_[i] = background.r;
    pixels_[i + 1] = background.g;
    pixels_[i + 2] = background.b;
  }
}

Color Canvas::pixel(int x, int y) const {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) {
    throw std::out_of_range("Canvas::pixel: (" + std::to_string(x) + ", " + std::to_string(y) +
                            ") is outside the " + std::to_string(width_) + " x " +
                            std::to_string(height_) + " image");
  }
  const std::size_t i = (static_cast<std::size_t>(y) * width_ + x) * 3;
  return {pixels_[i], pixels_[i + 1], pixels_[i + 2]};
}

void Canvas::set_pixel(int x, int y, Color color) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  const std::size_t i = (static_cast<std::size_t>(y) * width_ + x) * 3;
  pixels_[i] = color.r;
  pixels_[i + 1] = color.g;
  pixels_[i + 2] = color.b;
}

void Canvas::blend_pixel(int x, int y, Color color, double alpha) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_ || alpha <= 0.0) return;
  alpha = std::min(alpha, 1.0);
  const std::size_t i = (static_cast<std::size_t>(y) * width_ + x) * 3;
  auto mix = [alpha](std::uint8_t old_value, std::uint8_t new_value) {
    return static_cast<std::uint8_t>(std::lround(old_value * (1.0 - alpha) + new_value * alpha));
  };
  pixels_[i] = mix(pixels_[i], color.r);
  pixels_[i + 1] = mix(pixels_[i + 1], color.g);
  pixels_[i + 2] = mix(pixels_[i + 2], color.b);
}

void Canvas::fill_rect(int x, int y, int w, int h, Color color) {
  const int x_end = std::min(x + w, width_);
  const int y_end = std::min(y + h, height_);
  for (int row = std::max(y, 0); row < y_end; ++row) {
    for (int col = std::max(x, 0); col < x_end; ++col) set_pixel(col, row, color);
  }
}

void Canvas::draw_rect(int x, int y, int w, int h, Color color, int thickness) {
  fill_rect(x, y, w, thickness, color);                  // top
  fill_rect(x, y + h - thickness, w, thickness, color);  // bottom
  fill_rect(x, y, thickness, h, color);                  // left
  fill_rect(x + w - thickness, y, thickness, h, color);  // right
}

void Canvas::draw_line(double x0, double y0, double x1, double y1, Color color, double thickness) {
  // Each pixel near the segment gets coverage = how far its centre lies inside the stroke,
  // clamped to [0, 1]. That one rule gives smooth edges at any angle and thickness.
  const double half = thickness / 2.0;
  const int left = static_cast<int>(std::floor(std::min(x0, x1) - half - 1));
  const int right = static_cast<int>(std::ceil(std::max(x0, x1) + half + 1));
  const int top = static_cast<int>(std::floor(std::min(y0, y1) - half - 1));
  const int bottom = static_cast<int>(std::ceil(std::max(y0, y1) + half + 1));
  for (int y = std::max(top, 0); y <= std::min(bottom, height_ - 1); ++y) {
    for (int x = std::max(left, 0); x <= std::min(right, width_ - 1); ++x) {
      const double distance = distance_to_segment(x, y, x0, y0, x1, y1);
      blend_pixel(x, y, color, std::clamp(half + 0.5 - distance, 0.0, 1.0));
    }
  }
}

void Canvas::draw_dashed_hline(int x0, int x1, int y, Color color, int thickness, int dash,
                               int gap) {
  for (int x = x0; x <= x1; x += dash + gap) {
    fill_rect(x, y - thickness / 2, std::min(dash, x1 - x + 1), thickness, color);
  }
}

void Canvas::fill_circle(double cx, double cy, double radius, Color color) {
  for (int y = static_cast<int>(cy - radius - 1); y <= static_cast<int>(cy + radius + 1); ++y) {
    for (int x = static_cast<int>(cx - radius - 1); x <= static_cast<int>(cx + radius + 1); ++x) {
      const double distance = std::hypot(x - cx, y - cy);
      blend_pixel(x, y, color, std::clamp(radius + 0.5 - distance, 0.0, 1.0));
    }
  }
}

void Canvas::fill_hatched_rect(int x, int y, int w, int h, Color background, Color stripe) {
  fill_rect(x, y, w, h, background);
  // Stripes follow the image diagonal (not the rectangle), so neighbouring masked cells
  // join into one continuous hatched region.
  for (int row = std::max(y, 0); row < std::min(y + h, height_); ++row) {
    for (int col = std::max(x, 0); col < std::min(x + w, width_); ++col) {
      if ((col + row) % 8 < 2) set_pixel(col, row, stripe);
    }
  }
}

void Canvas::draw_text(int x, int y, std::string_view text, Color color, int scale, HAlign halign,
                       VAlign valign) {
  if (text.empty()) return;
  std::string clean = printable_ascii(text);
  const int w = text_width(clean, scale);
  const int h = text_height(scale);
  if (halign == HAlign::center) x -= w / 2;
  if (halign == HAlign::right) x -= w;
  if (valign == VAlign::middle) y -= h / 2;
  if (valign == VAlign::bottom) y -= h;

  // stb_easy_font describes each glyph as axis-aligned quads (4 vertices of 16 bytes:
  // x, y, z as floats, then an RGBA colour). We only need each quad's corners, which lie
  // on whole font units, so scaling by an integer gives crisp, blocky letters.
  std::vector<char> vertex_buffer(clean.size() * 64 * 40 + 64);
  const int quad_count =
      stb_easy_font_print(0.0f, 0.0f, clean.data(), nullptr, vertex_buffer.data(),
                          static_cast<int>(vertex_buffer.size()));
  for (int q = 0; q < quad_count; ++q) {
    const char* quad = vertex_buffer.data() + q * 64;
    float min_x = 1e9f, min_y = 1e9f, max_x = -1e9f, max_y = -1e9f;
    for (int v = 0; v < 4; ++v) {
      float vertex[2];  // x, y; memcpy because the buffer is raw bytes, not floats
      std::memcpy(vertex, quad + v * 16, sizeof(vertex));
      min_x = std::min(min_x, vertex[0]);
      max_x = std::max(max_x, vertex[0]);
      min_y = std::min(min_y, vertex[1]);
      max_y = std::max(max_y, vertex[1]);
    }
    fill_rect(x + static_cast<int>(min_x) * scale, y + static_cast<int>(min_y) * scale,
              static_cast<int>(max_x - min_x) * scale, static_cast<int>(max_y - min_y) * scale,
              color);
  }
}

void Canvas::draw_text_rotated(int x, int y, std::string_view text, Color color, int scale) {
  if (text.empty()) return;
  // Draw the text upright into a strip, then copy its pixels turned: strip pixel (sx, sy) lands
  // at (left + sy, y + width - 1 - sx), so the strip's top edge becomes the left edge and its
  // end the top. Only the text's own pixels are copied: what lies under it stays visible.
  const int width = text_width(text, scale), height = font_line_height * scale;
  const Color background = color == colors::white ? colors::black : colors::white;
  Canvas strip(width, height, background);
  strip.draw_text(0, 0, text, color, scale);
  const int left = x - text_height(scale) / 2;
  for (int sy = 0; sy < height; ++sy)
    for (int sx = 0; sx < width; ++sx)
      if (strip.pixel(sx, sy) != background)
        set_pixel(left + sy, y + width - 1 - sx, strip.pixel(sx, sy));
}

void Canvas::save_png(const std::string& path) const {
  const int row_bytes = width_ * 3;
  if (stbi_write_png(path.c_str(), width_, height_, 3, pixels_.data(), row_bytes) == 0) {
    throw std::runtime_error("viz: could not write PNG to '" + path +
                             "' (does the folder exist and is it writable?)");
  }
}

std::string abbreviate(std::string_view text, int max_chars) {
  if (max_chars <= 0) return "";
  if (static_cast<int>(text.size()) <= max_chars) return std::string(text);
  if (max_chars == 1) return std::string(text.substr(0, 1));
  return std::string(text.substr(0, max_chars - 1)) + ".";
}

}  // namespace viz
