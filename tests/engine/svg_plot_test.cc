#include "engine/svg_plot.h"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

namespace nextbatch {
namespace {

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST_CASE("axis scaling maps the data range onto the pixel range, flat data onto the middle") {
  CHECK(SvgScale(0.0, 0.0, 2.0, 100, 300) == 100);
  CHECK(SvgScale(2.0, 0.0, 2.0, 100, 300) == 300);
  CHECK(SvgScale(0.5, 0.0, 2.0, 100, 300) == 150);
  CHECK(SvgScale(1.0, 0.0, 2.0, 300, 100) == 200);  // y grows upwards: a > b
  CHECK(SvgScale(5.0, 1.0, 1.0, 100, 300) == 200);
}

TEST_CASE("a line's points land where the axes put them, pieces stay apart, bands are polygons") {
  SvgPanel p;
  p.title = "q <joint> & co";
  p.lines.push_back({"logged", "black", {{0, 1}, {2, 4}}, {{0, 1}, {0.5, 1}}});
  p.bands.push_back({"band", "blue", {{0, 1}}, {{-1, -1}}, {{1, 2}}});
  SvgPlotOptions o;
  o.width = 420;  // plot from x 70 to 400 px
  o.panel_height = 200;
  const std::string svg = SvgPlot({p}, "title", "time (s)", o);
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(Count(svg, "<polyline") == 2);  // two pieces: no line across the break
  CHECK(Count(svg, "<polygon") == 1);
  CHECK(svg.find("q &lt;joint&gt; &amp; co") != std::string::npos);
  // x spans 0..4 over 70..400 px; y spans -1..2 over the panel's plot area (top 58, bottom 218)
  CHECK(svg.find("points=\"70.0,164.7 152.5,111.3\"") != std::string::npos);
  CHECK(svg.find("235.0,138.0 400.0,111.3") != std::string::npos);
}

TEST_CASE("non-finite points are left out of a line") {
  SvgPanel p;
  p.lines.push_back({"x", "red", {{0, 1, 2}}, {{0, NAN, 1}}});
  const std::string svg = SvgPlot({p}, "", "");
  const std::size_t at = svg.find("<polyline points=\"");
  REQUIRE(at != std::string::npos);
  const std::string pts = svg.substr(at, svg.find('"', at + 18) - at);
  CHECK(Count(pts, ",") == 2);
}

}  // namespace
}  // namespace nextbatch
