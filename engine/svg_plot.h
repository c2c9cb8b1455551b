// A small SVG line chart for the plots nextbatch writes beside its tables: stacked panels that
// share the x axis, each with shaded bands and lines drawn as separate pieces (a break between
// pieces, e.g. between replay windows). No dependency beyond the standard library.
#ifndef NEXTBATCH_ENGINE_SVG_PLOT_H_
#define NEXTBATCH_ENGINE_SVG_PLOT_H_

#include <string>
#include <vector>

namespace nextbatch {

struct SvgLine {
  std::string label;
  std::string color;  // any SVG colour ("#1f77b4", "black")
  // Each piece is drawn as one polyline: x[i], y[i]; non-finite points are skipped.
  std::vector<std::vector<double>> x, y;
};

struct SvgBand {
  std::string label;
  std::string color;                              // filled at 30 % opacity
  std::vector<std::vector<double>> x, low, high;  // each piece one polygon
};

struct SvgPanel {
  std::string title;
  std::string y_label;
  std::vector<SvgBand> bands;  // drawn first, under the lines
  std::vector<SvgLine> lines;
};

struct SvgPlotOptions {
  int width = 1000;                                                              // px
  int panel_height = 260;                                                        // px per panel
  int margin_left = 70, margin_right = 20, margin_top = 40, margin_bottom = 45;  // px
};

// Pixel position of data value v on an axis from lo to hi drawn from pixel a (at lo) to b (at
// hi); the middle of the axis when lo == hi.
double SvgScale(double v, double lo, double hi, double a, double b);

// The SVG document of `panels` stacked top to bottom, with `title` above and `x_label` below.
// Axes span the finite data of each panel (x shared by all panels), with 5 tick labels each.
std::string SvgPlot(const std::vector<SvgPanel>& panels, const std::string& title,
                    const std::string& x_label, const SvgPlotOptions& options = {});

// Text escaped for an XML attribute or element (&, <, >, "): SVG plots, MJCF files.
std::string XmlEscape(const std::string& text);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_SVG_PLOT_H_
