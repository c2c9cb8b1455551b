#include "calibration/error_model.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace nextbatch::calib {
namespace {

constexpr double kZ975 = 1.959963984540054;  // standard normal 0.975 quantile

// P(0 <= T <= t) for Student's t: Simpson's rule on the density (smooth, bounded, and t is at
// most a few tens here), 2000 intervals.
double StudentTHalfMass(double t, int dof) {
  const double nu = dof;
  const double log_c =
      std::lgamma(0.5 * (nu + 1)) - std::lgamma(0.5 * nu) - 0.5 * std::log(nu * M_PI);
  auto density = [&](double x) {
    return std::exp(log_c - 0.5 * (nu + 1) * std::log1p(x * x / nu));
  };
  const int n = 2000;
  const double h = t / n;
  double sum = density(0) + density(t);
  for (int i = 1; i < n; ++i) sum += (i % 2 ? 4 : 2) * density(i * h);
  return sum * h / 3;
}

Eigen::MatrixXd Symmetric(const Eigen::MatrixXd& m) { return 0.5 * (m + m.transpose()); }

// The cluster-robust "meat" in whitened coordinates (where the data information is the
// identity): per cluster, the sum of its segments' scores h, adjusted for the cluster's leverage
// by (I - B_g)^(-1/2), B_g the cluster's own information (CR2, Bell & McCaffrey 2002: under
// independent residuals the estimate is then unbiased, where the plain sum is too small by
// about the share of the information each cluster holds), centred, and summed as outer
// products. With `adjacent`, the cross products of clusters adjacent in time are added too
// (residuals correlated across a segment boundary). Each cluster's information goes to
// `cluster_information`.
Eigen::MatrixXd ClusterMeat(const std::vector<Eigen::VectorXd>& h,
                            const std::vector<Eigen::MatrixXd>& b, const std::vector<int>& cluster,
                            const std::vector<std::pair<int, int>>& adjacent,
                            std::vector<Eigen::MatrixXd>* cluster_information) {
  const int r = h.empty() ? 0 : static_cast<int>(h[0].size());
  std::vector<int> labels = cluster;
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  const int g = static_cast<int>(labels.size());
  std::vector<Eigen::VectorXd> sums(g, Eigen::VectorXd::Zero(r));
  std::vector<Eigen::MatrixXd> info(g, Eigen::MatrixXd::Zero(r, r));
  std::vector<int> of(h.size());
  for (std::size_t s = 0; s < h.size(); ++s) {
    of[s] = static_cast<int>(std::lower_bound(labels.begin(), labels.end(), cluster[s]) -
                             labels.begin());
    sums[of[s]] += h[s];
    info[of[s]] += b[s];
  }
  *cluster_information = info;
  for (int k = 0; k < g; ++k) {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(Symmetric(info[k]));
    Eigen::VectorXd d = es.eigenvalues();
    for (int i = 0; i < r; ++i) d[i] = 1.0 / std::sqrt(1.0 - std::clamp(d[i], 0.0, 0.95));
    sums[k] = es.eigenvectors() * d.asDiagonal() * es.eigenvectors().transpose() * sums[k];
  }
  Eigen::VectorXd mean = Eigen::VectorXd::Zero(r);
  for (const auto& v : sums) mean += v;
  if (g > 0) mean /= static_cast<double>(g);
  for (auto& v : sums) v -= mean;
  Eigen::MatrixXd meat = Eigen::MatrixXd::Zero(r, r);
  for (const auto& v : sums) meat += v * v.transpose();
  for (const auto& [s, t] : adjacent) {
    meat += sums[of[s]] * sums[of[t]].transpose() + sums[of[t]] * sums[of[s]].transpose();
  }
  return meat;
}

// The minimiser of the model g^T d + d^T H d / 2 over the parameters marked free, the others
// held at their values in `d` (returned with the free entries replaced): the free block solved
// with Jacobi scaling (`scale` = 1 / sqrt(H_jj)), so that parameters in different units do not
// decide the rank of a near-singular H; the minimum-norm solution where H is singular.
Eigen::VectorXd FreeMinimiser(const Eigen::MatrixXd& h, const Eigen::VectorXd& g,
                              const Eigen::VectorXd& scale, const std::vector<bool>& free,
                              const Eigen::VectorXd& d) {
  const int nf = static_cast<int>(g.size());
  std::vector<int> f;
  for (int i = 0; i < nf; ++i) {
    if (free[i]) f.push_back(i);
  }
  const int n = static_cast<int>(f.size());
  Eigen::VectorXd out = d;
  if (n == 0) return out;
  Eigen::MatrixXd hs(n, n);
  Eigen::VectorXd rhs(n);
  for (int a = 0; a < n; ++a) {
    // the gradient at d without the free parameters' own part
    double r = g[f[a]];
    for (int k = 0; k < nf; ++k) {
      if (!free[k]) r += h(f[a], k) * d[k];
    }
    rhs[a] = scale[f[a]] * r;
    for (int b = 0; b < n; ++b) hs(a, b) = scale[f[a]] * h(f[a], f[b]) * scale[f[b]];
  }
  const Eigen::VectorXd x = -hs.completeOrthogonalDecomposition().solve(rhs);
  for (int a = 0; a < n; ++a) out[f[a]] = scale[f[a]] * x[a];
  return out;
}

}  // namespace

RemainingStep ComputeRemainingStep(const RemainingStepInput& in) {
  const int np = static_cast<int>(in.gradient.size());
  RemainingStep out;
  out.step = Eigen::VectorXd::Zero(np);
  out.held_at_bound.assign(np, false);
  std::vector<int> fitted;
  for (int j = 0; j < np; ++j) {
    if (!in.fixed[j]) fitted.push_back(j);
  }
  const int nf = static_cast<int>(fitted.size());
  // The local model q(d) = g^T d + d^T H d / 2 over the fitted parameters, with how far each
  // may move inside its bounds (lo <= 0 <= hi; 0: on the bound, within 1e-9 of its size).
  Eigen::MatrixXd h(nf, nf);
  Eigen::VectorXd g(nf), lo(nf), hi(nf), scale(nf);
  for (int i = 0; i < nf; ++i) {
    const int j = fitted[i];
    g[i] = in.gradient[j];
    for (int k = 0; k < nf; ++k) h(i, k) = in.information(j, fitted[k]);
    lo[i] = -INFINITY;
    hi[i] = INFINITY;
    if (std::isfinite(in.lower[j])) {
      lo[i] = std::min(0.0, in.lower[j] - in.point[j]);
      if (lo[i] >= -1e-9 * std::max(1.0, std::abs(in.lower[j]))) lo[i] = 0.0;
    }
    if (std::isfinite(in.upper[j])) {
      hi[i] = std::max(0.0, in.upper[j] - in.point[j]);
      if (hi[i] <= 1e-9 * std::max(1.0, std::abs(in.upper[j]))) hi[i] = 0.0;
    }
    const double hd = h(i, i);
    scale[i] = hd > 0 ? 1.0 / std::sqrt(hd) : 1.0;
  }
  h = Symmetric(h);
  // The Newton direction: the model's minimiser over the free parameters, a parameter on a
  // bound whose step points outward held there and the rest solved again (each pass holds at
  // least one more).
  {
    std::vector<bool> free(nf, true);
    const Eigen::VectorXd zero = Eigen::VectorXd::Zero(nf);
    Eigen::VectorXd delta = zero;
    for (int pass = 0; pass <= nf; ++pass) {
      delta = FreeMinimiser(h, g, scale, free, zero);
      bool more_held = false;
      for (int i = 0; i < nf; ++i) {
        if (free[i] && ((lo[i] == 0.0 && delta[i] < 0) || (hi[i] == 0.0 && delta[i] > 0))) {
          free[i] = false;
          more_held = true;
        }
      }
      if (!more_held) break;
    }
    out.direction = Eigen::VectorXd::Zero(np);
    for (int i = 0; i < nf; ++i) out.direction[fitted[i]] = delta[i];
  }
  // The step: the same model minimised inside the bounds (a convex quadratic over a box) by a
  // primal active-set method. The free parameters take the model's step with the held ones
  // fixed; a step that would leave the box stops where the first parameter meets its bound,
  // which is then held; at the free minimiser a held parameter whose model gradient points back
  // inside is released.
  // -1: held at its lower bound, +1: at its upper, 0: free. A parameter on a bound with its
  // gradient pointing outward starts held.
  std::vector<int> held(nf, 0);
  for (int i = 0; i < nf; ++i) {
    if (lo[i] == 0.0 && g[i] > 0) held[i] = -1;
    if (hi[i] == 0.0 && g[i] < 0) held[i] = 1;
  }
  Eigen::VectorXd d = Eigen::VectorXd::Zero(nf);
  const double gnorm = (scale.asDiagonal() * g).norm();
  for (int iteration = 0; iteration < 4 * nf + 4; ++iteration) {
    std::vector<bool> free(nf);
    for (int i = 0; i < nf; ++i) free[i] = held[i] == 0;
    const Eigen::VectorXd target = FreeMinimiser(h, g, scale, free, d);
    // Move towards the free minimiser as far as the box allows.
    double alpha = 1.0;
    int blocking = -1, side = 0;
    for (int i = 0; i < nf; ++i) {
      if (!free[i]) continue;
      const double p = target[i] - d[i];
      if (p < 0 && d[i] + p < lo[i]) {
        const double a = (lo[i] - d[i]) / p;
        if (a < alpha) alpha = a, blocking = i, side = -1;
      } else if (p > 0 && d[i] + p > hi[i]) {
        const double a = (hi[i] - d[i]) / p;
        if (a < alpha) alpha = a, blocking = i, side = 1;
      }
    }
    d += std::max(0.0, alpha) * (target - d);
    if (blocking >= 0) {
      d[blocking] = side < 0 ? lo[blocking] : hi[blocking];
      held[blocking] = side;
      continue;
    }
    // At the free minimiser: release the held parameter whose model gradient points inside
    // the most (scaled), if any.
    const Eigen::VectorXd grad = g + h * d;
    int release = -1;
    double worst = 1e-10 * (gnorm + 1.0);
    for (int i = 0; i < nf; ++i) {
      const double inward = held[i] < 0   ? -grad[i] * scale[i]
                            : held[i] > 0 ? grad[i] * scale[i]
                                          : 0;
      if (inward > worst) worst = inward, release = i;
    }
    if (release < 0) break;
    held[release] = 0;
  }
  for (int i = 0; i < nf; ++i) {
    out.step[fitted[i]] = d[i];
    out.held_at_bound[fitted[i]] = held[i] != 0;
  }
  // The size in the covariance's metric over the fitted parameters, through its
  // eigen-decomposition: a direction of zero variance that the step moves along makes it
  // infinite (nothing would justify that move).
  const int n = static_cast<int>(fitted.size());
  Eigen::MatrixXd sigma(n, n);
  Eigen::VectorXd delta(n);
  for (int i = 0; i < n; ++i) {
    delta[i] = out.step[fitted[i]];
    for (int k = 0; k < n; ++k) sigma(i, k) = in.covariance(fitted[i], fitted[k]);
  }
  if (!sigma.allFinite()) {
    out.size = std::numeric_limits<double>::infinity();
    return out;
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(Symmetric(sigma));
  const Eigen::VectorXd u = es.eigenvectors().transpose() * delta;
  const double largest = n ? std::max(0.0, es.eigenvalues().maxCoeff()) : 0.0;
  double m2 = 0;
  for (int i = 0; i < n; ++i) {
    const double lambda = es.eigenvalues()[i];
    if (lambda > 1e-14 * largest) {
      m2 += u[i] * u[i] / lambda;
    } else if (std::abs(u[i]) > 1e-12 * delta.norm() && u[i] != 0) {
      m2 = std::numeric_limits<double>::infinity();
    }
  }
  out.size = std::sqrt(m2);
  return out;
}

double StudentTQuantile(double p, int dof) {
  if (dof < 1 || !(p > 0.5 && p < 1)) return std::numeric_limits<double>::quiet_NaN();
  const double target = p - 0.5;
  double lo = 0, hi = 2;
  while (StudentTHalfMass(hi, dof) < target && hi < 1e6) lo = hi, hi *= 2;
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    (StudentTHalfMass(mid, dof) < target ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

Eigen::MatrixXd LoewnerUpper(const Eigen::MatrixXd& floor, const Eigen::MatrixXd& other) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> f(Symmetric(floor));
  const Eigen::VectorXd d = f.eigenvalues().cwiseMax(0.0);
  const Eigen::MatrixXd half =
      f.eigenvectors() * d.cwiseSqrt().asDiagonal() * f.eigenvectors().transpose();
  Eigen::VectorXd inv = d.cwiseSqrt();
  for (int k = 0; k < inv.size(); ++k) inv[k] = inv[k] > 0 ? 1.0 / inv[k] : 0.0;
  const Eigen::MatrixXd inv_half =
      f.eigenvectors() * inv.asDiagonal() * f.eigenvectors().transpose();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> g(Symmetric(inv_half * other * inv_half));
  const Eigen::VectorXd up = g.eigenvalues().cwiseMax(1.0);
  return Symmetric(half * g.eigenvectors() * up.asDiagonal() * g.eigenvectors().transpose() * half);
}

ErrorModelOutput ComputeErrorModel(const ErrorModelInput& in) {
  const int np = static_cast<int>(in.information.rows());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ErrorModelOutput out;
  ErrorModel& em = out.model;
  out.covariance = Eigen::MatrixXd::Zero(np, np);
  out.information = Eigen::MatrixXd::Zero(np, np);
  em.robust_scale = in.robust_scale;
  em.segments = static_cast<int>(in.scores.size());
  {
    std::vector<int> e = in.episode;
    std::sort(e.begin(), e.end());
    em.episodes = static_cast<int>(std::unique(e.begin(), e.end()) - e.begin());
  }
  const int dof = in.residuals - in.unknowns;
  em.residual_scale = dof > 0 ? in.sum_psi_squared / dof : nan;
  const double s2 =
      std::isfinite(em.residual_scale) && em.residual_scale > 0 ? em.residual_scale : 1.0;

  // The parameters the data inform, whitened so that the formal data covariance is the
  // identity: w = D^(1/2) U^T S^(-1) z on the range of the (diagonally scaled) information.
  std::vector<int> idx;
  for (int j = 0; j < np; ++j) {
    if (!in.fixed[j] && in.information(j, j) > 0) idx.push_back(j);
  }
  const int m = static_cast<int>(idx.size());
  Eigen::MatrixXd a(m, m);
  Eigen::VectorXd scale(m);
  for (int i = 0; i < m; ++i) scale[i] = 1.0 / std::sqrt(in.information(idx[i], idx[i]));
  for (int i = 0; i < m; ++i) {
    for (int k = 0; k < m; ++k) {
      a(i, k) = scale[i] * in.information(idx[i], idx[k]) * scale[k];
    }
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(Symmetric(a));
  const double top = m ? es.eigenvalues().maxCoeff() : 0.0;
  std::vector<int> keep;
  for (int k = 0; k < m; ++k) {
    if (es.eigenvalues()[k] > 1e-12 * top) keep.push_back(k);
  }
  const int r = static_cast<int>(keep.size());
  Eigen::MatrixXd q(m, r), back(r, m);  // z = q w on the range; w = back z
  for (int c = 0; c < r; ++c) {
    const double lambda = es.eigenvalues()[keep[c]];
    q.col(c) = scale.asDiagonal() * es.eigenvectors().col(keep[c]) / std::sqrt(lambda);
    back.row(c) = (scale.cwiseInverse().asDiagonal() * es.eigenvectors().col(keep[c])).transpose() *
                  std::sqrt(lambda);
  }

  Eigen::MatrixXd honest = s2 * Eigen::MatrixXd::Identity(r, r);
  std::vector<Eigen::VectorXd> h;
  std::vector<Eigen::MatrixXd> b;
  for (std::size_t s = 0; s < in.scores.size(); ++s) {
    Eigen::VectorXd sub(m);
    Eigen::MatrixXd info(m, m);
    for (int i = 0; i < m; ++i) {
      sub[i] = in.scores[s][idx[i]];
      for (int k = 0; k < m; ++k) info(i, k) = in.segment_information[s](idx[i], idx[k]);
    }
    h.push_back(q.transpose() * sub);
    b.push_back(q.transpose() * info * q);
  }
  // Cluster-robust (sandwich) covariance in w, where the bread is the identity: the meat
  // above, G/(G-1) for its centring (`raw`, the estimate of the covariance itself). Few
  // clusters make it noisy (Cameron & Miller 2015): along each of its eigen-directions v the
  // variance is multiplied by (t/z)^2, t the 0.975 quantile of Student's t with G* - 1 degrees
  // of freedom, G* = (sum_g v'B_g v)^2 / sum_g (v'B_g v)^2 the effective number of clusters in
  // that direction (Carter, Schnepel & Steigerwald 2017: clusters that hold little of the
  // information add little to the estimate), so that the intervals of Gaussian draws are t
  // intervals. `t2` is the mean factor.
  struct Sandwich {
    Eigen::MatrixXd raw, adjusted;
    int clusters = 0;
    double t2 = std::numeric_limits<double>::quiet_NaN();
  };
  auto sandwich = [&](const std::vector<int>& cluster,
                      const std::vector<std::pair<int, int>>& adjacent) {
    Sandwich out;
    std::vector<Eigen::MatrixXd> info;
    const Eigen::MatrixXd meat = ClusterMeat(h, b, cluster, adjacent, &info);
    const int g = static_cast<int>(info.size());
    out.clusters = g;
    out.raw = out.adjusted = Eigen::MatrixXd::Zero(r, r);
    if (g < 2 || r == 0) return out;
    out.raw = g / (g - 1.0) * meat;
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(Symmetric(out.raw));
    Eigen::VectorXd lambda = es.eigenvalues().cwiseMax(0.0);
    out.t2 = 0;
    for (int k = 0; k < r; ++k) {
      const Eigen::VectorXd v = es.eigenvectors().col(k);
      double sum = 0, squares = 0;
      for (const auto& bg : info) {
        const double u = std::max(0.0, v.dot(bg * v));
        sum += u;
        squares += u * u;
      }
      const double effective = squares > 0 ? sum * sum / squares : g;
      const int dof = std::max(1, static_cast<int>(std::floor(std::min<double>(effective, g))) - 1);
      const double t = StudentTQuantile(0.975, dof) / kZ975;
      lambda[k] *= t * t;
      out.t2 += t * t / r;
    }
    out.adjusted = es.eigenvectors() * lambda.asDiagonal() * es.eigenvectors().transpose();
    return out;
  };
  std::vector<int> by_segment(in.scores.size());
  std::vector<std::pair<int, int>> adjacent;
  for (std::size_t s = 0; s < by_segment.size(); ++s) {
    by_segment[s] = static_cast<int>(s);
    for (std::size_t t = 0; t < s; ++t) {
      if (in.episode[t] == in.episode[s] && std::abs(in.segment[t] - in.segment[s]) == 1) {
        adjacent.emplace_back(static_cast<int>(t), static_cast<int>(s));
      }
    }
  }
  const Sandwich seg = sandwich(by_segment, adjacent);
  const Eigen::MatrixXd& s_seg = seg.raw;
  const int g_seg = seg.clusters;
  em.clustering = "segment";
  em.clusters = g_seg;
  em.small_sample = seg.t2;
  em.serial_correlation = r > 0 && g_seg >= 2 ? s_seg.trace() / (r * s2) : nan;
  em.effective_residuals = std::isfinite(em.serial_correlation) && em.serial_correlation > 0
                               ? in.residuals / std::max(1.0, em.serial_correlation)
                               : in.residuals;
  if (g_seg >= 2) honest = LoewnerUpper(honest, seg.adjusted);
  em.between_episode = nan;
  if (em.episodes >= in.min_episode_clusters && r > 0) {
    const Sandwich ep = sandwich(in.episode, {});
    em.clustering = "episode";
    em.clusters = ep.clusters;
    em.small_sample = ep.t2;
    em.between_episode = s_seg.trace() > 0 ? ep.raw.trace() / s_seg.trace() : nan;
    honest = LoewnerUpper(honest, ep.adjusted);
  }

  // Honest over formal variance, direction by direction (the formal one is the identity in w).
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> hs(honest);
  const Eigen::VectorXd inflation = hs.eigenvalues().cwiseMax(1e-300);
  em.inflation = r > 0 ? std::exp(inflation.array().log().mean()) : 1.0;
  em.data_weight = 1.0 / em.inflation;

  // The honest data information in z, then priors added.
  const Eigen::MatrixXd info_w =
      hs.eigenvectors() * inflation.cwiseInverse().asDiagonal() * hs.eigenvectors().transpose();
  const Eigen::MatrixXd info_sub = back.transpose() * info_w * back;
  for (int i = 0; i < m; ++i) {
    for (int k = 0; k < m; ++k) out.information(idx[i], idx[k]) = info_sub(i, k);
  }
  out.information = Symmetric(out.information);
  std::vector<int> free;
  for (int j = 0; j < np; ++j) {
    if (!in.fixed[j]) free.push_back(j);
  }
  const int nf = static_cast<int>(free.size());
  Eigen::MatrixXd post(nf, nf);
  for (int i = 0; i < nf; ++i) {
    for (int k = 0; k < nf; ++k) post(i, k) = out.information(free[i], free[k]);
    post(i, i) += in.prior_precision[free[i]];
    if (in.prior_information.size() > 0) {
      for (int k = 0; k < nf; ++k) post(i, k) += in.prior_information(free[i], free[k]);
    }
  }
  Eigen::VectorXd ps(nf);
  for (int i = 0; i < nf; ++i) ps[i] = post(i, i) > 0 ? 1.0 / std::sqrt(post(i, i)) : 0.0;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> pe(ps.asDiagonal() * post * ps.asDiagonal());
  const double ptop = nf ? pe.eigenvalues().maxCoeff() : 0.0;
  out.regular = nf > 0 && (ps.array() > 0).all() && pe.eigenvalues().minCoeff() > 1e-12 * ptop;
  if (out.regular) {
    const Eigen::MatrixXd inv = ps.asDiagonal() * pe.eigenvectors() *
                                pe.eigenvalues().cwiseInverse().asDiagonal() *
                                pe.eigenvectors().transpose() * ps.asDiagonal();
    for (int i = 0; i < nf; ++i) {
      for (int k = 0; k < nf; ++k) out.covariance(free[i], free[k]) = inv(i, k);
    }
    out.covariance = Symmetric(out.covariance);
  }

  std::string note;
  auto add = [&](const std::string& s) { note += (note.empty() ? "" : "; ") + s; };
  char text[256];
  if (std::isfinite(em.residual_scale) && em.residual_scale > 2) {
    std::snprintf(text, sizeof(text),
                  "residuals are %.3g times the noise levels (reduced chi-square %.3g): the model "
                  "misses systematic effects, or the noise levels are too small",
                  std::sqrt(em.residual_scale), em.residual_scale);
    add(text);
  }
  if (std::isfinite(em.serial_correlation) && em.serial_correlation > 2) {
    std::snprintf(text, sizeof(text),
                  "residuals are correlated in time: their information counts as %.3g of %d "
                  "independent residuals",
                  em.effective_residuals, in.residuals);
    add(text);
  }
  if (std::isfinite(em.between_episode) && em.between_episode > 2) {
    std::snprintf(text, sizeof(text),
                  "episodes disagree %.3g times more than their residuals explain (setups, or "
                  "effects that differ per episode)",
                  em.between_episode);
    add(text);
  }
  em.discrepancy = note;
  return out;
}

}  // namespace nextbatch::calib
