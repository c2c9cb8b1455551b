#include "scenarios/discrepancy.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace nextbatch {

double L2StarDiscrepancy(const std::vector<std::vector<double>>& points) {
  const std::size_t n = points.size();
  NB_CHECK(n > 0);
  const std::size_t d = points[0].size();
  // T^2 = 3^-d - (2/N) sum_i prod_k (1 - x_ik^2) / 2 + (1/N^2) sum_ij prod_k (1 - max(x_ik, x_jk))
  double single = 0.0, pairs = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    double p = 1.0;
    for (std::size_t k = 0; k < d; ++k) p *= 0.5 * (1.0 - points[i][k] * points[i][k]);
    single += p;
    for (std::size_t j = 0; j < n; ++j) {
      double q = 1.0;
      for (std::size_t k = 0; k < d; ++k) q *= 1.0 - std::max(points[i][k], points[j][k]);
      pairs += q;
    }
  }
  const double t2 =
      std::pow(3.0, -static_cast<double>(d)) - 2.0 * single / n + pairs / (double(n) * n);
  return std::sqrt(std::max(t2, 0.0));
}

double StarDiscrepancy2D(const std::vector<std::vector<double>>& points) {
  const std::size_t n = points.size();
  NB_CHECK(n > 0);
  std::vector<double> xs, ys;
  for (const auto& p : points) {
    NB_CHECK(p.size() == 2);
    xs.push_back(p[0]);
    ys.push_back(p[1]);
  }
  xs.push_back(1.0);
  ys.push_back(1.0);
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  std::sort(ys.begin(), ys.end());
  ys.erase(std::unique(ys.begin(), ys.end()), ys.end());
  // For each corner (a, b) on the grid the local discrepancy peaks either just below it (open
  // box, too few points) or at it (closed box, too many).
  double worst = 0.0;
  std::vector<double> open_y, closed_y;
  for (double a : xs) {
    open_y.clear();
    closed_y.clear();
    for (const auto& p : points) {
      if (p[0] < a) open_y.push_back(p[1]);
      if (p[0] <= a) closed_y.push_back(p[1]);
    }
    std::sort(open_y.begin(), open_y.end());
    std::sort(closed_y.begin(), closed_y.end());
    for (double b : ys) {
      const double volume = a * b;
      const double open = std::lower_bound(open_y.begin(), open_y.end(), b) - open_y.begin();
      const double closed =
          std::upper_bound(closed_y.begin(), closed_y.end(), b) - closed_y.begin();
      worst = std::max({worst, volume - open / n, closed / n - volume});
    }
  }
  return worst;
}

}  // namespace nextbatch
