// The Ceres side of calibration: one residual block per logged scalar (so that the robust loss
// acts on single samples), all blocks of a segment served from one parallel evaluation that an
// EvaluationCallback runs before Ceres asks for them.
#include "calibration/calibration.h"

#include <ceres/ceres.h>
#include <ceres/covariance.h>
#include <ceres/evaluation_callback.h>
#include <ceres/manifold.h>
#include <glog/logging.h>

#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>

#include "calibration/error_model.h"
#include "calibration/segments.h"
#include "engine/error.h"
#include "engine/interrupt.h"

namespace nextbatch {
namespace {

// Ends a solve when a signal asked the run to stop (engine/interrupt.h); the caller sees a
// failed fit (USER_FAILURE) and the pipeline publishes nothing.
class StopOnInterrupt : public ceres::IterationCallback {
 public:
  ceres::CallbackReturnType operator()(const ceres::IterationSummary&) override {
    return InterruptSignal() != 0 ? ceres::SOLVER_ABORT : ceres::SOLVER_CONTINUE;
  }
};

// Ceres logs through glog. Its ERROR lines (e.g. "covariance matrix is near rank deficient")
// restate what the result reports itself (std null, identifiability), and glog writes them to
// stderr when the host program has not set glog up: then keep glog to fatal messages. A host that
// initialised glog keeps its own settings.
void QuietCeresLogging() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!google::IsGoogleLoggingInitialized()) FLAGS_minloglevel = google::GLOG_FATAL;
  });
}

using calib::ChannelKind;
using calib::Evaluator;
using calib::Layout;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

class Callback : public ceres::EvaluationCallback {
 public:
  Callback(Evaluator* ev, const double* p, const std::vector<std::vector<double>>* xs)
      : ev_(ev), p_(p), xs_(xs) {}

  void PrepareForEvaluation(bool jacobians, bool) override {
    Eigen::VectorXd z = Eigen::Map<const Eigen::VectorXd>(p_, ev_->P());
    std::vector<Eigen::VectorXd> x(xs_->size());
    for (std::size_t a = 0; a < x.size(); ++a) {
      x[a] = Eigen::Map<const Eigen::VectorXd>((*xs_)[a].data(), ev_->nx());
    }
    // Ceres may come back to the same point (e.g. the covariance): reuse what is there.
    bool same = have_ && z.size() == z_.size() && (z.array() == z_.array()).all();
    for (std::size_t a = 0; same && a < x.size(); ++a) same = (x[a].array() == x_[a].array()).all();
    if (same && (!jacobians || have_jacobians_)) return;
    ok_ = ev_->Evaluate(z, x, jacobians);
    have_ = true;
    have_jacobians_ = jacobians;
    z_ = std::move(z);
    x_ = std::move(x);
  }
  bool ok() const { return ok_; }
  // The evaluator was used directly (ProjectedSteps): what it holds is no longer this callback's.
  void Invalidate() { have_ = false; }
  // True when the evaluator holds residuals and Jacobians of exactly the point now in the
  // parameter memory (Ceres writes its current point there before each evaluation, and with
  // update_state_every_iteration before the iteration callbacks).
  bool JacobiansAtCurrentPoint() const {
    if (!have_ || !have_jacobians_ || !ok_) return false;
    const Eigen::Map<const Eigen::VectorXd> z(p_, ev_->P());
    if (z.size() != z_.size() || (z.array() != z_.array()).any()) return false;
    for (std::size_t a = 0; a < x_.size(); ++a) {
      const Eigen::Map<const Eigen::VectorXd> x((*xs_)[a].data(), ev_->nx());
      if ((x.array() != x_[a].array()).any()) return false;
    }
    return true;
  }

 private:
  Evaluator* ev_;
  const double* p_;
  const std::vector<std::vector<double>>* xs_;
  bool have_ = false, have_jacobians_ = false, ok_ = false;
  Eigen::VectorXd z_;
  std::vector<Eigen::VectorXd> x_;
};

// One normalised residual (simulated minus logged, over sigma) of one segment.
class RowCost : public ceres::CostFunction {
 public:
  RowCost(const Evaluator* ev, const Callback* cb, int a, int row)
      : ev_(ev), cb_(cb), a_(a), row_(row) {
    set_num_residuals(1);
    mutable_parameter_block_sizes()->push_back(ev->P());
    mutable_parameter_block_sizes()->push_back(ev->nx());
  }
  bool Evaluate(double const* const*, double* residuals, double** jacobians) const override {
    if (!cb_->ok()) return false;
    residuals[0] = ev_->residuals(a_)[row_];
    if (jacobians && jacobians[0]) {
      for (int j = 0; j < ev_->P(); ++j) jacobians[0][j] = ev_->jp(a_)(row_, j);
    }
    if (jacobians && jacobians[1]) {
      for (int j = 0; j < ev_->nx(); ++j) jacobians[1][j] = ev_->jx(a_)(row_, j);
    }
    return true;
  }

 private:
  const Evaluator* ev_;
  const Callback* cb_;
  int a_, row_;
};

// The stopping rule (docs/calibration.md, "Convergence on the real logs"): after each accepted
// step, the Gauss-Newton step the local model still predicts, in honest standard deviations
// (calib::ComputeRemainingStep); below the tolerance after two accepted steps in a row, the fit
// has nothing left to move that its own uncertainty would notice, and ends (Ceres reports
// USER_SUCCESS). Measured only where the evaluator's Jacobians are those of the accepted point
// (Ceres 2.1 evaluates them there just before the callbacks; checked, not assumed).
class StepRule : public ceres::IterationCallback {
 public:
  // `then` (may be null): a callback run after each judgement, whatever the verdict (Ceres runs
  // no callback after one that ends the solve, and the progress line must show the last one).
  StepRule(std::function<double()> measure, const Callback* cb, double tolerance,
           ceres::IterationCallback* then)
      : measure_(std::move(measure)), cb_(cb), tolerance_(tolerance), then_(then) {}
  ceres::CallbackReturnType operator()(const ceres::IterationSummary& s) override {
    const ceres::CallbackReturnType verdict = Judge(s);
    if (then_) (*then_)(s);
    return verdict;
  }
  double size() const { return size_; }        // at the last accepted point measured
  double initial() const { return initial_; }  // at the start
  bool stopped() const { return stopped_; }

 private:
  ceres::CallbackReturnType Judge(const ceres::IterationSummary& s) {
    if (!s.step_is_successful) return ceres::SOLVER_CONTINUE;
    if (!cb_->JacobiansAtCurrentPoint()) {
      below_ = 0;  // cannot judge this point
      return ceres::SOLVER_CONTINUE;
    }
    size_ = measure_();
    if (s.iteration == 0) {
      // the start counts for nothing: at least two accepted steps (a later phase's start is the
      // point the projected steps left, measured already)
      if (std::isnan(initial_)) initial_ = size_;
      return ceres::SOLVER_CONTINUE;
    }
    below_ = size_ < tolerance_ ? below_ + 1 : 0;
    if (below_ < 2) return ceres::SOLVER_CONTINUE;
    stopped_ = true;
    return ceres::SOLVER_TERMINATE_SUCCESSFULLY;
  }

  std::function<double()> measure_;
  const Callback* cb_;
  double tolerance_;
  ceres::IterationCallback* then_;
  double size_ = std::numeric_limits<double>::quiet_NaN();
  double initial_ = std::numeric_limits<double>::quiet_NaN();
  int below_ = 0;
  bool stopped_ = false;
};

// Reports each Ceres iteration to a progress line: the iteration of the cap, so that the eta is
// the mean iteration time times the iterations left (an upper bound: a fit may converge first).
// With the stopping rule on, the remaining step of the last accepted point, in honest stds.
class ProgressCallback : public ceres::IterationCallback {
 public:
  ProgressCallback(const std::string& stage, int cap, const ProgressOptions& options)
      : progress_(stage, cap, options), cap_(cap), start_(Clock::now()) {}
  void ShowRule(const StepRule* rule) { rule_ = rule; }
  // Iterations of the fit before the Ceres phase now running (earlier phases and projected steps).
  void SetOffset(int offset) { offset_ = offset; }
  // The cost shown is the last accepted point's: on a rejected step Ceres' summary holds the
  // rejected candidate's cost, higher than where the fit stands.
  ceres::CallbackReturnType operator()(const ceres::IterationSummary& s) override {
    if (s.iteration == 0 || s.step_is_successful) accepted_cost_ = s.cost;
    Show(offset_ + s.iteration, accepted_cost_, "step", s.step_norm,
         rule_ ? rule_->size() : std::numeric_limits<double>::quiet_NaN());
    return ceres::SOLVER_CONTINUE;
  }
  // A projected step (ProjectedSteps): the fit's iteration, the objective, the fraction of the
  // step taken, the remaining step.
  void Projected(int iteration, double cost, double fraction, double remaining) {
    Show(iteration, cost, "projected step", fraction, remaining);
  }

 private:
  void Show(int iteration, double cost, const char* step_name, double step, double remaining) {
    char detail[200];
    int used = std::snprintf(detail, sizeof(detail), "cost %.6g, %s %.3g", cost, step_name, step);
    if (std::isfinite(remaining)) {
      used +=
          std::snprintf(detail + used, sizeof(detail) - used, ", remaining %.3g std", remaining);
    }
    std::snprintf(detail + used, sizeof(detail) - used, ", %s elapsed",
                  FormatDuration(Seconds(start_)).c_str());
    progress_.Update(std::min(iteration, cap_), detail);
  }

  Progress progress_;
  int cap_;
  Clock::time_point start_;
  double accepted_cost_ = std::numeric_limits<double>::quiet_NaN();
  int offset_ = 0;
  const StepRule* rule_ = nullptr;
};

// A Gaussian prior on a parameter's value, as one residual.
class PriorCost : public ceres::CostFunction {
 public:
  PriorCost(int p, int j, double mean, double std, bool log_scale)
      : j_(j), mean_(mean), std_(std), log_(log_scale) {
    set_num_residuals(1);
    mutable_parameter_block_sizes()->push_back(p);
  }
  bool Evaluate(double const* const* parameters, double* residuals,
                double** jacobians) const override {
    const double z = parameters[0][j_];
    const double v = log_ ? std::exp(z) : z;
    residuals[0] = (v - mean_) / std_;
    if (jacobians && jacobians[0]) {
      const int p = parameter_block_sizes()[0];
      for (int k = 0; k < p; ++k) jacobians[0][k] = 0.0;
      jacobians[0][j_] = (log_ ? v : 1.0) / std_;
    }
    return true;
  }

 private:
  int j_;
  double mean_, std_;
  bool log_;
};

// Gaussian priors on a grouped inertial's physical quantities (kg, m, kg m^2), one residual per
// quantity with a prior; nonlinear in the coordinates, so the Jacobian is the closed form's.
class InertialPriorCost : public ceres::CostFunction {
 public:
  InertialPriorCost(int p, int first, const InertialGroup& group, double weight)
      : first_(first), mean_(group.prior_mean) {
    for (int k = 0; k < kInertialSize; ++k) {
      if (group.prior_std[k] > 0) {
        quantity_.push_back(k);
        scale_.push_back(std::sqrt(weight) / group.prior_std[k]);
      }
    }
    set_num_residuals(static_cast<int>(quantity_.size()));
    mutable_parameter_block_sizes()->push_back(p);
  }
  bool Evaluate(double const* const* parameters, double* residuals,
                double** jacobians) const override {
    const InertialVector theta = Eigen::Map<const InertialVector>(parameters[0] + first_);
    const InertialVector value = InertialFromCoordinates(theta).Stacked();
    for (std::size_t i = 0; i < quantity_.size(); ++i) {
      residuals[i] = (value[quantity_[i]] - mean_[quantity_[i]]) * scale_[i];
    }
    if (jacobians && jacobians[0]) {
      const int p = parameter_block_sizes()[0];
      const InertialMatrix j = InertialJacobian(theta);
      for (std::size_t i = 0; i < quantity_.size(); ++i) {
        double* row = jacobians[0] + i * p;
        for (int k = 0; k < p; ++k) row[k] = 0.0;
        for (int k = 0; k < kInertialSize; ++k) row[first_ + k] = j(quantity_[i], k) * scale_[i];
      }
    }
    return true;
  }

 private:
  int first_;
  InertialVector mean_;
  std::vector<int> quantity_;
  std::vector<double> scale_;
};

// The grouped inertials of `binding` that carry priors and are fitted: first coordinates.
std::vector<int> InertialPriorGroups(const ParameterBinding& binding) {
  std::vector<int> out;
  for (int first : InertialGroupStarts(binding.specs())) {
    const ParameterSpec& s = binding.spec(first);
    if (!s.fixed && s.group->HasPrior()) out.push_back(first);
  }
  return out;
}

struct FitRun {
  CalibrationStatus status = CalibrationStatus::kFailed;
  std::string termination, message;
  int iterations = 0;
  double initial_cost = 0, final_cost = 0;
  Eigen::VectorXd z;
  std::vector<Eigen::VectorXd> x;
  bool covariance_ok = false;
  std::string covariance_message;
  Eigen::MatrixXd covariance_z;
  Eigen::MatrixXd information_z;       // parameter block, start states eliminated, priors added
  Eigen::MatrixXd data_information_z;  // the same without priors
  calib::ErrorModelInput error_input;  // what the error model needs, at the solution
  double chi2 = 0;
  int data = 0, priors = 0, unknowns = 0;
  std::vector<Eigen::VectorXd> residuals;
  double solve_seconds = 0, covariance_seconds = 0;
  int residual_evaluations = 0, jacobian_evaluations = 0;
  // The remaining Gauss-Newton step in honest stds at the start and at the last accepted point
  // measured (NaN: the rule was off); the rule, not Ceres, ended the fit.
  double initial_step = std::numeric_limits<double>::quiet_NaN();
  double remaining_step = std::numeric_limits<double>::quiet_NaN();
  bool stopped_by_step = false;
  int projected_steps = 0;  // of `iterations`
};

struct Context {
  const mjModel* base;
  const ParameterBinding* binding;
  const std::vector<Episode>* episodes;
  const Layout* layout;
  const CalibrationOptions* options;
  const Layout* replay;  // the open-loop replays' (held-out check): layout's, or for a torque
                         // fit the same segments with position rows
};

// What the fit knows at the evaluator's current point (its residuals and Jacobians at `z`): the
// parameters' data information with the start states eliminated (Schur complement), the same
// with the priors at face value, chi-square, and each segment's score with the start states
// eliminated (J~ = Jp - Jx Hxx^+ Hxp) for the error model. Scores use residuals clipped at
// loss_scale times their robust scale (Huber's psi with an estimated scale), so that a few
// glitching samples do not dominate them.
struct AtPoint {
  calib::ErrorModelInput error_input;
  Eigen::MatrixXd data_information;  // symmetric, no priors
  Eigen::MatrixXd information;       // symmetric, priors at face value
  double chi2 = 0;
};

AtPoint Assemble(const Context& c, const Evaluator& ev, const std::vector<int>& active,
                 const Eigen::VectorXd& z, int data, int unknowns) {
  const int np = ev.P(), n = ev.size();
  AtPoint at;
  calib::ErrorModelInput& em = at.error_input;
  std::vector<double> magnitude;
  for (int a = 0; a < n; ++a) {
    for (int row = 0; row < ev.residuals(a).size(); ++row) {
      magnitude.push_back(std::abs(ev.residuals(a)[row]));
    }
  }
  if (!magnitude.empty()) {
    std::nth_element(magnitude.begin(), magnitude.begin() + magnitude.size() / 2, magnitude.end());
    em.robust_scale = 1.4826 * magnitude[magnitude.size() / 2];
  }
  const double clip = c.options->loss == LossType::kNone
                          ? std::numeric_limits<double>::infinity()
                          : c.options->loss_scale * std::max(1.0, em.robust_scale);
  Eigen::MatrixXd info = Eigen::MatrixXd::Zero(np, np);
  for (int a = 0; a < n; ++a) {
    const calib::Eliminated e = calib::EliminateStartState(ev.jp(a), ev.jx(a));
    info += e.information;
    at.chi2 += ev.residuals(a).squaredNorm();
    const Eigen::VectorXd psi = ev.residuals(a).cwiseMax(-clip).cwiseMin(clip);
    em.sum_psi_squared += psi.squaredNorm();
    const Eigen::MatrixXd& jt = e.jacobian;
    em.scores.push_back(jt.transpose() * psi);
    em.segment_information.push_back(jt.transpose() * jt);
    em.episode.push_back(c.layout->segments()[active[a]].episode);
    em.segment.push_back(active[a]);
  }
  at.data_information = 0.5 * (info + info.transpose());
  const Eigen::VectorXd dv = ev.ValueDerivative(z);
  const Eigen::VectorXd v = ev.Values(z);
  em.prior_precision = Eigen::VectorXd::Zero(np);
  for (int j = 0; j < np; ++j) {
    const ParameterSpec& s = c.binding->spec(j);
    em.fixed.push_back(s.fixed);
    if (s.prior_std > 0 && !s.fixed) {
      em.prior_precision[j] = std::pow(dv[j] / s.prior_std, 2);
      info(j, j) += em.prior_precision[j];
      at.chi2 += std::pow((v[j] - s.prior_mean) / s.prior_std, 2);
    }
  }
  // Physical priors of grouped inertials: J^T S^-2 J of their residuals, a full block (the
  // coordinates are not log-scale: z is the value).
  em.prior_information = Eigen::MatrixXd::Zero(np, np);
  for (int first : InertialPriorGroups(*c.binding)) {
    const InertialGroup& g = *c.binding->spec(first).group;
    const InertialVector theta = z.segment<kInertialSize>(first);
    const InertialVector value = InertialFromCoordinates(theta).Stacked();
    InertialVector w = InertialVector::Zero();
    for (int k = 0; k < kInertialSize; ++k) {
      if (g.prior_std[k] > 0) {
        w[k] = 1.0 / (g.prior_std[k] * g.prior_std[k]);
        at.chi2 += std::pow(value[k] - g.prior_mean[k], 2) * w[k];
      }
    }
    const InertialMatrix j = InertialJacobian(theta);
    em.prior_information.block<kInertialSize, kInertialSize>(first, first) +=
        j.transpose() * w.asDiagonal() * j;
  }
  info += em.prior_information;
  em.information = at.data_information;
  em.residuals = data;
  em.unknowns = unknowns;
  em.min_episode_clusters = c.options->min_episode_clusters;
  at.information = 0.5 * (info + info.transpose());
  return at;
}

// The loss weights sqrt(rho'(r^2)) of residuals r: Ceres' corrector where rho'' <= 0 (ones without
// a loss).
Eigen::VectorXd LossWeights(const Eigen::VectorXd& r, const ceres::LossFunction* loss) {
  Eigen::VectorXd w = Eigen::VectorXd::Ones(r.size());
  if (!loss) return w;
  for (int row = 0; row < w.size(); ++row) {
    double rho[3];
    loss->Evaluate(r[row] * r[row], rho);
    w[row] = std::sqrt(std::max(0.0, rho[1]));
  }
  return w;
}

// Ceres' cost of residuals r: 1/2 sum rho(r^2).
double LossCost(const Eigen::VectorXd& r, const ceres::LossFunction* loss) {
  double sum = 0;
  for (int row = 0; row < r.size(); ++row) {
    double rho[3] = {r[row] * r[row], 1, 0};
    if (loss) loss->Evaluate(r[row] * r[row], rho);
    sum += rho[0];
  }
  return 0.5 * sum;
}

// Ceres' cost of the priors at z: 1/2 sum r^2.
double PriorsCost(const std::vector<const ceres::CostFunction*>& priors, const Eigen::VectorXd& z) {
  const double* blocks[] = {z.data()};
  double sum = 0;
  for (const ceres::CostFunction* prior : priors) {
    Eigen::VectorXd r(prior->num_residuals());
    if (!prior->Evaluate(blocks, r.data(), nullptr)) return std::numeric_limits<double>::infinity();
    sum += r.squaredNorm();
  }
  return 0.5 * sum;
}

// Adds the priors' Gauss-Newton terms at z (J^T J to `information`, J^T r to `gradient` unless it
// is null, in z); false when one did not evaluate (it is left out).
bool AddPriors(const std::vector<const ceres::CostFunction*>& priors, const Eigen::VectorXd& z,
               Eigen::MatrixXd* information, Eigen::VectorXd* gradient) {
  const double* blocks[] = {z.data()};
  bool all = true;
  for (const ceres::CostFunction* prior : priors) {
    const int k = prior->num_residuals();
    Eigen::VectorXd r(k);
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> j(k, z.size());
    double* jacobians[] = {j.data()};
    if (!prior->Evaluate(blocks, r.data(), jacobians)) {
      all = false;
      continue;
    }
    *information += j.transpose() * j;
    if (gradient != nullptr) *gradient += j.transpose() * r;
  }
  return all;
}

// The remaining Gauss-Newton step at the evaluator's current point `z` (the stopping rule's
// measure), in honest stds: the objective's own local model (each residual weighted by the
// loss' rho'(r^2), as Ceres' corrector does where rho'' <= 0, start states eliminated, priors as
// weighted in this fit), and the honest covariance the fit would report at this point. Its size
// is infinite where the honest covariance is not regular.
calib::RemainingStep RemainingStepAt(const Context& c, const Evaluator& ev,
                                     const std::vector<int>& active, const Eigen::VectorXd& z,
                                     int data, int unknowns, const ceres::LossFunction* loss,
                                     const std::vector<const ceres::CostFunction*>& priors) {
  const int np = ev.P();
  calib::RemainingStepInput in;
  in.information = Eigen::MatrixXd::Zero(np, np);
  in.gradient = Eigen::VectorXd::Zero(np);
  for (int a = 0; a < ev.size(); ++a) {
    const Eigen::VectorXd w = LossWeights(ev.residuals(a), loss);
    const calib::Eliminated e =
        calib::EliminateStartState(w.asDiagonal() * ev.jp(a), w.asDiagonal() * ev.jx(a));
    in.information += e.information;
    in.gradient += e.jacobian.transpose() * w.cwiseProduct(ev.residuals(a));
  }
  AddPriors(priors, z, &in.information, &in.gradient);
  const calib::ErrorModelOutput honest =
      calib::ComputeErrorModel(Assemble(c, ev, active, z, data, unknowns).error_input);
  if (!honest.regular) {
    calib::RemainingStep none;
    none.step = Eigen::VectorXd::Zero(np);
    none.direction = Eigen::VectorXd::Zero(np);
    none.size = std::numeric_limits<double>::infinity();
    return none;
  }
  in.covariance = honest.covariance;
  in.point = z;
  in.lower = ev.lower();
  in.upper = ev.upper();
  for (int j = 0; j < np; ++j) in.fixed.push_back(c.binding->spec(j).fixed);
  return calib::ComputeRemainingStep(in);
}

// The formal covariance (in z) at the evaluator's current point: the inverse of the objective's
// Gauss-Newton information as this fit weighs it (each residual by its loss weight, as Ceres'
// corrector; the priors as weighted), every segment's start state eliminated (its held
// components left out), fixed parameters with zero rows and columns. The same matrix Ceres'
// Covariance gets from an SVD of the whole problem's dense Jacobian (every residual a row:
// gigabytes and most of a campaign fit's time on long logs), from one small solve per segment.
// False where it is not regular: a segment's start state or the parameters not determined
// (a Jacobi-scaled eigenvalue below 1e-12 of the largest, the error model's test).
bool FormalCovariance(const Context& c, const Evaluator& ev,
                      const std::vector<std::vector<int>>& held, const ceres::LossFunction* loss,
                      const std::vector<const ceres::CostFunction*>& priors,
                      const Eigen::VectorXd& z, Eigen::MatrixXd* covariance) {
  const int np = ev.P(), nx = ev.nx();
  std::vector<int> free;
  for (int j = 0; j < np; ++j) {
    if (!c.binding->spec(j).fixed) free.push_back(j);
  }
  const int nf = static_cast<int>(free.size());
  *covariance = Eigen::MatrixXd::Zero(np, np);
  if (nf == 0) return true;
  // Inverse of a symmetric positive definite matrix through its Jacobi-scaled eigenvalues; false
  // where it is not regular.
  auto inverse = [](const Eigen::MatrixXd& h, Eigen::MatrixXd* inv) {
    const Eigen::VectorXd d = h.diagonal();
    if (!(d.array() > 0).all() || !d.allFinite()) return false;
    const Eigen::VectorXd s = d.cwiseSqrt().cwiseInverse();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(s.asDiagonal() * h * s.asDiagonal());
    const Eigen::VectorXd& e = es.eigenvalues();
    if (es.info() != Eigen::Success || !(e.minCoeff() > 1e-12 * e.maxCoeff())) return false;
    *inv = s.asDiagonal() * es.eigenvectors() * e.cwiseInverse().asDiagonal() *
           es.eigenvectors().transpose() * s.asDiagonal();
    return true;
  };
  Eigen::MatrixXd info = Eigen::MatrixXd::Zero(nf, nf);
  for (int a = 0; a < ev.size(); ++a) {
    const Eigen::VectorXd w = LossWeights(ev.residuals(a), loss);
    const int rows = static_cast<int>(w.size());
    Eigen::MatrixXd jp(rows, nf);
    for (int i = 0; i < nf; ++i) jp.col(i) = w.cwiseProduct(ev.jp(a).col(free[i]));
    std::vector<int> states;
    for (int k = 0; k < nx; ++k) {
      if (std::find(held[a].begin(), held[a].end(), k) == held[a].end()) states.push_back(k);
    }
    info += jp.transpose() * jp;
    if (states.empty()) continue;
    Eigen::MatrixXd jx(rows, states.size());
    for (std::size_t i = 0; i < states.size(); ++i) {
      jx.col(i) = w.cwiseProduct(ev.jx(a).col(states[i]));
    }
    const Eigen::MatrixXd hxx = jx.transpose() * jx;
    const Eigen::MatrixXd hxp = jx.transpose() * jp;
    Eigen::MatrixXd hxx_inv;
    if (!inverse(hxx, &hxx_inv)) return false;
    info -= hxp.transpose() * hxx_inv * hxp;
  }
  Eigen::MatrixXd prior_info = Eigen::MatrixXd::Zero(np, np);
  if (!AddPriors(priors, z, &prior_info, nullptr)) return false;
  for (int i = 0; i < nf; ++i) {
    for (int k = 0; k < nf; ++k) info(i, k) += prior_info(free[i], free[k]);
  }
  Eigen::MatrixXd inv;
  if (!inverse(0.5 * (info + info.transpose()), &inv)) return false;
  for (int i = 0; i < nf; ++i) {
    for (int k = 0; k < nf; ++k) (*covariance)(free[i], free[k]) = inv(i, k);
  }
  *covariance = 0.5 * (*covariance + covariance->transpose()).eval();
  return true;
}

// Re-solves every segment's start state with the parameters z held (the segments are then
// independent): damped Gauss-Newton on each segment's loss-weighted residuals, an update kept only
// where it lowers that segment's cost. `held[a]`: start-state components that stay. `costs`
// receives each segment's cost at its returned start state. False when a segment does not
// simulate from the start states given.
bool ResolveStartStates(Evaluator& ev, const Eigen::VectorXd& z, std::vector<Eigen::VectorXd>& x,
                        const std::vector<std::vector<int>>& held, const ceres::LossFunction* loss,
                        int iterations, std::vector<double>& costs) {
  const int n = ev.size(), nx = ev.nx();
  std::vector<double> damping(n, 1e-4);
  costs.assign(n, 0.0);
  std::vector<Eigen::VectorXd> trial = x;
  for (int it = 0; it < iterations; ++it) {
    if (!ev.Evaluate(z, x, true, false)) return false;
    for (int a = 0; a < n; ++a) {
      costs[a] = LossCost(ev.residuals(a), loss);
      const Eigen::VectorXd w = LossWeights(ev.residuals(a), loss);
      const Eigen::MatrixXd j = w.asDiagonal() * ev.jx(a);
      Eigen::MatrixXd h = j.transpose() * j;
      Eigen::VectorXd g = j.transpose() * w.cwiseProduct(ev.residuals(a));
      for (int k : held[a]) {
        h.row(k).setZero();
        h.col(k).setZero();
        h(k, k) = 1.0;
        g[k] = 0.0;
      }
      for (int k = 0; k < nx; ++k) h(k, k) += damping[a] * h(k, k) + 1e-300;
      trial[a] = x[a] - h.ldlt().solve(g);
    }
    ev.Evaluate(z, trial, false);
    for (int a = 0; a < n; ++a) {
      const double cost =
          ev.ok(a) ? LossCost(ev.residuals(a), loss) : std::numeric_limits<double>::infinity();
      if (cost < costs[a]) {
        x[a] = trial[a];
        costs[a] = cost;
        damping[a] = std::max(1e-8, damping[a] / 10);
      } else {
        damping[a] *= 10;
      }
    }
  }
  return true;
}

// What a run of projected steps did (docs/calibration.md, "Projected steps").
struct Projection {
  int steps = 0;                                           // tried, each counts as an iteration
  bool converged = false;                                  // by the stopping rule
  bool stalled = false;                                    // a step found no lower objective
  double size = std::numeric_limits<double>::quiet_NaN();  // remaining step at the last point
  double cost = 0;                                         // the objective there
};

// The fit's state that projected steps read and move: the parameter memory Ceres also works on.
struct FitState {
  const Context* c;
  Evaluator* ev;
  Callback* cb;
  const std::vector<int>* active;
  std::vector<double>* p;
  std::vector<std::vector<double>>* xs;
  const std::vector<std::vector<int>>* held;  // per segment: start-state components held
  int data = 0, unknowns = 0;
  const ceres::LossFunction* loss = nullptr;
  const std::vector<const ceres::CostFunction*>* priors;
};

// Variable-projection steps (docs/calibration.md, "Projected steps"): from the point in the
// parameter memory, the Gauss-Newton direction in the parameters (start states eliminated, the
// stopping rule's model; calib::RemainingStep::direction), each trial point clipped into the
// bounds, with every segment's start state re-solved for the stepped parameters, halved until
// the objective falls (at most four times). Ends converged when the
// remaining step is below `tolerance` honest stds at two points in a row (the first may be where
// Ceres stopped: `below` when its measure was), stalled when no fraction lowers the objective,
// or after `max_steps`. The parameter memory holds the last accepted point.
Projection ProjectedSteps(const FitState& f, double tolerance, int max_steps, bool below,
                          ProgressCallback* progress, int iteration) {
  Projection pr;
  Evaluator& ev = *f.ev;
  const int np = ev.P(), nx = ev.nx(), n = ev.size();
  f.cb->PrepareForEvaluation(true, true);
  if (!f.cb->ok()) return pr;
  Eigen::VectorXd z = Eigen::Map<const Eigen::VectorXd>(f.p->data(), np);
  std::vector<Eigen::VectorXd> x(n);
  for (int a = 0; a < n; ++a) x[a] = Eigen::Map<const Eigen::VectorXd>((*f.xs)[a].data(), nx);
  double cost = PriorsCost(*f.priors, z);
  for (int a = 0; a < n; ++a) cost += LossCost(ev.residuals(a), f.loss);
  pr.cost = cost;
  std::vector<double> costs;
  for (;;) {
    const calib::RemainingStep rs =
        RemainingStepAt(*f.c, ev, *f.active, z, f.data, f.unknowns, f.loss, *f.priors);
    pr.size = rs.size;
    const bool now_below = rs.size < tolerance;
    if (now_below && below) {
      pr.converged = true;
      break;
    }
    below = now_below;
    if (!std::isfinite(rs.size) || pr.steps >= max_steps || InterruptSignal() != 0) break;
    ++pr.steps;
    // the start states' first-order response to the step (the Schur back-substitution)
    std::vector<Eigen::VectorXd> dx(n);
    for (int a = 0; a < n; ++a) {
      const Eigen::VectorXd w = LossWeights(ev.residuals(a), f.loss);
      const Eigen::MatrixXd jx = w.asDiagonal() * ev.jx(a);
      const Eigen::VectorXd rhs = jx.transpose() * (w.cwiseProduct(ev.residuals(a)) +
                                                    w.asDiagonal() * ev.jp(a) * rs.direction);
      dx[a] = -(jx.transpose() * jx).completeOrthogonalDecomposition().solve(rhs);
      for (int k : (*f.held)[a]) dx[a][k] = 0.0;
    }
    f.cb->Invalidate();  // the trials below use the evaluator directly
    bool accepted = false;
    double fraction = 1.0, trial_cost = 0;
    Eigen::VectorXd zt;
    std::vector<Eigen::VectorXd> xt(n);
    for (; fraction >= 1.0 / 16; fraction /= 2) {
      zt = (z + fraction * rs.direction).cwiseMax(ev.lower()).cwiseMin(ev.upper());
      for (int a = 0; a < n; ++a) xt[a] = x[a] + fraction * dx[a];
      if (!ResolveStartStates(ev, zt, xt, *f.held, f.loss, 3, costs)) continue;
      trial_cost = PriorsCost(*f.priors, zt);
      for (double v : costs) trial_cost += v;
      if (trial_cost < cost) {
        accepted = true;
        break;
      }
    }
    if (accepted) {
      z = zt;
      x = xt;
      cost = trial_cost;
      std::copy(z.data(), z.data() + np, f.p->begin());
      for (int a = 0; a < n; ++a) std::copy(x[a].data(), x[a].data() + nx, (*f.xs)[a].begin());
    }
    // residuals and Jacobians at the point kept (a rejected trial left the evaluator elsewhere)
    f.cb->PrepareForEvaluation(true, true);
    if (!f.cb->ok()) break;
    pr.cost = cost;
    if (progress) progress->Projected(iteration + pr.steps, cost, accepted ? fraction : 0, rs.size);
    if (!accepted) {
      pr.stalled = true;
      break;
    }
  }
  return pr;
}

// `prior_weight` multiplies the priors' precision in the objective (the error model's
// inflation: data whose residuals overstate their information weigh less against priors).
// `label` names the fit in progress lines ("fit", "refit without outliers", ...).
FitRun RunFit(const Context& c, const std::vector<int>& active, const Eigen::VectorXd& z0,
              const std::vector<Eigen::VectorXd>& x0, const std::string& label,
              double prior_weight = 1.0) {
  FitRun run;
  if (InterruptSignal() != 0) {
    // a stop was asked for: not even the first Jacobian (seconds through the simulator)
    run.termination = "USER_FAILURE";
    run.message = "stopped by " + SignalName(InterruptSignal());
    return run;
  }
  const auto start = Clock::now();
  Evaluator ev(c.base, *c.binding, *c.episodes, *c.layout, active, c.options->threads,
               c.options->control_hold, &c.options->conditions);
  const int np = ev.P(), nx = ev.nx(), n = ev.size();
  std::vector<double> p(z0.data(), z0.data() + np);
  std::vector<std::vector<double>> xs(n);
  for (int a = 0; a < n; ++a) xs[a].assign(x0[a].data(), x0[a].data() + nx);
  Callback cb(&ev, p.data(), &xs);
  // Start-state components that no logged value depends on (a part of the model the logs never
  // see) are held at their guess: left free they would make the information matrix singular.
  // This first evaluation is the one Ceres starts from: the callback keeps it.
  cb.PrepareForEvaluation(true, true);
  std::vector<std::vector<int>> constant(n);
  for (int a = 0; cb.ok() && a < n; ++a) {
    for (int j = 0; j < nx; ++j) {
      if (ev.jx(a).rows() && (ev.jx(a).col(j).array() == 0.0).all()) constant[a].push_back(j);
    }
  }
  ceres::Problem::Options po;
  po.evaluation_callback = &cb;
  ceres::Problem problem(po);
  problem.AddParameterBlock(p.data(), np);
  std::vector<int> held;  // fixed parameters stay at their initial values
  for (int j = 0; j < np; ++j) {
    if (c.binding->spec(j).fixed) held.push_back(j);
  }
  if (static_cast<int>(held.size()) == np) {
    problem.SetParameterBlockConstant(p.data());
  } else if (!held.empty()) {
    problem.SetManifold(p.data(), new ceres::SubsetManifold(np, held));
  }
  run.unknowns = np - static_cast<int>(held.size());
  for (int a = 0; a < n; ++a) {
    problem.AddParameterBlock(xs[a].data(), nx);
    const int fixed = static_cast<int>(constant[a].size());
    if (fixed == nx) {
      problem.SetParameterBlockConstant(xs[a].data());
    } else if (fixed > 0) {
      problem.SetManifold(xs[a].data(), new ceres::SubsetManifold(nx, constant[a]));
    }
    run.unknowns += nx - fixed;
  }
  ceres::LossFunction* loss = nullptr;
  if (c.options->loss == LossType::kHuber) loss = new ceres::HuberLoss(c.options->loss_scale);
  if (c.options->loss == LossType::kCauchy) loss = new ceres::CauchyLoss(c.options->loss_scale);
  for (int a = 0; a < n; ++a) {
    for (int row = 0; row < static_cast<int>(ev.residuals(a).size()); ++row) {
      problem.AddResidualBlock(new RowCost(&ev, &cb, a, row), loss, p.data(), xs[a].data());
      ++run.data;
    }
  }
  if (run.data == 0 && loss) {
    delete loss;
    loss = nullptr;
  }
  std::vector<const ceres::CostFunction*> prior_costs;  // owned by the problem
  for (int j = 0; j < np; ++j) {
    const ParameterSpec& s = c.binding->spec(j);
    if (s.fixed) continue;
    if (std::isfinite(ev.lower()[j])) problem.SetParameterLowerBound(p.data(), j, ev.lower()[j]);
    if (std::isfinite(ev.upper()[j])) problem.SetParameterUpperBound(p.data(), j, ev.upper()[j]);
    if (s.prior_std > 0) {
      auto* cost =
          new PriorCost(np, j, s.prior_mean, s.prior_std / std::sqrt(prior_weight), s.log_scale);
      problem.AddResidualBlock(cost, nullptr, p.data());
      prior_costs.push_back(cost);
      ++run.priors;
    }
  }
  for (int first : InertialPriorGroups(*c.binding)) {
    auto* cost = new InertialPriorCost(np, first, *c.binding->spec(first).group, prior_weight);
    run.priors += cost->num_residuals();
    problem.AddResidualBlock(cost, nullptr, p.data());
    prior_costs.push_back(cost);
  }
  ceres::Solver::Options so;
  so.linear_solver_type = ceres::DENSE_SCHUR;
  so.max_num_iterations = c.options->max_iterations;
  so.num_threads = 1;  // the parallel work is the simulation, done in the callback
  so.logging_type = ceres::SILENT;
  so.function_tolerance = 1e-10;
  so.gradient_tolerance = 1e-12;
  so.parameter_tolerance = 1e-10;
  StopOnInterrupt stop;
  so.callbacks.push_back(&stop);
  // The stopping rule compares the evaluator's last Jacobians with the point in the parameter
  // memory, which Ceres then updates before the callbacks run.
  so.update_state_every_iteration = true;
  std::unique_ptr<StepRule> rule;
  std::unique_ptr<ProgressCallback> progress;
  if (c.options->progress) {
    // a torque fit names its window: "auto" runs one fit per window
    const std::string window =
        c.options->fit_torque ? " (torque window " + FormatNumber(c.options->torque_window) + " s)"
                              : std::string();
    progress = std::make_unique<ProgressCallback>(
        "calibrate " + label + window, so.max_num_iterations, c.options->progress_options);
  }
  if (c.options->step_tolerance > 0) {
    const int data = run.data, unknowns = run.unknowns;
    rule = std::make_unique<StepRule>(
        [&, data, unknowns] {
          return RemainingStepAt(c, ev, active, Eigen::Map<const Eigen::VectorXd>(p.data(), np),
                                 data, unknowns, loss, prior_costs)
              .size;
        },
        &cb, c.options->step_tolerance, progress.get());
    so.callbacks.push_back(rule.get());
    if (progress) progress->ShowRule(rule.get());
  } else if (progress) {
    so.callbacks.push_back(progress.get());
  }
  // Ceres' Levenberg-Marquardt for `projection_after` iterations, then projected steps; when
  // those stall, Ceres again from where they stopped, and so on. max_iterations caps Ceres'
  // iterations and the projected steps together.
  const bool project = rule && c.options->ProjectionAfter() > 0;
  const FitState state{&c,        &ev,      &cb,          &active, &p,          &xs,
                       &constant, run.data, run.unknowns, loss,    &prior_costs};
  ceres::Solver::Summary summary;
  int used = 0;
  bool converged_by_projection = false;
  for (;;) {
    so.max_num_iterations = c.options->max_iterations - used;
    if (project)
      so.max_num_iterations = std::min(so.max_num_iterations, c.options->ProjectionAfter());
    if (progress) progress->SetOffset(used);
    ceres::Solve(so, &problem, &summary);
    // a later Ceres phase always follows projected steps
    if (run.projected_steps == 0) run.initial_cost = summary.initial_cost;
    used += static_cast<int>(summary.iterations.size()) - 1;
    run.final_cost = summary.final_cost;
    if (rule) run.remaining_step = rule->size();
    if (!project || summary.termination_type != ceres::NO_CONVERGENCE ||
        used >= c.options->max_iterations) {
      break;
    }
    const Projection pr =
        ProjectedSteps(state, c.options->step_tolerance, c.options->max_iterations - used,
                       rule->size() < c.options->step_tolerance, progress.get(), used);
    used += pr.steps;
    run.projected_steps += pr.steps;
    run.final_cost = pr.cost;
    run.remaining_step = pr.size;
    if (pr.converged) {
      converged_by_projection = true;
      break;
    }
    if (!pr.stalled || used >= c.options->max_iterations || InterruptSignal() != 0) break;
  }
  run.iterations = used;
  if (rule) {
    run.initial_step = rule->initial();
    run.stopped_by_step = converged_by_projection ||
                          (rule->stopped() && summary.termination_type == ceres::USER_SUCCESS);
    if (run.stopped_by_step) {
      char text[200];
      std::snprintf(text, sizeof(text),
                    "the remaining Gauss-Newton step is %.3g honest std, below step_tolerance "
                    "%.3g after two accepted steps in a row",
                    run.remaining_step, c.options->step_tolerance);
      summary.message = text;
      if (converged_by_projection) summary.termination_type = ceres::USER_SUCCESS;
    }
  }
  if (run.projected_steps > 0 && summary.termination_type == ceres::NO_CONVERGENCE) {
    // Ceres' message counts its last phase's iterations only
    summary.message = "Maximum number of iterations reached: " + std::to_string(used) + " (" +
                      std::to_string(run.projected_steps) + " of them projected steps).";
  }
  run.termination = ceres::TerminationTypeToString(summary.termination_type);
  run.message = summary.message;
  run.solve_seconds = Seconds(start);
  if (!summary.IsSolutionUsable()) {
    if (!ev.message().empty()) run.message += " (" + ev.message() + ")";
    run.residual_evaluations = ev.residual_evaluations();
    run.jacobian_evaluations = ev.jacobian_evaluations();
    return run;
  }
  run.status = summary.termination_type == ceres::CONVERGENCE || run.stopped_by_step
                   ? CalibrationStatus::kConverged
                   : CalibrationStatus::kNoConvergence;
  run.z = Eigen::Map<const Eigen::VectorXd>(p.data(), np);
  run.x.resize(n);
  for (int a = 0; a < n; ++a) run.x[a] = Eigen::Map<const Eigen::VectorXd>(xs[a].data(), nx);

  // Residuals and Jacobians at the solution (the last evaluation may have been a rejected step).
  const auto cov_start = Clock::now();
  cb.PrepareForEvaluation(true, true);
  if (!cb.ok()) {
    run.status = CalibrationStatus::kFailed;
    run.message = "the solution does not simulate: " + ev.message();
    return run;
  }
  if (c.options->ceres_covariance) {
    ceres::Covariance::Options co;
    co.num_threads = 1;
    // Eigen's SVD, not SuiteSparse QR through BLAS: its last bits must not depend on what BLAS
    // threads did before (1 and N threads give identical results).
    co.algorithm_type = ceres::DENSE_SVD;
    ceres::Covariance covariance(co);
    std::vector<std::pair<const double*, const double*>> blocks = {{p.data(), p.data()}};
    if (covariance.Compute(blocks, &problem)) {
      Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m(np, np);
      run.covariance_ok = covariance.GetCovarianceBlock(p.data(), p.data(), m.data());
      run.covariance_z = m;
    }
  } else {
    run.covariance_ok =
        FormalCovariance(c, ev, constant, loss, prior_costs, run.z, &run.covariance_z);
  }
  if (!run.covariance_ok) {
    run.covariance_message =
        "the information matrix is singular: some parameters or start states "
        "are not determined by the data";
  }

  AtPoint at = Assemble(c, ev, active, run.z, run.data, run.unknowns);
  run.error_input = std::move(at.error_input);
  run.data_information_z = std::move(at.data_information);
  run.information_z = std::move(at.information);
  run.chi2 = at.chi2;
  run.residuals.resize(n);
  for (int a = 0; a < n; ++a) run.residuals[a] = ev.residuals(a);
  run.covariance_seconds = Seconds(cov_start);
  run.residual_evaluations = ev.residual_evaluations();
  run.jacobian_evaluations = ev.jacobian_evaluations();
  return run;
}

ReplayError Replay(const Context& c, const std::vector<int>& segments, const Eigen::VectorXd& z) {
  return calib::ReplayFromStarts(c.base, *c.binding, *c.episodes, *c.replay, segments, z,
                                 c.options->threads, c.options->control_hold,
                                 &c.options->conditions);
}

// A torque fit's noise levels not given in the study: 1.4826 x the median |residual| of each
// torque channel over the fitted segments at the initial values (a robust scale of the
// equation's misfit, in N m or N; the loss's threshold is loss_scale times it).
void EstimateTorqueNoise(const mjModel* base, const ParameterBinding& binding,
                         const std::vector<Episode>& episodes, const CalibrationOptions& options,
                         Layout* layout) {
  std::vector<int> fitted, estimated;
  for (int s = 0; s < static_cast<int>(layout->segments().size()); ++s) {
    if (!layout->segments()[s].held_out) fitted.push_back(s);
  }
  // every joint's equation must take part somewhere, or nothing determines what acts on it
  std::vector<int> rows(layout->channels().size(), 0);
  for (int f : fitted) {
    const calib::Segment& seg = layout->segments()[f];
    for (const auto& [sample, column] : seg.rows) {
      ++rows[layout->maps()[seg.episode].columns[column].channel];
    }
  }
  for (int ch = 0; ch < static_cast<int>(layout->channels().size()); ++ch) {
    if (rows[ch] == 0) {
      ThrowExpected("calibration: " + layout->channels()[ch].name,
                    "fitted samples: samples where the joint moves at least torque_min_speed (" +
                        FormatNumber(options.torque_min_speed) +
                        "), more than half of torque_window (" +
                        FormatNumber(options.torque_window) +
                        " s) from an episode's ends, in segments that are not held out",
                    "none");
    }
    if (layout->channels()[ch].estimated) {
      layout->SetSigma(ch, 1.0);
      estimated.push_back(ch);
    }
  }
  if (estimated.empty()) return;
  Evaluator ev(base, binding, episodes, *layout, fitted, options.threads, options.control_hold,
               &options.conditions);
  std::vector<Eigen::VectorXd> x;
  for (int s : fitted) x.push_back(layout->segments()[s].x_init);
  ev.Evaluate(ev.Internal(binding.Initial()), x, false);
  std::map<int, std::vector<double>> magnitude;
  for (int a = 0; a < ev.size(); ++a) {
    const calib::Segment& seg = layout->segments()[fitted[a]];
    const calib::EpisodeMap& map = layout->maps()[seg.episode];
    for (int row = 0; ev.ok(a) && row < ev.residuals(a).size(); ++row) {
      magnitude[map.columns[seg.rows[row].second].channel].push_back(
          std::abs(ev.residuals(a)[row]));
    }
  }
  for (int ch : estimated) {
    std::vector<double>& m = magnitude[ch];
    double sigma = 0;
    if (!m.empty()) {
      std::nth_element(m.begin(), m.begin() + m.size() / 2, m.end());
      sigma = 1.4826 * m[m.size() / 2];
    }
    if (!(sigma > 0) || !std::isfinite(sigma)) {
      ThrowExpected("calibration.noise." + layout->channels()[ch].name,
                    "a noise level given in the study (none can be estimated: the residuals "
                    "at the initial values are 0 or do not simulate)",
                    std::to_string(m.size()) + " residuals, median " + FormatNumber(sigma));
    }
    layout->SetSigma(ch, sigma);
  }
}

// torque_window "auto": a fit with each candidate window, keeping the one whose held-out
// segments replay best (the lowest median; the first of equals). The held-out error then also
// chose the window, so it is slightly optimistic: the summary says so.
CalibrationResult ChooseTorqueWindow(const mjModel* base, const ParameterBinding& binding,
                                     const std::vector<Episode>& episodes,
                                     const CalibrationOptions& options) {
  const auto start = Clock::now();
  std::vector<std::pair<double, double>> scan;
  CalibrationResult best;
  bool have = false, chosen = false;  // a result kept; one with a finite held-out error
  double best_error = std::numeric_limits<double>::infinity();
  std::string first_error;  // a window the data refuse (e.g. no moving samples left in it)
  int held_out = 0;
  for (double window : options.torque_windows) {
    CalibrationOptions o = options;
    o.torque_window = window;
    CalibrationResult r;
    try {
      r = Calibrate(base, binding, episodes, o);
    } catch (const InputError& e) {
      if (first_error.empty()) first_error = e.what();
      scan.emplace_back(window, std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    held_out = std::max(held_out, r.summary.held_out_segments);
    // a fit without held-out segments has no replay error to choose by
    const double error = r.summary.usable() && r.summary.held_out_segments > 0
                             ? r.replay_after.median
                             : std::numeric_limits<double>::quiet_NaN();
    scan.emplace_back(window, error);
    const bool better = std::isfinite(error) && error < best_error;
    if (!have || better) {
      best = std::move(r);
      have = true;
    }
    if (better) {
      best_error = error;
      chosen = true;
    }
    if (InterruptSignal() != 0) break;
  }
  if (!have) throw InputError(first_error);  // every window refused: the first one's reason
  if (held_out == 0) {
    ThrowExpected("calibration.torque_window",
                  "held-out segments to choose a window by (\"auto\"), or a window in s",
                  "none: the episodes make too few segments to hold any out");
  }
  best.summary.torque_window_scan = scan;
  best.summary.total_seconds = Seconds(start);
  if (chosen) {
    char text[200];
    std::snprintf(text, sizeof(text),
                  "torque window %.3g s chosen among %zu by the held-out replay, which is then "
                  "not independent of the fit's settings (slightly optimistic)",
                  best.summary.torque_window, scan.size());
    best.summary.warnings.push_back(text);
  }
  for (const auto& [window, error] : scan) {
    if (std::isnan(error)) {
      best.summary.warnings.push_back("torque window " + FormatNumber(window) +
                                      " s gave no usable fit" +
                                      (first_error.empty() ? "" : " (" + first_error + ")"));
      break;
    }
  }
  return best;
}

}  // namespace

CalibrationResult Calibrate(const mjModel* base, const ParameterBinding& binding,
                            const std::vector<Episode>& episodes,
                            const CalibrationOptions& options) {
  const auto start = Clock::now();
  QuietCeresLogging();
  if (std::string e = options.Validate(); !e.empty()) throw InputError(e);
  if (binding.size() == 0) ThrowExpected("calibration", "at least one parameter", "none");
  {
    bool any_free = false;
    for (int j = 0; j < binding.size(); ++j) any_free = any_free || !binding.spec(j).fixed;
    if (!any_free)
      ThrowExpected("calibration", "at least one parameter that is not fixed",
                    "all " + std::to_string(binding.size()) + " fixed");
  }
  if (episodes.empty()) ThrowExpected("calibration", "at least one episode", "none");
  if (options.fit_torque && options.torque_window == 0) {
    return ChooseTorqueWindow(base, binding, episodes, options);
  }
  calib::LayoutOptions lo;
  lo.segment_seconds = options.segment_seconds;
  lo.state_window = options.state_window;
  lo.fit_qpos = options.fit_qpos;
  lo.fit_qvel = options.fit_qvel;
  lo.fit_sensors = options.fit_sensors;
  lo.held_out_fraction = options.held_out_fraction;
  lo.noise = options.noise;
  lo.scale_keys = calib::ScaleKeys(binding, options.episode_scale);
  lo.fit_torque = options.fit_torque;
  lo.torque_window = options.torque_window;
  lo.torque_min_speed = options.torque_min_speed;
  // episode_scale by a factor that the conditions already apply to the same target would scale
  // that target twice in every episode that records it.
  for (const auto& [name, key] : options.episode_scale) {
    const int k = options.conditions.binding.Find(key);
    if (k < 0) continue;
    for (const std::string& t : binding.spec(binding.Find(name)).targets) {
      for (const std::string& u : options.conditions.binding.spec(k).targets) {
        if (t == u) {
          ThrowExpected("calibration.episode_scale." + name,
                        "a scenario key that no factor applies to the parameter's target",
                        "'" + key + "': factor '" + key + "' binds '" + u +
                            "', which each episode's model receives already (drop the "
                            "episode_scale entry)");
        }
      }
    }
  }
  Layout layout(base, episodes, lo);
  // A torque fit's held-out check replays the same segments open loop, compared with the logged
  // positions (the segments and held-out choice depend on the times alone).
  std::unique_ptr<Layout> replay_layout;
  if (options.fit_torque) {
    calib::LayoutOptions rlo = lo;
    rlo.fit_torque = false;
    rlo.fit_qpos = true;
    rlo.fit_qvel = rlo.fit_sensors = false;
    rlo.noise.clear();
    replay_layout = std::make_unique<Layout>(base, episodes, rlo);
    EstimateTorqueNoise(base, binding, episodes, options, &layout);
  }
  Context c{base,    &binding, &episodes,
            &layout, &options, replay_layout ? replay_layout.get() : &layout};

  CalibrationResult res;
  CalibrationSummary& sum = res.summary;
  if (options.fit_torque) sum.torque_window = options.torque_window;
  const int np = binding.size();
  for (int j = 0; j < np; ++j) res.names.push_back(binding.spec(j).name);
  res.initial = binding.Initial();
  res.value = res.initial;
  res.std = Eigen::VectorXd::Constant(np, std::numeric_limits<double>::infinity());
  res.at_bound.assign(np, false);
  for (const auto& ch : layout.channels()) res.noise[ch.name] = ch.sigma;
  {
    std::vector<double> intervals;
    for (const Episode& ep : episodes) {
      for (int i = 1; i < ep.samples(); ++i) intervals.push_back(ep.time[i] - ep.time[i - 1]);
    }
    if (!intervals.empty()) {
      std::nth_element(intervals.begin(), intervals.begin() + intervals.size() / 2,
                       intervals.end());
      res.sample_seconds = intervals[intervals.size() / 2];
    }
  }
  std::vector<int> fitted, held;
  for (int s = 0; s < static_cast<int>(layout.segments().size()); ++s) {
    (layout.segments()[s].held_out ? held : fitted).push_back(s);
  }
  sum.segments = static_cast<int>(fitted.size());
  sum.held_out_segments = static_cast<int>(held.size());

  // Start values: the initial ones, then each of the options' starts.
  std::vector<Eigen::VectorXd> start_values = {res.initial};
  for (std::size_t k = 0; k < options.starts.size(); ++k) {
    Eigen::VectorXd v = res.initial;
    for (const auto& [name, value] : options.starts[k]) {
      const std::string where = "calibration.starts[" + std::to_string(k) + "]." + name;
      const int j = binding.Find(name);
      if (j < 0) ThrowExpected(where, "a parameter of the study", "an unknown name");
      const ParameterSpec& s = binding.spec(j);
      if (!(value >= s.lower && value <= s.upper) || (s.log_scale && !(value > 0))) {
        ThrowExpected(where, "a value within the parameter's bounds", std::to_string(value));
      }
      v[j] = value;
    }
    start_values.push_back(v);
  }

  // Pre-flight: every parameter must move the simulated logs before anything is solved.
  const auto pre_start = Clock::now();
  Evaluator ev(base, binding, episodes, layout, fitted, options.threads, options.control_hold,
               &options.conditions);
  Eigen::VectorXd z0 = ev.Internal(res.initial);
  std::vector<Eigen::VectorXd> x0;
  for (int s : fitted) x0.push_back(layout.segments()[s].x_init);
  auto stacked = [&]() {
    Eigen::VectorXd r(0);
    for (int a = 0; a < ev.size(); ++a) {
      Eigen::VectorXd next(r.size() + ev.residuals(a).size());
      next << r, ev.residuals(a);
      r = std::move(next);
    }
    return r;
  };
  if (!ev.Evaluate(z0, x0, false)) {
    sum.termination = "NOT_STARTED";
    sum.message = "the initial parameters do not simulate: " + ev.message();
    sum.total_seconds = Seconds(start);
    return res;
  }
  const Eigen::VectorXd r0 = stacked();
  const double dt = base->opt.timestep;
  std::string ineffective;
  for (int j = 0; j < np; ++j) {
    const ParameterSpec& s = binding.spec(j);
    PreflightEntry e;
    e.name = s.name;
    double step = calib::IsDelayOnly(s) ? dt
                  : s.log_scale         ? 0.1
                                        : 0.1 * std::max(std::abs(z0[j]), 1e-2);
    if (z0[j] + step > ev.upper()[j]) step = -step;
    Eigen::VectorXd z = z0;
    z[j] += step;
    e.step = ev.Values(z)[j] - res.initial[j];
    e.effect = ev.Evaluate(z, x0, false) ? (stacked() - r0).norm()
                                         : std::numeric_limits<double>::infinity();
    // A fixed parameter is not fitted: it may be without effect.
    e.ok = s.fixed || e.effect >= options.preflight_min_effect;
    res.preflight.push_back(e);
  }
  // A grouped inertial passes as a whole: a planar swing cannot see some of its coordinates
  // (e.g. the com along the hinge axis), which the identifiability report names.
  for (int first : InertialGroupStarts(binding.specs())) {
    bool any = false;
    for (int k = 0; k < kInertialSize; ++k) any = any || res.preflight[first + k].ok;
    for (int k = 0; k < kInertialSize; ++k) res.preflight[first + k].ok = any;
  }
  for (const PreflightEntry& e : res.preflight) {
    if (!e.ok) ineffective += (ineffective.empty() ? "" : ", ") + ("'" + e.name + "'");
  }
  sum.preflight_seconds = Seconds(pre_start);
  if (!ineffective.empty()) {
    sum.status = CalibrationStatus::kPreflightFailed;
    sum.message = "parameter " + ineffective +
                  " does not change the simulated logs (pre-flight check): remove it, or log "
                  "episodes that excite it";
    sum.total_seconds = Seconds(start);
    return res;
  }

  // A delay makes the cost non-convex over many steps: start from the best whole step.
  auto best_delay = [&](Eigen::VectorXd z) {
    for (int j = 0; j < np; ++j) {
      const ParameterSpec& s = binding.spec(j);
      if (!calib::IsDelayOnly(s) || s.log_scale || s.fixed) continue;
      const int lo_step = static_cast<int>(std::ceil(std::max(0.0, s.lower) / dt - 1e-9));
      const int hi_step = static_cast<int>(std::floor(std::min(s.upper, 60 * dt) / dt + 1e-9));
      double best = ev.Evaluate(z, x0, false) ? ev.SumSquares() : HUGE_VAL;
      for (int k = lo_step; k <= hi_step && InterruptSignal() == 0; ++k) {
        Eigen::VectorXd t = z;
        t[j] = k * dt;
        if (ev.Evaluate(t, x0, false) && ev.SumSquares() < best) {
          best = ev.SumSquares();
          z[j] = t[j];
        }
      }
    }
    return z;
  };

  FitRun run;
  std::unique_ptr<ParameterBinding> kept_binding;
  Context kept = c;  // the kept start's fit, for the refit without outliers
  int evaluations = 0, jacobians = 0;
  double solve_seconds = 0;
  for (std::size_t k = 0; k < start_values.size(); ++k) {
    // From each start, exactly the fit a study with those initial values would do (the
    // Jacobian's difference steps scale with the initial values).
    std::vector<ParameterSpec> specs = binding.specs();
    for (int j = 0; j < np; ++j) specs[j].initial = start_values[k][j];
    auto from = std::make_unique<ParameterBinding>(base, specs);
    Context ck = c;
    ck.binding = from.get();
    const std::string label =
        start_values.size() > 1 ? "fit from start " + std::to_string(k) : std::string("fit");
    FitRun trial = RunFit(ck, fitted, best_delay(ev.Internal(start_values[k])), x0, label);
    const bool usable = trial.status == CalibrationStatus::kConverged ||
                        trial.status == CalibrationStatus::kNoConvergence;
    evaluations += trial.residual_evaluations;
    jacobians += trial.jacobian_evaluations;
    solve_seconds += trial.solve_seconds;
    sum.start_costs.push_back(usable ? trial.final_cost : std::numeric_limits<double>::quiet_NaN());
    const bool run_usable = run.status == CalibrationStatus::kConverged ||
                            run.status == CalibrationStatus::kNoConvergence;
    if (k == 0 || (usable && (!run_usable || trial.final_cost < run.final_cost))) {
      run = std::move(trial);
      sum.start = static_cast<int>(k);
      kept_binding = std::move(from);
      kept = ck;
    }
  }
  sum.initial_cost = run.initial_cost;
  sum.iterations = run.iterations;
  sum.projected_steps = run.projected_steps;
  sum.residual_evaluations = evaluations;
  sum.jacobian_evaluations = jacobians;
  sum.solve_seconds = solve_seconds;

  // Outlier episodes: their residuals stay far out after the fit, compared with the other
  // episodes'. Judged on the bulk of the residuals (1.4826 x median, about 1 for a good episode),
  // so that a few glitching samples, which the robust loss already handles, do not condemn it.
  auto episode_fits = [&](const FitRun& r, const std::vector<int>& active) {
    std::vector<double> ss(episodes.size(), 0.0);
    std::vector<int> count(episodes.size(), 0);
    std::vector<std::vector<double>> magnitude(episodes.size());
    std::vector<std::map<std::string, std::pair<double, int>>> per(episodes.size());
    for (std::size_t a = 0; a < active.size(); ++a) {
      const int s = active[a];
      const int e = layout.segments()[s].episode;
      for (int row = 0; row < r.residuals[a].size(); ++row) {
        const double q = r.residuals[a][row] * r.residuals[a][row];
        ss[e] += q;
        ++count[e];
        magnitude[e].push_back(std::abs(r.residuals[a][row]));
        const auto& seg = layout.segments()[s];
        auto& slot =
            per[e][layout.channels()[layout.maps()[e].columns[seg.rows[row].second].channel].name];
        slot.first += q;
        ++slot.second;
      }
    }
    std::vector<EpisodeFit> out(episodes.size());
    std::vector<double> typical;
    for (std::size_t e = 0; e < episodes.size(); ++e) {
      out[e].id = episodes[e].id;
      out[e].residuals = count[e];
      if (!count[e]) continue;
      out[e].rms = std::sqrt(ss[e] / count[e]);
      auto& mag = magnitude[e];
      std::nth_element(mag.begin(), mag.begin() + mag.size() / 2, mag.end());
      out[e].typical = 1.4826 * mag[mag.size() / 2];
      typical.push_back(out[e].typical);
    }
    // The reference: the median episode, never below the noise level.
    double reference = 1.0;
    if (!typical.empty()) {
      std::sort(typical.begin(), typical.end());
      const std::size_t k = typical.size();
      reference =
          std::max(1.0, k % 2 ? typical[k / 2] : 0.5 * (typical[k / 2 - 1] + typical[k / 2]));
    }
    for (std::size_t e = 0; e < episodes.size(); ++e) {
      if (!count[e]) continue;
      out[e].relative = out[e].typical / reference;
      if (out[e].relative <= options.outlier_threshold) continue;
      std::string worst;
      double worst_rms = 0;
      for (const auto& [name, acc] : per[e]) {
        const double rms = std::sqrt(acc.first / acc.second);
        if (rms > worst_rms) worst_rms = rms, worst = name;
      }
      char text[320];
      std::snprintf(text, sizeof(text),
                    "typical residual %.3g noise std, %.3g times the median episode's (%.3g) > "
                    "threshold %.3g after the fit (rms %.3g); worst channel %s (rms %.3g)",
                    out[e].typical, out[e].relative, reference, options.outlier_threshold,
                    out[e].rms, worst.c_str(), worst_rms);
      out[e].outlier = true;
      out[e].reason = text;
    }
    return out;
  };
  auto usable = [](const FitRun& r) {
    return r.status == CalibrationStatus::kConverged ||
           r.status == CalibrationStatus::kNoConvergence;
  };
  auto add_run = [&](const FitRun& r) {
    sum.iterations += r.iterations;
    sum.projected_steps += r.projected_steps;
    sum.residual_evaluations += r.residual_evaluations;
    sum.jacobian_evaluations += r.jacobian_evaluations;
    sum.solve_seconds += r.solve_seconds;
  };

  sum.first_pass_cost = run.final_cost;
  if (usable(run)) {
    res.episodes = episode_fits(run, fitted);
    int flagged = 0, flagged_rows = 0, rows = 0;
    std::string ids;
    for (const auto& e : res.episodes) {
      rows += e.residuals;
      if (!e.outlier) continue;
      ++flagged;
      flagged_rows += e.residuals;
      ids += (ids.empty() ? "'" : ", '") + e.id + "'";
    }
    // A refit never drops most of the data: outliers are a minority by construction (judged
    // against the median episode), but a few long episodes can hold most of the residuals.
    if (flagged > 0 && options.refit_without_outliers && 2 * flagged_rows >= rows) {
      char text[256];
      std::snprintf(text, sizeof(text),
                    "%d outlier episode(s) (%s) hold %d of %d residuals: no refit without them; "
                    "the fit uses every episode",
                    flagged, ids.c_str(), flagged_rows, rows);
      sum.warnings.push_back(std::string(text));
    } else if (flagged > 0 && options.refit_without_outliers) {
      std::vector<int> keep;
      std::vector<Eigen::VectorXd> xk;
      for (std::size_t a = 0; a < fitted.size(); ++a) {
        if (!res.episodes[layout.segments()[fitted[a]].episode].outlier) {
          keep.push_back(fitted[a]);
          xk.push_back(run.x[a]);
        }
      }
      FitRun again = RunFit(kept, keep, run.z, xk, "refit without outliers");
      sum.refit = true;
      add_run(again);
      sum.refit_initial_cost = again.initial_cost;
      if (again.status != CalibrationStatus::kFailed) {
        std::vector<EpisodeFit> refit = episode_fits(again, keep);
        for (std::size_t e = 0; e < refit.size(); ++e) {
          if (res.episodes[e].outlier) {
            res.episodes[e].excluded = true;
            res.episodes[e].reason += "; excluded from the refit";
          } else {
            res.episodes[e] = refit[e];
            if (refit[e].outlier) res.episodes[e].reason += " (in the refit; kept)";
          }
        }
        sum.excluded_episodes = flagged;
        fitted = keep;
      }
      run = std::move(again);
    }
  }

  // The error model at the solution; where priors exist and the data overstate their
  // information, the fit is repeated with the priors' precision multiplied by the error model's
  // inflation (equivalently the data term divided by it), from the estimate.
  bool has_prior = false;
  for (int j = 0; j < np; ++j) {
    has_prior = has_prior || (binding.spec(j).prior_std > 0 && !binding.spec(j).fixed);
  }
  has_prior = has_prior || !InertialPriorGroups(binding).empty();
  if (usable(run) && has_prior && options.weigh_priors) {
    const calib::ErrorModelOutput first = calib::ComputeErrorModel(run.error_input);
    const double w = first.model.inflation;
    if (std::isfinite(w) && (w > 1.5 || w < 1 / 1.5)) {
      FitRun again = RunFit(kept, fitted, run.z, run.x, "refit with weighed priors", w);
      add_run(again);
      if (usable(again)) {
        sum.prior_weight = w;
        run = std::move(again);
      } else {
        sum.warnings.push_back("the refit with priors weighed by the error model failed (" +
                               again.message + "): the estimate weighs priors at face value");
      }
    }
  }

  sum.status = run.status;
  sum.termination = run.termination;
  sum.message = run.message;
  sum.final_cost = run.final_cost;
  sum.initial_step = run.initial_step;
  sum.remaining_step = run.remaining_step;
  if (run.status == CalibrationStatus::kConverged) {
    sum.stopped_by = run.stopped_by_step ? "step" : "ceres";
  } else if (run.status == CalibrationStatus::kNoConvergence) {
    sum.stopped_by = run.termination == "NO_CONVERGENCE" ? "iterations" : "ceres";
  }
  if (run.status == CalibrationStatus::kFailed) {
    sum.total_seconds = Seconds(start);
    return res;
  }
  sum.segments = static_cast<int>(fitted.size());
  sum.residuals = run.data;
  sum.unknowns = run.unknowns;
  const int dof = run.data + run.priors - run.unknowns;
  sum.reduced_chi2 = dof > 0 ? run.chi2 / dof : std::numeric_limits<double>::quiet_NaN();
  sum.covariance_seconds = run.covariance_seconds;

  res.value = ev.Values(run.z);
  const Eigen::VectorXd dv = ev.ValueDerivative(run.z);
  for (int j = 0; j < np; ++j) {
    const ParameterSpec& s = binding.spec(j);
    res.fixed.push_back(s.fixed);
    const double tol = 1e-6 * std::max({1.0, std::abs(s.lower), std::abs(s.upper)});
    res.at_bound[j] = !s.fixed && ((Bounded(s.lower) && res.value[j] - s.lower <= tol) ||
                                   (Bounded(s.upper) && s.upper - res.value[j] <= tol));
  }
  // The formal covariance: the fit's own at face value; after a refit with weighed priors, the
  // inverse of the information with the priors at face value (the fit's carries the weights).
  Eigen::MatrixXd formal_z = run.covariance_z;
  if (run.covariance_ok && sum.prior_weight != 1.0) {
    formal_z = Eigen::MatrixXd::Zero(np, np);
    std::vector<int> free;
    for (int j = 0; j < np; ++j) {
      if (!res.fixed[j]) free.push_back(j);
    }
    Eigen::MatrixXd sub(free.size(), free.size());
    for (std::size_t i = 0; i < free.size(); ++i) {
      for (std::size_t k = 0; k < free.size(); ++k) {
        sub(i, k) = run.information_z(free[i], free[k]);
      }
    }
    const Eigen::MatrixXd inv = sub.completeOrthogonalDecomposition().pseudoInverse();
    for (std::size_t i = 0; i < free.size(); ++i) {
      for (std::size_t k = 0; k < free.size(); ++k) formal_z(free[i], free[k]) = inv(i, k);
    }
  }
  auto correlation = [np](const Eigen::MatrixXd& cov, const Eigen::VectorXd& std) {
    Eigen::MatrixXd corr = cov;
    for (int i = 0; i < np; ++i) {
      for (int j = 0; j < np; ++j) {
        const double d = std[i] * std[j];
        corr(i, j) = d > 0 ? cov(i, j) / d : (i == j ? 1.0 : 0.0);
      }
    }
    return corr;
  };
  const double inf = std::numeric_limits<double>::infinity();
  if (run.covariance_ok) {
    // An inverse is symmetric only to rounding (Ceres' SVD-based one by 2e-7 in a correlation on
    // a badly conditioned real fit), and calibration.json's reader requires a symmetric matrix.
    res.covariance = dv.asDiagonal() * formal_z * dv.asDiagonal();
    res.covariance = 0.5 * (res.covariance + res.covariance.transpose()).eval();
    res.std = res.covariance.diagonal().cwiseMax(0.0).cwiseSqrt();
    res.correlation = correlation(res.covariance, res.std);
  } else {
    res.covariance = Eigen::MatrixXd::Constant(np, np, inf);
    res.correlation = Eigen::MatrixXd::Identity(np, np);
    sum.message += (sum.message.empty() ? "" : "; ") + run.covariance_message;
  }
  const Eigen::VectorXd inv_dv = dv.cwiseInverse();
  res.information = inv_dv.asDiagonal() * run.information_z * inv_dv.asDiagonal();
  res.data_information = inv_dv.asDiagonal() * run.data_information_z * inv_dv.asDiagonal();

  // The honest covariance from the error model.
  const calib::ErrorModelOutput honest = calib::ComputeErrorModel(run.error_input);
  res.error_model = honest.model;
  if (honest.regular) {
    res.honest_covariance = dv.asDiagonal() * honest.covariance * dv.asDiagonal();
    res.honest_covariance =
        0.5 * (res.honest_covariance + res.honest_covariance.transpose()).eval();
    res.honest_std = res.honest_covariance.diagonal().cwiseMax(0.0).cwiseSqrt();
  } else {
    res.honest_covariance = Eigen::MatrixXd::Constant(np, np, inf);
    res.honest_std = Eigen::VectorXd::Constant(np, inf);
    for (int j = 0; j < np; ++j) {
      if (!res.fixed[j]) continue;
      res.honest_covariance.row(j).setZero();
      res.honest_covariance.col(j).setZero();
      res.honest_std[j] = 0;
    }
  }

  res.inertials = InertialEstimates(binding, res);

  // Identifiability from the data alone (a prior must not make a parameter "identifiable");
  // fixed parameters take no part.
  std::vector<int> free;
  std::vector<std::string> free_names;
  for (int j = 0; j < np; ++j) {
    if (!res.fixed[j]) free.push_back(j), free_names.push_back(res.names[j]);
  }
  Eigen::MatrixXd data_free(free.size(), free.size());
  for (std::size_t i = 0; i < free.size(); ++i) {
    for (std::size_t k = 0; k < free.size(); ++k) {
      data_free(i, k) = run.data_information_z(free[i], free[k]);
    }
  }
  res.identifiability = calib::AnalyseInformation(data_free, free_names, 1e-4);
  const auto& weak = res.identifiability.unidentifiable;
  res.prior_share = Eigen::VectorXd::Constant(np, std::numeric_limits<double>::quiet_NaN());
  for (int j = 0; j < np; ++j) {
    const ParameterSpec& s = binding.spec(j);
    const bool determined = std::find(weak.begin(), weak.end(), s.name) == weak.end();
    if (s.prior_std > 0 && !s.fixed) {
      res.prior_share[j] = std::pow(res.honest_std[j] / s.prior_std, 2);
    }
    if (s.fixed) {
      res.determined_by.push_back("fixed");
    } else if ((std::isfinite(res.honest_std[j]) || !determined) &&
               HeldByBounds(res.honest_std[j], s.lower, s.upper)) {
      // (an infinite std of a parameter the data determine only says that the covariance as a
      // whole is singular, because of others)
      res.determined_by.push_back("bounds");
      res.identifiability.held_by_bounds.push_back(s.name);
      res.identifiability.flat_std.push_back(FlatStd(s.lower, s.upper));
    } else if (determined) {
      res.determined_by.push_back("data");
    } else if (std::isfinite(res.honest_std[j])) {
      // Not determined by the data, yet by data and priors together: its own prior, or a prior
      // on a parameter it is confounded with, holds it.
      res.determined_by.push_back("prior");
      res.identifiability.held_by_prior.push_back(s.name);
    } else {
      res.determined_by.push_back("none");
    }
  }

  // Held-out check: open-loop replay from the logged states, before and after the fit.
  if (!held.empty()) {
    res.replay_before = Replay(c, held, ev.Internal(res.initial));
    res.replay_after = Replay(c, held, run.z);
    res.replay_hold_still = calib::HoldStillOf(*c.replay, held, episodes);
  }
  sum.total_seconds = Seconds(start);
  return res;
}

double FlatStd(double lower, double upper) { return (upper - lower) / std::sqrt(12.0); }

bool HeldByBounds(double honest_std, double lower, double upper) {
  if (!Bounded(lower) || !Bounded(upper) || !(upper > lower)) return false;
  return !(honest_std < FlatStd(lower, upper));
}

}  // namespace nextbatch
