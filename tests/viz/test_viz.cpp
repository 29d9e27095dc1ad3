// tests/viz/test_viz.cpp - checks for the viz pictures: colour maps, ticks, text, heatmaps, plots.
//
// Pixels are checked at places whose colour is known in advance (cell centres, text boxes),
// so these tests fail when drawing goes wrong, not only when it crashes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// stb_image reads PNGs back; its implementation is compiled here and nowhere else.
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

#include "viz/canvas.hpp"
#include "viz/colormap.hpp"
#include "viz/heatmap.hpp"
#include "viz/plot.hpp"

namespace {

// CIELAB lightness L* of an sRGB colour, written out independently of viz's own converter.
double lightness_of(viz::Color color) {
  auto to_linear = [](int code) {
    const double c = code / 255.0;
    return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
  };
  const double luminance =
      0.2126 * to_linear(color.r) + 0.7152 * to_linear(color.g) + 0.0722 * to_linear(color.b);
  return luminance > 216.0 / 24389.0 ? 116.0 * std::cbrt(luminance) - 16.0
                                     : luminance * 24389.0 / 27.0;
}

std::string message_of(const std::exception& error) {
  return error.what();
}

// Runs f, which must throw std::invalid_argument; returns the message.
template <typename Function>
std::string invalid_argument_message(Function f) {
  try {
    f();
  } catch (const std::invalid_argument& error) {
    return message_of(error);
  }
  FAIL("expected std::invalid_argument");
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

int count_pixels(const viz::Canvas& canvas, viz::Color color) {
  int count = 0;
  for (int y = 0; y < canvas.height(); ++y)
    for (int x = 0; x < canvas.width(); ++x) count += canvas.pixel(x, y) == color ? 1 : 0;
  return count;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Colour maps
// ---------------------------------------------------------------------------------------

TEST_CASE("viz: sequential colormap lightness rises strictly along the table") {
  const auto& table = viz::colormap_table(viz::ColormapKind::sequential);
  for (int i = 1; i < 256; ++i) {
    INFO("entry " << i);
    CHECK(lightness_of(table[i]) > lightness_of(table[i - 1]));
  }
  // Dark to light over a wide range, so small and large values are easy to tell apart.
  CHECK(lightness_of(table[0]) < 25.0);
  CHECK(lightness_of(table[255]) > 85.0);
  // Roughly linear in lightness: the middle entry sits near the middle L*.
  CHECK(std::abs(lightness_of(table[128]) -
                 (lightness_of(table[0]) + lightness_of(table[255])) / 2) < 3.0);
}

TEST_CASE("viz: colormap lookup clamps, and NaN gives the masked colour") {
  const auto& table = viz::colormap_table(viz::ColormapKind::sequential);
  CHECK(viz::colormap(viz::ColormapKind::sequential, 0.0) == table[0]);
  CHECK(viz::colormap(viz::ColormapKind::sequential, 1.0) == table[255]);
  CHECK(viz::colormap(viz::ColormapKind::sequential, -3.0) == table[0]);
  CHECK(viz::colormap(viz::ColormapKind::sequential, 7.0) == table[255]);
  CHECK(viz::colormap(viz::ColormapKind::sequential, NAN) == viz::masked_color);
}

TEST_CASE("viz: diverging colormap is light in the middle and equally dark at both ends") {
  const auto& table = viz::colormap_table(viz::ColormapKind::diverging);
  const viz::Lab middle = viz::srgb_to_lab(viz::colormap(viz::ColormapKind::diverging, 0.5));
  CHECK(middle.L > 90.0);
  CHECK(std::hypot(middle.a, middle.b) < 10.0);  // nearly grey/white
  CHECK(std::abs(lightness_of(table[0]) - lightness_of(table[255])) < 1.0);
  // Lightness falls from the middle towards each end.
  for (int i = 1; i < 128; ++i) CHECK(lightness_of(table[i]) >= lightness_of(table[i - 1]) - 0.05);
  for (int i = 129; i < 256; ++i)
    CHECK(lightness_of(table[i]) <= lightness_of(table[i - 1]) + 0.05);
  // Negative side blue, positive side red.
  CHECK(table[0].b > table[0].r);
  CHECK(table[255].r > table[255].b);
}

TEST_CASE("viz: Lab conversion round-trips and rejects colours a screen cannot show") {
  for (viz::Color color : {viz::Color{0, 0, 0}, viz::Color{255, 255, 255}, viz::Color{200, 30, 90},
                           viz::Color{12, 140, 250}}) {
    viz::Color back{};
    REQUIRE(viz::lab_to_srgb(viz::srgb_to_lab(color), back));
    CHECK(back == color);
  }
  viz::Color unused{};
  CHECK_FALSE(viz::lab_to_srgb(viz::Lab{50.0, 150.0, 0.0}, unused));
  CHECK(std::abs(viz::srgb_to_lab(viz::Color{255, 255, 255}).L - 100.0) < 0.01);
}

// ---------------------------------------------------------------------------------------
// Ticks
// ---------------------------------------------------------------------------------------

TEST_CASE("viz: nice_ticks uses 1, 2, 5 x 10^k steps") {
  const std::vector<double> unit = viz::nice_ticks(0.0, 1.0, 6);
  REQUIRE(unit.size() == 6);
  for (int i = 0; i < 6; ++i) CHECK(unit[i] == doctest::Approx(0.2 * i));

  struct Case {
    double low, high;
    int target;
  };
  const Case cases[] = {{0, 10, 5},       {-3, 7, 6},       {0.013, 0.0871, 5},
                        {1200, 98000, 6}, {-1e-4, 3e-4, 4}, {3.2, 3.3, 5}};
  for (const Case& c : cases) {
    const std::vector<double> ticks = viz::nice_ticks(c.low, c.high, c.target);
    INFO("range " << c.low << " .. " << c.high);
    REQUIRE(ticks.size() >= 2);
    const double step = ticks[1] - ticks[0];
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    CHECK((mantissa == doctest::Approx(1.0) || mantissa == doctest::Approx(2.0) ||
           mantissa == doctest::Approx(5.0)));
    for (double tick : ticks) {
      CHECK(tick >= c.low - 1e-12);
      CHECK(tick <= c.high + 1e-12);
      CHECK(std::abs(tick / step - std::round(tick / step)) < 1e-6);  // multiples of the step
    }
    CHECK(ticks.size() <= static_cast<std::size_t>(2 * c.target + 1));
  }
  const std::vector<double> around_zero = viz::nice_ticks(-0.3, 0.7, 6);
  CHECK(std::count(around_zero.begin(), around_zero.end(), 0.0) == 1);  // exactly zero, not 1e-17
  CHECK(viz::nice_ticks(2.5, 2.5) == std::vector<double>{2.5});
  CHECK(viz::nice_ticks(1.0, 0.0).empty());
}

TEST_CASE("viz: log_ticks gives decades, or 1-2-5 values on short ranges") {
  const std::vector<double> decades = viz::log_ticks(1e-3, 100.0);
  REQUIRE(decades.size() == 6);
  for (int i = 0; i < 6; ++i) CHECK(decades[i] == doctest::Approx(std::pow(10.0, i - 3)));

  const std::vector<double> short_range = viz::log_ticks(0.04, 5.0);
  CHECK(short_range == std::vector<double>{0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0});

  CHECK(viz::log_ticks(0.0, 10.0).empty());  // log of 0 does not exist
  CHECK(viz::log_ticks(-1.0, 10.0).empty());
  CHECK(viz::log_ticks(3.0, 4.0).size() >= 2);  // less than a 2x range still gets ticks
}

TEST_CASE("viz: format_tick shows as many decimals as the step needs") {
  CHECK(viz::format_tick(0.4, 0.2) == "0.4");
  CHECK(viz::format_tick(0.0, 0.2) == "0.0");
  CHECK(viz::format_tick(-0.6000000000000001, 0.2) == "-0.6");
  CHECK(viz::format_tick(1000, 200) == "1000");
  CHECK(viz::format_tick(0.05, 0.05) == "0.05");
  CHECK(viz::format_tick(1e-5, 1e-5) == "1e-5");
  CHECK(viz::format_tick(2e6, 1e6) == "2e6");
  CHECK(viz::format_tick(1e-17, 0.5) == "0.0");
}

// ---------------------------------------------------------------------------------------
// Canvas and text
// ---------------------------------------------------------------------------------------

TEST_CASE("viz: text is drawn as dark pixels inside its box and nowhere else") {
  viz::Canvas canvas(200, 60);
  const std::string label = "loss 0.25";
  canvas.draw_text(10, 20, label, viz::colors::black, 2);
  const int w = viz::text_width(label, 2), h = 9 * 2;  // 9 font units including descenders
  int dark_inside = 0, dark_outside = 0, rightmost_dark = -1;
  for (int y = 0; y < canvas.height(); ++y) {
    for (int x = 0; x < canvas.width(); ++x) {
      const bool dark = canvas.pixel(x, y) == viz::colors::black;
      const bool inside = x >= 10 && x < 10 + w && y >= 20 && y < 20 + h;
      (inside ? dark_inside : dark_outside) += dark ? 1 : 0;
      if (dark) rightmost_dark = std::max(rightmost_dark, x);
    }
  }
  CHECK(dark_inside > 100);
  CHECK(dark_outside == 0);
  CHECK(rightmost_dark >= 10 + w - 6);  // the measured width is tight: no trailing gap

  // Centred text is centred.
  viz::Canvas centred(200, 40);
  centred.draw_text(100, 20, "ABC", viz::colors::black, 3, viz::HAlign::center,
                    viz::VAlign::middle);
  int left = 200, right = -1;
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 200; ++x)
      if (centred.pixel(x, y) == viz::colors::black) {
        left = std::min(left, x);
        right = std::max(right, x);
      }
  CHECK(std::abs((left + right) / 2.0 - 100.0) <= 3.0);
}

TEST_CASE("viz: canvas clips drawing and checks pixel reads") {
  viz::Canvas canvas(10, 10);
  canvas.fill_rect(-5, -5, 8, 8, viz::colors::black);  // partly outside: clipped, no crash
  canvas.draw_line(-20, 5, 30, 5, viz::colors::black, 2.0);
  CHECK(canvas.pixel(0, 0) == viz::colors::black);
  CHECK(canvas.pixel(9, 9) == viz::colors::white);
  CHECK(canvas.pixel(9, 5) == viz::colors::black);
  CHECK_THROWS_AS(canvas.pixel(10, 0), std::out_of_range);
  CHECK_THROWS_AS(viz::Canvas(0, 5), std::invalid_argument);
  CHECK(viz::abbreviate("international", 6) == "inter.");
  CHECK(viz::abbreviate("cat", 6) == "cat");
}

TEST_CASE("viz: saved PNG reads back with the rendered size and pixels") {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / "viz_test_heatmap.png";
  viz::Heatmap heatmap(std::vector<float>{0.1f, 0.9f, 0.4f, 0.6f, 0.2f, 0.8f}, 2, 3);
  heatmap.set_title("test");
  const viz::Canvas image = heatmap.render();
  heatmap.save(path.string());

  int width = 0, height = 0, channels = 0;
  unsigned char* pixels = stbi_load(path.string().c_str(), &width, &height, &channels, 3);
  REQUIRE(pixels != nullptr);
  CHECK(width == image.width());
  CHECK(height == image.height());
  const viz::MatrixArea area = heatmap.matrix_area();
  const int x = area.center_x(1), y = area.center_y(0) - 20;  // above the printed number
  const unsigned char* p = pixels + (static_cast<std::size_t>(y) * width + x) * 3;
  CHECK(viz::Color{p[0], p[1], p[2]} == image.pixel(x, y));
  stbi_image_free(pixels);
  std::filesystem::remove(path);
}

TEST_CASE("viz: saving to a folder that does not exist throws with the path") {
  const std::string path = "/nonexistent_viz_folder/plot.png";
  viz::LinePlot plot("x");
  plot.add_series("a", std::vector<double>{1, 2, 3});
  try {
    plot.save(path);
    FAIL("expected std::runtime_error");
  } catch (const std::runtime_error& error) {
    CHECK(contains(error.what(), path));
  }
}

// ---------------------------------------------------------------------------------------
// Heatmaps
// ---------------------------------------------------------------------------------------

TEST_CASE("viz: heatmap cells have the colormap's colours and NaN cells the masked colour") {
  // [[1, 0], [0.5, NaN]] with the range fixed to 0..1
  viz::Heatmap heatmap(std::vector<float>{1.0f, 0.0f, 0.5f, NAN}, 2, 2);
  heatmap.set_range(0.0, 1.0).set_show_values(false);
  const viz::Canvas image = heatmap.render();
  const viz::MatrixArea area = heatmap.matrix_area();
  const auto& table = viz::colormap_table(viz::ColormapKind::sequential);

  CHECK(image.pixel(area.center_x(0), area.center_y(0)) == table[255]);
  CHECK(image.pixel(area.center_x(1), area.center_y(0)) == table[0]);
  CHECK(image.pixel(area.center_x(0), area.center_y(1)) ==
        viz::colormap(viz::ColormapKind::sequential, 0.5));
  const viz::Color masked = image.pixel(area.center_x(1), area.center_y(1));
  CHECK((masked == viz::masked_color || masked == viz::masked_stripe_color));
  // The masked cell is explained by a note below the matrix, starting with a hatched swatch.
  int swatch_pixels = 0;
  for (int y = area.y + area.height + 1; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x)
      swatch_pixels += image.pixel(x, y) == viz::masked_stripe_color ? 1 : 0;
  CHECK(swatch_pixels > 20);
  // Without NaN there is no hatching anywhere.
  const viz::Canvas unmasked = viz::Heatmap(std::vector<float>{1, 0, 0.5f, 0.2f}, 2, 2).render();
  CHECK(count_pixels(unmasked, viz::masked_stripe_color) == 0);
}

TEST_CASE("viz: heatmap prints values in big cells, with contrasting text") {
  viz::Heatmap heatmap(std::vector<float>{1.0f, 0.0f}, 1, 2);
  heatmap.set_range(0.0, 1.0);
  const viz::Canvas image = heatmap.render();
  const viz::MatrixArea area = heatmap.matrix_area();
  // Within each cell, look for the text colour: dark on the light (1.0) cell, white on the dark
  // (0.0) cell.
  auto cell_has = [&](int col, viz::Color color) {
    const int half = area.width / area.cols / 2 - 4;
    for (int y = area.center_y(0) - 10; y <= area.center_y(0) + 10; ++y)
      for (int x = area.center_x(col) - half; x <= area.center_x(col) + half; ++x)
        if (image.pixel(x, y) == color) return true;
    return false;
  };
  CHECK(cell_has(0, viz::colors::text));
  CHECK(cell_has(1, viz::colors::white));
  CHECK_FALSE(cell_has(0, viz::colors::white));
}

TEST_CASE("viz: diverging heatmap centres its range on zero") {
  viz::Heatmap heatmap(std::vector<double>{-2.0, 0.0, 1.0, 2.0}, 2, 2);
  heatmap.set_colormap(viz::ColormapKind::diverging).set_show_values(false);
  const viz::Canvas image = heatmap.render();
  const viz::MatrixArea area = heatmap.matrix_area();
  const auto& table = viz::colormap_table(viz::ColormapKind::diverging);
  CHECK(image.pixel(area.center_x(0), area.center_y(0)) == table[0]);
  CHECK(image.pixel(area.center_x(1), area.center_y(0)) ==
        viz::colormap(viz::ColormapKind::diverging, 0.5));
  CHECK(image.pixel(area.center_x(1), area.center_y(1)) == table[255]);
}

TEST_CASE("viz: heatmap cell size suits small and large matrices") {
  const viz::Heatmap small(std::vector<float>(6, 0.5f), 2, 3);
  CHECK(small.matrix_area().width / 3 >= 80);  // a 2 x 3 matrix gets big cells

  const viz::Heatmap large(std::vector<float>(128 * 128, 0.5f), 128, 128);
  const viz::Canvas large_image = large.render();
  CHECK(large.matrix_area().width >= 500);
  CHECK(large_image.width() <= 1600);
  CHECK(large_image.height() <= 1600);

  const viz::Heatmap long_row(std::vector<float>(3000, 0.5f), 1,
                              3000);  // less than a pixel per cell
  const viz::Canvas long_image = long_row.render();
  CHECK(long_image.width() <= 1600);
}

namespace {

// The first and last image rows, below the matrix and within its width, that hold label text
// ({-1, -1} when none). Ticks are drawn in the axis colour, labels in the text colour.
std::pair<int, int> label_rows_below(const viz::Canvas& image, const viz::MatrixArea& area) {
  int first = -1, last = -1;
  for (int y = area.y + area.height + 2; y < image.height(); ++y)
    for (int x = area.x; x < area.x + area.width; ++x)
      if (image.pixel(x, y) == viz::colors::text) {
        if (first < 0) first = y;
        last = y;
        break;
      }
  return {first, last};
}

// Pixels of the text colour inside [x0, x1) x [y0, y1).
int text_pixels_in(const viz::Canvas& image, int x0, int x1, int y0, int y1) {
  int count = 0;
  for (int y = std::max(0, y0); y < std::min(image.height(), y1); ++y)
    for (int x = std::max(0, x0); x < std::min(image.width(), x1); ++x)
      count += image.pixel(x, y) == viz::colors::text ? 1 : 0;
  return count;
}

std::vector<std::string> numbered(const std::string& prefix, int count) {
  std::vector<std::string> labels;
  for (int i = 0; i < count; ++i) labels.push_back(prefix + std::to_string(i));
  return labels;
}

}  // namespace

TEST_CASE("viz: column labels from 10 on stay on one line") {
  // Labels "0".."31" given as text (as a tutorial labelling positions does): two digits do not
  // fit a 25 px cell, and they used to be stacked one digit per line.
  viz::Heatmap heatmap(std::vector<float>(32 * 32, 0.1f), 32, 32);
  heatmap.set_col_labels(numbered("", 32));
  const viz::Canvas image = heatmap.render();
  const auto [first, last] = label_rows_below(image, heatmap.matrix_area());
  REQUIRE(first >= 0);
  CHECK(last - first + 1 <= viz::text_height(2));  // one row of text, digits side by side

  const double cell = heatmap.matrix_area().width / 32.0;
  const viz::TickLabels ticks = viz::column_tick_labels(numbered("", 32), cell, 2);
  CHECK_FALSE(ticks.rotated);
  CHECK(ticks.texts[10] == "10");
  CHECK(ticks.stride > 1);  // every other one, so that neighbours do not touch
  CHECK(ticks.stride * cell >= viz::text_width("31", 2) + 8);
}

TEST_CASE("viz: word labels that do not fit are turned, one label per column") {
  const std::vector<std::string> tokens = numbered("token_", 20);
  viz::Heatmap heatmap(std::vector<float>(20 * 20, 0.1f), 20, 20);
  heatmap.set_col_labels(tokens).set_row_labels(tokens);
  const viz::Canvas image = heatmap.render();
  const viz::MatrixArea area = heatmap.matrix_area();
  const auto [first, last] = label_rows_below(image, area);
  REQUIRE(first >= 0);
  // Turned, a label is as tall as it is long written across, and far shorter than 8 letters
  // stacked (8 x 18 px).
  CHECK(last - first + 1 <= viz::text_width("token_19", 2) + 1);
  CHECK(last - first + 1 > viz::text_height(2) * 3);
  // Each column's label lies inside its own column: none runs into a neighbour.
  for (int c = 0; c < 20; ++c) {
    const int x0 = area.x + c * area.width / 20, x1 = area.x + (c + 1) * area.width / 20;
    CHECK(text_pixels_in(image, x0 + 2, x1 - 2, first, last + 1) > 0);
    CHECK(text_pixels_in(image, x0 - 1, x0 + 2, first, last + 1) == 0);
  }
  const viz::TickLabels ticks = viz::column_tick_labels(tokens, area.width / 20.0, 2);
  CHECK(ticks.rotated);
  CHECK(ticks.stride == 1);
  CHECK(ticks.extent == viz::text_width("token_10", 2));

  // Thin columns: every stride-th word, each with a column of its own.
  const viz::TickLabels thin = viz::column_tick_labels(numbered("token_", 200), 4.0, 2);
  CHECK(thin.rotated);
  CHECK(thin.stride * 4.0 >= viz::text_height(2) + 4);
  // Long words are shortened rather than run off the picture.
  CHECK(viz::column_tick_labels({"a_very_long_token_name", "b"}, 10.0, 2).texts[0].size() <= 12);
}

TEST_CASE("viz: rotated text reads upwards and stays in its box") {
  viz::Canvas canvas(200, 200);
  canvas.draw_text_rotated(100, 20, "----", viz::colors::text, 2);
  int top = 200, bottom = -1, left = 200, right = -1;
  for (int y = 0; y < 200; ++y)
    for (int x = 0; x < 200; ++x)
      if (canvas.pixel(x, y) == viz::colors::text) {
        top = std::min(top, y), bottom = std::max(bottom, y);
        left = std::min(left, x), right = std::max(right, x);
      }
  REQUIRE(bottom >= 0);
  CHECK(bottom - top > 3 * (right - left));  // dashes in a row become a vertical line
  CHECK(top >= 20);
  CHECK(bottom < 20 + viz::text_width("----", 2));
  CHECK(left >= 100 - viz::text_height(2));
  CHECK(right <= 100 + viz::text_height(2));
}

TEST_CASE("viz: every panel of a heatmap grid has its own row and column labels") {
  viz::HeatmapGrid grid(2);
  grid.add_panel("head 0", std::vector<float>(12 * 12, 0.2f), 12, 12);
  grid.add_panel("head 1", std::vector<double>(12 * 8, 0.7), 12, 8, numbered("q", 12),
                 numbered("key_", 8));
  const viz::Canvas image = grid.render();
  for (int i = 0; i < 2; ++i) {
    const viz::MatrixArea area = grid.panel_area(i);
    CAPTURE(i);
    // Row labels left of the panel, column labels under it.
    CHECK(text_pixels_in(image, area.x - 40, area.x - 2, area.y, area.y + area.height) > 0);
    const auto [first, last] = label_rows_below(image, area);
    CHECK(first > area.y + area.height);
    CHECK(first < area.y + area.height + 20);
  }
  // The second panel's row labels do not reach into the first panel.
  const viz::MatrixArea first_area = grid.panel_area(0), second_area = grid.panel_area(1);
  CHECK(text_pixels_in(image, first_area.x, first_area.x + first_area.width, first_area.y,
                       first_area.y + first_area.height) == 0);
  CHECK(first_area.x + first_area.width + viz::text_width("q11", 2) < second_area.x);

  const std::string message = invalid_argument_message([] {
    viz::HeatmapGrid(1).add_panel("head 0", std::vector<double>(6, 0.0), 2, 3, {"a"}, {});
  });
  CHECK(contains(message, "HeatmapGrid::add_panel"));
  CHECK(contains(message, "1 row labels for 2 rows"));
}

TEST_CASE("viz: the note under hatched cells says what they mean") {
  viz::Heatmap plain(std::vector<double>{0.5, NAN}, 1, 2);
  viz::Heatmap attention(std::vector<double>{0.5, NAN}, 1, 2);
  attention.set_masked_label("blocked: weight 0, a longer note");
  // A longer note widens the picture only when it needs the room; both draw a note.
  CHECK(attention.render().width() >= plain.render().width());
  CHECK(count_pixels(attention.render(), viz::colors::muted) >
        count_pixels(plain.render(), viz::colors::muted));
}

TEST_CASE("viz: size mismatches throw and name the function and the sizes") {
  std::string message =
      invalid_argument_message([] { viz::Heatmap(std::vector<float>(6, 0.0f), 2, 2); });
  CHECK(contains(message, "Heatmap"));
  CHECK(contains(message, "6 values"));
  CHECK(contains(message, "2 x 2"));

  viz::Heatmap heatmap(std::vector<float>(6, 0.0f), 2, 3);
  message = invalid_argument_message([&] { heatmap.set_row_labels({"a", "b", "c"}); });
  CHECK(contains(message, "Heatmap::set_row_labels"));
  CHECK(contains(message, "3 labels"));
  CHECK(contains(message, "2 rows"));
  message = invalid_argument_message([&] { heatmap.set_col_labels({"a"}); });
  CHECK(contains(message, "Heatmap::set_col_labels"));
  CHECK(contains(message, "3 columns"));
  message = invalid_argument_message([&] { heatmap.set_range(1.0, 1.0); });
  CHECK(contains(message, "set_range"));

  viz::LinePlot plot;
  message = invalid_argument_message([&] {
    plot.add_series("train", std::vector<double>{1, 2, 3}, std::vector<double>{1, 2});
  });
  CHECK(contains(message, "LinePlot::add_series"));
  CHECK(contains(message, "train"));
  CHECK(contains(message, "3 values"));

  viz::HeatmapGrid grid(2);
  message = invalid_argument_message(
      [&] { grid.add_panel("head 0", std::vector<float>(5, 0.0f), 2, 2); });
  CHECK(contains(message, "HeatmapGrid::add_panel"));
  CHECK(contains(message, "2 x 2"));
}

TEST_CASE("viz: heatmap grid shares one colour scale across panels") {
  viz::HeatmapGrid grid(2);
  grid.add_panel("full range", std::vector<float>{0.0f, 1.0f, 0.0f, 1.0f}, 2, 2);
  grid.add_panel("constant half", std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}, 2, 2);
  grid.add_panel("masked", std::vector<float>{0.5f, NAN, 0.5f, 0.5f}, 2, 2);
  const viz::Canvas image = grid.render();
  const auto& table = viz::colormap_table(viz::ColormapKind::sequential);

  const viz::MatrixArea first = grid.panel_area(0), second = grid.panel_area(1),
                        third = grid.panel_area(2);
  CHECK(image.pixel(first.center_x(0), first.center_y(0)) == table[0]);
  CHECK(image.pixel(first.center_x(1), first.center_y(0)) == table[255]);
  // Alone, a constant panel would take the middle colour too; what matters is that it is
  // not stretched to the full range: 0.5 on the shared 0..1 scale.
  CHECK(image.pixel(second.center_x(0), second.center_y(0)) ==
        viz::colormap(viz::ColormapKind::sequential, 0.5));
  const viz::Color masked = image.pixel(third.center_x(1), third.center_y(0));
  CHECK((masked == viz::masked_color || masked == viz::masked_stripe_color));
  // Panels do not overlap.
  CHECK(first.x + first.width < second.x);
  CHECK(first.y + first.height < third.y);
  CHECK_THROWS_AS(grid.panel_area(3), std::out_of_range);
  CHECK_NOTHROW(viz::HeatmapGrid(3).set_title("no panels yet").render());
}

// ---------------------------------------------------------------------------------------
// Line plots
// ---------------------------------------------------------------------------------------

TEST_CASE("viz: line plot draws its series and survives awkward data") {
  viz::LinePlot plot("awkward");
  plot.add_series("with gaps", std::vector<double>{0, 1, 2, 3, 4},
                  std::vector<double>{1, NAN, 3, INFINITY, 5});
  plot.add_series("single point", std::vector<double>{2.0}, std::vector<double>{2.0});
  plot.add_series("constant", std::vector<double>{0, 1, 2}, std::vector<double>{4, 4, 4});
  plot.add_series("empty", std::vector<double>{});
  const viz::Canvas image = plot.render();
  CHECK(count_pixels(image, viz::series_color(0)) > 20);
  CHECK(count_pixels(image, viz::series_color(1)) > 20);  // the lone point is drawn as a dot
  CHECK(count_pixels(image, viz::series_color(2)) > 20);

  // Only constants: the y range must still have a width.
  viz::LinePlot constant;
  constant.add_series("c", std::vector<float>{3.0f, 3.0f, 3.0f});
  CHECK(count_pixels(constant.render(), viz::series_color(0)) > 20);

  // Nothing drawable at all: still an image, with a message in the middle.
  viz::LinePlot empty("empty");
  empty.add_series("nothing", std::vector<double>{NAN, NAN});
  const viz::Canvas empty_image = empty.render();
  CHECK(count_pixels(empty_image, viz::colors::muted) > 50);

  viz::LinePlot log_plot;
  log_plot.set_log_y(true).add_series("non-positive", std::vector<double>{0.0, -1.0});
  CHECK(log_plot.render().width() == 1000);
}

TEST_CASE("viz: the legend hides no data when a corner is free") {
  // Rising line from bottom-left to top-right: top-left and bottom-right corners are free.
  std::vector<double> x, y;
  for (int i = 0; i <= 100; ++i) {
    x.push_back(i);
    y.push_back(i * i / 100.0);
  }
  viz::LinePlot without_legend, with_legend;
  without_legend.add_series("", x, y);
  with_legend.add_series("quadratic growth", x, y);
  const viz::Canvas plain = without_legend.render(), legend = with_legend.render();
  // Every pixel of the line in the plain plot is still line-coloured once the legend is there.
  int line_pixels = 0, hidden = 0;
  for (int py = 0; py < plain.height(); ++py) {
    for (int px = 0; px < plain.width(); ++px) {
      if (plain.pixel(px, py) != viz::series_color(0)) continue;
      ++line_pixels;
      hidden += legend.pixel(px, py) == viz::series_color(0) ? 0 : 1;
    }
  }
  CHECK(line_pixels > 500);
  CHECK(hidden == 0);
  CHECK(count_pixels(legend, viz::series_color(0)) > line_pixels);  // plus the legend's sample line
}

TEST_CASE("viz: reference line is a dashed horizontal line with its label") {
  viz::LinePlot plot("accuracy");
  plot.add_series("acc", std::vector<double>{0.5, 0.8, 0.9, 0.95})
      .add_reference_line(0.99, "99% accuracy");
  const viz::Canvas image = plot.render();
  // Find a row with many dashes of the muted colour.
  int best_row_count = 0;
  for (int py = 0; py < image.height(); ++py) {
    int count = 0;
    for (int px = 0; px < image.width(); ++px)
      count += image.pixel(px, py) == viz::colors::muted ? 1 : 0;
    best_row_count = std::max(best_row_count, count);
  }
  CHECK(best_row_count > image.width() / 3);
  CHECK_THROWS_AS(plot.set_y_range(1.0, 0.0), std::invalid_argument);
}
