// Internal to the calibration module: the error model of a fit and the honest covariance it
// gives (docs/calibration.md, "Error model and honest covariance"). No Ceres here: the inputs are
// what the fit already has at its solution (the parameters' information with the segment start
// states eliminated, and each segment's score).
#ifndef NEXTBATCH_CALIBRATION_ERROR_MODEL_H_
#define NEXTBATCH_CALIBRATION_ERROR_MODEL_H_

#include <Eigen/Core>
#include <vector>

#include "calibration/calibration.h"

namespace nextbatch::calib {

// Everything is in the solver's internal coordinates (log of the value for log-scale
// parameters).
struct ErrorModelInput {
  // Data information J~^T J~ of the parameters, start states eliminated, no priors (P x P).
  Eigen::MatrixXd information;
  // Prior precision per parameter (0: no prior).
  Eigen::VectorXd prior_precision;
  // Priors on functions of several parameters (a grouped inertial's physical quantities), P x P;
  // empty or zero: none.
  Eigen::MatrixXd prior_information;
  // Per segment: its score J~_s^T psi(r_s) (start states eliminated), its information
  // J~_s^T J~_s, its episode and its index in the episode's order of segments (segments s and
  // s + 1 of one episode are adjacent in time).
  std::vector<Eigen::VectorXd> scores;
  std::vector<Eigen::MatrixXd> segment_information;
  std::vector<int> episode;
  std::vector<int> segment;
  // Parameters held at their initial value (no row in any of the above counts).
  std::vector<bool> fixed;
  double sum_psi_squared = 0.0;  // sum over data residuals of psi(r)^2
  double robust_scale = 1.0;     // 1.4826 x median |r| over data residuals
  int residuals = 0;
  int unknowns = 0;  // free parameters plus start-state components
  // Episode clustering is used from this many episodes with fitted segments on.
  int min_episode_clusters = 10;
};

struct ErrorModelOutput {
  ErrorModel model;
  bool regular = false;        // the honest covariance exists (data plus priors determine all)
  Eigen::MatrixXd covariance;  // honest, internal coordinates (zero rows for fixed parameters)
  // Honest data information (internal coordinates): the data's information deflated by the
  // error model, direction by direction. Priors add to it.
  Eigen::MatrixXd information;
};

ErrorModelOutput ComputeErrorModel(const ErrorModelInput& in);

// The Gauss-Newton step that a fit's local model still predicts, and its size against the
// honest covariance: the stopping rule of docs/calibration.md ("Convergence on the real logs").
// Internal coordinates throughout.
struct RemainingStepInput {
  // The objective's Gauss-Newton matrix J^T J and gradient J^T r over the parameters (start
  // states eliminated, loss weights and priors as in the objective), P x P and P.
  Eigen::MatrixXd information;
  Eigen::VectorXd gradient;
  // The honest covariance (ErrorModelOutput::covariance), P x P.
  Eigen::MatrixXd covariance;
  std::vector<bool> fixed;  // not fitted: no step
  // The current point and its bounds (+-infinity: none).
  Eigen::VectorXd point, lower, upper;
};

struct RemainingStep {
  // The minimiser of the local model g^T delta + delta^T H delta / 2 inside the bounds (the
  // step the fit can take; -H^+ g where no bound interferes). held_at_bound: the parameters the
  // step leaves on a bound (already there with the model pointing outward, or moved onto it).
  Eigen::VectorXd step;
  std::vector<bool> held_at_bound;
  // The Newton direction of projected steps: -H^+ g with only the parameters already on a
  // bound whose step points outward held there (the others solved again). Its trial points are
  // clipped into the bounds fraction by fraction (a projection arc), so a bound decides only
  // where a trial would cross it; `step` fixes the active set for the full step, where the
  // local model is least trustworthy.
  Eigen::VectorXd direction;
  // sqrt(delta^T Sigma^-1 delta) over the fitted parameters: the step in honest standard
  // deviations along its own direction (at least max_j |delta_j| / honest std_j). Infinity when
  // the covariance is not positive definite where the step moves.
  double size = 0.0;
};

RemainingStep ComputeRemainingStep(const RemainingStepInput& in);

// Quantile of Student's t distribution with `dof` degrees of freedom (dof >= 1), p in (0.5, 1).
double StudentTQuantile(double p, int dof);

// The smallest (in its metric) covariance above both `floor` (positive definite) and `other`
// (positive semi-definite): floor^(1/2) W max(G, 1) W^T floor^(1/2), where W G W^T is the
// eigen-decomposition of floor^(-1/2) other floor^(-1/2).
Eigen::MatrixXd LoewnerUpper(const Eigen::MatrixXd& floor, const Eigen::MatrixXd& other);

}  // namespace nextbatch::calib

#endif  // NEXTBATCH_CALIBRATION_ERROR_MODEL_H_
