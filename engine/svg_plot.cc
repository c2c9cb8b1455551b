#include "engine/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace nextbatch {
namespace {

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void Add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return !(lo <= hi); }
};

std::string Num(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.1f", v);
  return b;
}

std::string Tick(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.4g", v);
  return b;
}

}  // namespace

double SvgScale(double v, double lo, double hi, double a, double b) {
  if (!(hi > lo)) return 0.5 * (a + b);
  return a + (v - lo) / (hi - lo) * (b - a);
}

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string SvgPlot(const std::vector<SvgPanel>& panels, const std::string& title,
                    const std::string& x_label, const SvgPlotOptions& o) {
  const int n = static_cast<int>(panels.size());
  const int height = o.margin_top + n * o.panel_height + o.margin_bottom;
  Range xr;
  for (const SvgPanel& p : panels) {
    for (const SvgLine& l : p.lines)
      for (const auto& piece : l.x)
        for (double v : piece) xr.Add(v);
    for (const SvgBand& b : p.bands)
      for (const auto& piece : b.x)
        for (double v : piece) xr.Add(v);
  }
  const double x0 = o.margin_left, x1 = o.width - o.margin_right;
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(o.width) +
                  "\" height=\"" + std::to_string(height) + "\" font-family=\"sans-serif\" " +
                  "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + Num(o.width / 2.0) + "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">" +
       XmlEscape(title) + "</text>\n";
  for (int k = 0; k < n; ++k) {
    const SvgPanel& p = panels[k];
    const double top = o.margin_top + k * o.panel_height + 18;
    const double bottom = o.margin_top + (k + 1) * o.panel_height - 22;
    Range yr;
    for (const SvgLine& l : p.lines)
      for (const auto& piece : l.y)
        for (double v : piece) yr.Add(v);
    for (const SvgBand& b : p.bands) {
      for (const auto& piece : b.low)
        for (double v : piece) yr.Add(v);
      for (const auto& piece : b.high)
        for (double v : piece) yr.Add(v);
    }
    auto px = [&](double v) { return SvgScale(v, xr.lo, xr.hi, x0, x1); };
    auto py = [&](double v) { return SvgScale(v, yr.lo, yr.hi, bottom, top); };
    s += "<text x=\"" + Num(x0) + "\" y=\"" + Num(top - 5) + "\">" + XmlEscape(p.title) +
         "</text>\n";
    s += "<rect x=\"" + Num(x0) + "\" y=\"" + Num(top) + "\" width=\"" + Num(x1 - x0) +
         "\" height=\"" + Num(bottom - top) + "\" fill=\"none\" stroke=\"#888\"/>\n";
    s += "<text transform=\"translate(14," + Num(0.5 * (top + bottom)) +
         ") rotate(-90)\" text-anchor=\"middle\">" + XmlEscape(p.y_label) + "</text>\n";
    for (int t = 0; t <= 4 && !xr.empty(); ++t) {
      const double v = xr.lo + (xr.hi - xr.lo) * t / 4.0;
      s += "<text x=\"" + Num(px(v)) + "\" y=\"" + Num(bottom + 15) + "\" text-anchor=\"middle\">" +
           Tick(v) + "</text>\n";
    }
    for (int t = 0; t <= 4 && !yr.empty(); ++t) {
      const double v = yr.lo + (yr.hi - yr.lo) * t / 4.0;
      s += "<text x=\"" + Num(x0 - 5) + "\" y=\"" + Num(py(v) + 4) + "\" text-anchor=\"end\">" +
           Tick(v) + "</text>\n";
    }
    double legend_x = x1;
    auto legend = [&](const std::string& label, const std::string& color) {
      legend_x -= 8.0 * static_cast<double>(label.size()) + 30;
      s += "<rect x=\"" + Num(legend_x) + "\" y=\"" + Num(top - 14) +
           "\" width=\"14\" height=\"8\" fill=\"" + XmlEscape(color) + "\"/><text x=\"" +
           Num(legend_x + 18) + "\" y=\"" + Num(top - 6) + "\">" + XmlEscape(label) + "</text>\n";
    };
    for (const SvgBand& b : p.bands) {
      legend(b.label, b.color);
      for (std::size_t q = 0; q < b.x.size(); ++q) {
        std::string pts;
        const std::size_t m = std::min({b.x[q].size(), b.low[q].size(), b.high[q].size()});
        for (std::size_t i = 0; i < m; ++i) {
          if (!std::isfinite(b.x[q][i]) || !std::isfinite(b.high[q][i])) continue;
          pts += Num(px(b.x[q][i])) + "," + Num(py(b.high[q][i])) + " ";
        }
        for (std::size_t i = m; i-- > 0;) {
          if (!std::isfinite(b.x[q][i]) || !std::isfinite(b.low[q][i])) continue;
          pts += Num(px(b.x[q][i])) + "," + Num(py(b.low[q][i])) + " ";
        }
        if (pts.empty()) continue;
        pts.pop_back();
        s += "<polygon points=\"" + pts + "\" fill=\"" + XmlEscape(b.color) +
             "\" fill-opacity=\"0.3\" stroke=\"none\"/>\n";
      }
    }
    for (const SvgLine& l : p.lines) {
      legend(l.label, l.color);
      for (std::size_t q = 0; q < l.x.size(); ++q) {
        std::string pts;
        const std::size_t m = std::min(l.x[q].size(), l.y[q].size());
        for (std::size_t i = 0; i < m; ++i) {
          if (!std::isfinite(l.x[q][i]) || !std::isfinite(l.y[q][i])) continue;
          pts += Num(px(l.x[q][i])) + "," + Num(py(l.y[q][i])) + " ";
        }
        if (pts.empty()) continue;
        pts.pop_back();
        s += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + XmlEscape(l.color) +
             "\" stroke-width=\"1\"/>\n";
      }
    }
  }
  s += "<text x=\"" + Num(0.5 * (x0 + x1)) + "\" y=\"" + Num(height - 8.0) +
       "\" text-anchor=\"middle\">" + XmlEscape(x_label) + "</text>\n</svg>\n";
  return s;
}

}  // namespace nextbatch
