// viz/colormap.hpp - colour maps built here from CIELAB, not copied from a published table.
//
// A colour map turns a number in [0, 1] into a colour. For data pictures the colour's
// perceived lightness should rise steadily with the value, otherwise the eye sees bands and
// edges that are not in the data. CIELAB is a colour space built so that equal distances look
// roughly equally different, and its L* axis is perceived lightness. So we design the maps in
// Lab (lightness, and a hue/chroma path) and convert to sRGB ourselves.
#pragma once

#include <array>

#include "viz/canvas.hpp"

namespace viz {

// sequential: dark blue-purple -> teal -> green -> light yellow; for values with an order
//             (attention weights, probabilities, magnitudes).
// diverging:  blue -> white -> red, white at the middle; for signed data centred on 0
//             (gradients, differences).
enum class ColormapKind { sequential, diverging };

// Colour used for masked (NaN) cells, and the colour of its hatch stripes.
inline constexpr Color masked_color{232, 232, 232};
inline constexpr Color masked_stripe_color{190, 190, 190};

// A colour in CIELAB (D65 white): L* lightness 0..100, a* green-red, b* blue-yellow.
struct Lab {
  double L = 0, a = 0, b = 0;
};

// Converts Lab to sRGB. Returns false (and leaves `out` unchanged) when the colour lies
// outside what a screen can show.
bool lab_to_srgb(const Lab& lab, Color& out);
// Converts an 8-bit sRGB colour to Lab.
Lab srgb_to_lab(Color color);

// The 256 colours of a map, computed once at first use. Entry 0 is for t = 0, entry 255 for t = 1.
const std::array<Color, 256>& colormap_table(ColormapKind kind);
// Colour for t in [0, 1] (clamped); NaN gives masked_color.
Color colormap(ColormapKind kind, double t);

// Black or white, whichever reads better on top of `background` (for numbers inside cells).
Color contrasting_text_color(Color background);

}  // namespace viz
