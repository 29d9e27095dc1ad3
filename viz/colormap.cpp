// viz/colormap.cpp - CIELAB <-> sRGB and the two colour maps.
#include "viz/colormap.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace viz {

namespace {

constexpr double pi = 3.14159265358979323846;

// Reference white D65, the white point of sRGB.
constexpr double white_x = 0.95047, white_y = 1.0, white_z = 1.08883;

// sRGB stores gamma-encoded values: dark shades get more of the 256 codes because the eye
// separates them better. These two functions convert between encoded and linear light.
double srgb_decode(double encoded) {
  return encoded <= 0.04045 ? encoded / 12.92 : std::pow((encoded + 0.055) / 1.055, 2.4);
}
double srgb_encode(double linear) {
  return linear <= 0.0031308 ? 12.92 * linear : 1.055 * std::pow(linear, 1.0 / 2.4) - 0.055;
}

// Lab -> gamma-encoded sRGB in [0, 1] without rounding; false when outside the sRGB gamut.
bool lab_to_srgb_unrounded(const Lab& lab, double rgb[3]) {
  // Lab -> XYZ: invert the cube-root-like function f that CIELAB applies to X/Xn, Y/Yn, Z/Zn.
  const double fy = (lab.L + 16.0) / 116.0;
  const double fx = fy + lab.a / 500.0;
  const double fz = fy - lab.b / 200.0;
  auto f_inverse = [](double t) {
    constexpr double delta = 6.0 / 29.0;
    return t > delta ? t * t * t : 3.0 * delta * delta * (t - 4.0 / 29.0);
  };
  const double x = white_x * f_inverse(fx);
  const double y = white_y * f_inverse(fy);
  const double z = white_z * f_inverse(fz);
  // XYZ -> linear sRGB (the standard matrix for sRGB primaries and D65 white).
  const double linear[3] = {
      3.2404542 * x - 1.5371385 * y - 0.4985314 * z,
      -0.9692660 * x + 1.8760108 * y + 0.0415560 * z,
      0.0556434 * x - 0.2040259 * y + 1.0572252 * z,
  };
  // The published matrices carry 7 digits, so pure white comes out as 1.0000001: allow that.
  constexpr double tolerance = 1e-6;
  for (int i = 0; i < 3; ++i) {
    if (linear[i] < -tolerance || linear[i] > 1.0 + tolerance) return false;
    rgb[i] = srgb_encode(std::clamp(linear[i], 0.0, 1.0));
  }
  return true;
}

double lab_distance(const Lab& p, const Lab& q) {
  return std::sqrt((p.L - q.L) * (p.L - q.L) + (p.a - q.a) * (p.a - q.a) +
                   (p.b - q.b) * (p.b - q.b));
}

// Lab from lightness, chroma (colourfulness) and hue angle in degrees: the polar form of a*, b*.
Lab from_lch(double lightness, double chroma, double hue_degrees) {
  const double hue = hue_degrees * pi / 180.0;
  return {lightness, chroma * std::cos(hue), chroma * std::sin(hue)};
}

// The most colourful in-gamut colour with this lightness and hue, up to `wanted_chroma`.
// Lowering chroma (rather than clipping R, G or B) keeps L* exactly on its planned path.
Lab fit_into_gamut(double lightness, double wanted_chroma, double hue_degrees) {
  double rgb[3];
  if (lab_to_srgb_unrounded(from_lch(lightness, wanted_chroma, hue_degrees), rgb)) {
    return from_lch(lightness, wanted_chroma, hue_degrees);
  }
  double low = 0.0, high = wanted_chroma;  // grey (chroma 0) is always inside the gamut
  for (int step = 0; step < 40; ++step) {
    const double middle = (low + high) / 2.0;
    if (lab_to_srgb_unrounded(from_lch(lightness, middle, hue_degrees), rgb)) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return from_lch(lightness, low, hue_degrees);
}

// Rounds a Lab colour to 8-bit sRGB. Plain rounding can move L* by about 0.3, as much as
// one table step, so we try the codes near the exact value (rounded code -2 .. +2 per
// channel) and take the one closest to the target whose lightness is above `lightness_floor`.
Color quantize(const Lab& target, double lightness_floor) {
  double rgb[3];
  lab_to_srgb_unrounded(target, rgb);
  Color best{};
  double best_distance = std::numeric_limits<double>::infinity();
  for (int choice = 0; choice < 125; ++choice) {
    const int offsets[3] = {choice % 5 - 2, (choice / 5) % 5 - 2, choice / 25 - 2};
    std::uint8_t channel[3];
    for (int i = 0; i < 3; ++i) {
      const double code = std::round(rgb[i] * 255.0) + offsets[i];
      channel[i] = static_cast<std::uint8_t>(std::clamp(code, 0.0, 255.0));
    }
    const Color candidate{channel[0], channel[1], channel[2]};
    const Lab candidate_lab = srgb_to_lab(candidate);
    const double distance = lab_distance(candidate_lab, target);
    if (candidate_lab.L > lightness_floor && distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  if (best_distance == std::numeric_limits<double>::infinity()) {  // cannot happen for our maps
    best = Color{static_cast<std::uint8_t>(std::lround(rgb[0] * 255)),
                 static_cast<std::uint8_t>(std::lround(rgb[1] * 255)),
                 static_cast<std::uint8_t>(std::lround(rgb[2] * 255))};
  }
  return best;
}

// Sequential map: L* rises linearly from 16 to 94 while the hue turns from blue-purple (295 deg)
// through teal and green to yellow (105 deg). Equal steps in t are then roughly equal steps in
// perceived lightness, and the hue change helps tell neighbouring values apart. The end hue
// matters: below ~100 deg a yellow this light cannot be colourful on screen, and the chroma
// would collapse over the last few entries.
std::array<Color, 256> build_sequential() {
  std::array<Color, 256> table{};
  double previous_lightness = -1.0;
  for (int i = 0; i < 256; ++i) {
    const double t = i / 255.0;
    const double lightness = 16.0 + 78.0 * t;
    const double hue = 295.0 - 190.0 * t;
    // Chroma dips to 26 around t = 0.3 because a dark teal cannot be more colourful on
    // screen; following that limit smoothly (instead of trimming it at the gamut edge)
    // avoids a visible band where the trimming would stop.
    const double chroma = t < 0.3 ? 26.0 + 14.0 * (1.0 - t / 0.3) * (1.0 - t / 0.3)
                                  : 26.0 + 44.0 * ((t - 0.3) / 0.7) * ((t - 0.3) / 0.7);
    table[i] = quantize(fit_into_gamut(lightness, chroma, hue), previous_lightness);
    // A small margin, so the rise survives slightly different Lab formulas elsewhere.
    previous_lightness = srgb_to_lab(table[i]).L + 0.02;
  }
  return table;
}

// Diverging map: white-ish (L* 97, no chroma) at t = 0.5, getting darker and more colourful
// towards blue (hue 272 deg) at t = 0 and red (hue 32 deg) at t = 1. Both halves have the
// same lightness profile, so +x and -x look equally strong. (Lab hues near 285 deg look
// purple when light, hence the slightly cyan-leaning blue.)
std::array<Color, 256> build_diverging() {
  std::array<Color, 256> table{};
  for (int i = 0; i < 256; ++i) {
    const double t = i / 255.0;
    const double distance_from_middle = std::abs(2.0 * t - 1.0);  // 0 at centre, 1 at ends
    const double lightness = 97.0 - 59.0 * distance_from_middle;
    const double chroma = 46.0 * std::pow(distance_from_middle, 0.6);  // colour shows early
    const double hue = t < 0.5 ? 272.0 : 32.0;
    table[i] = quantize(fit_into_gamut(lightness, chroma, hue), -1.0);
  }
  return table;
}

}  // namespace

bool lab_to_srgb(const Lab& lab, Color& out) {
  double rgb[3];
  if (!lab_to_srgb_unrounded(lab, rgb)) return false;
  out = Color{static_cast<std::uint8_t>(std::lround(rgb[0] * 255)),
              static_cast<std::uint8_t>(std::lround(rgb[1] * 255)),
              static_cast<std::uint8_t>(std::lround(rgb[2] * 255))};
  return true;
}

Lab srgb_to_lab(Color color) {
  const double r = srgb_decode(color.r / 255.0);
  const double g = srgb_decode(color.g / 255.0);
  const double b = srgb_decode(color.b / 255.0);
  const double x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
  const double y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
  const double z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b;
  auto f = [](double t) {
    constexpr double delta = 6.0 / 29.0;
    return t > delta * delta * delta ? std::cbrt(t) : t / (3.0 * delta * delta) + 4.0 / 29.0;
  };
  const double fx = f(x / white_x), fy = f(y / white_y), fz = f(z / white_z);
  return {116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)};
}

const std::array<Color, 256>& colormap_table(ColormapKind kind) {
  // Function-local statics are built on first use (and thread-safely, since C++11).
  static const std::array<Color, 256> sequential = build_sequential();
  static const std::array<Color, 256> diverging = build_diverging();
  return kind == ColormapKind::sequential ? sequential : diverging;
}

Color colormap(ColormapKind kind, double t) {
  if (std::isnan(t)) return masked_color;
  const int index = static_cast<int>(std::lround(std::clamp(t, 0.0, 1.0) * 255.0));
  return colormap_table(kind)[index];
}

Color contrasting_text_color(Color background) {
  return srgb_to_lab(background).L > 58.0 ? colors::text : colors::white;
}

}  // namespace viz
