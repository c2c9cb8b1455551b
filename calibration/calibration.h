// Calibration: fits a study's parameters to logged episodes by nonlinear least squares through
// the simulator (multiple shooting, central differences, Ceres), with covariance, identifiability,
// outlier episodes and a held-out replay check. The method is described in docs/calibration.md.
#ifndef NEXTBATCH_CALIBRATION_CALIBRATION_H_
#define NEXTBATCH_CALIBRATION_CALIBRATION_H_

#include <mujoco/mujoco.h>

#include <Eigen/Core>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/episode.h"
#include "engine/episode_selection.h"
#include "engine/parameter.h"
#include "engine/progress.h"

namespace nextbatch {

enum class LossType { kNone, kHuber, kCauchy };
enum class ControlHold { kLinear, kZeroOrder };

const char* ToString(LossType t);

inline constexpr double kDefaultStateWindow = 0.0;  // s: the 9 nearest samples

struct CalibrationOptions {
  // Multiple shooting: each episode is cut into segments of about this length, each starting
  // from its own unknown state.
  double segment_seconds = 0.5;
  // Each open-loop replay's start state (held-out check, ComputeReplayError): a local
  // least-squares quadratic through the logged samples within this span (at least the 9 nearest)
  // of the start time. Wider spans average encoder quantisation and velocity noise out of the
  // start velocity, which nothing refines in a replay. (The fit's own first guesses of segment
  // start states use the 9 nearest samples: it refines them, and a wide span is biased in fast
  // motion.)
  double state_window = kDefaultStateWindow;
  LossType loss = LossType::kHuber;
  double loss_scale = 3.0;  // in noise standard deviations
  int max_iterations = 50;
  // The stopping rule (docs/calibration.md, "Convergence on the real logs"): the fit ends,
  // converged, when the Gauss-Newton step its local model still predicts is below this many
  // honest standard deviations (sqrt(d^T Sigma_h^-1 d)) after two accepted steps in a row. Ceres'
  // own tolerances still apply. 0: off (only Ceres' tolerances and max_iterations).
  double step_tolerance = 0.1;
  // Projected steps (docs/calibration.md, "Projected steps"): after this many Ceres iterations
  // that did not converge, the fit moves the parameters by the stopping rule's own Gauss-Newton
  // step with every segment's start state re-solved (variable projection), back to Ceres when such
  // a step finds no lower objective. max_iterations counts both. 0: Ceres alone; needs the
  // stopping rule (step_tolerance > 0). -1 (the default): 5 with the Huber loss or none, 0 with
  // the Cauchy loss (ProjectionAfter()).
  int projection_after = -1;
  int ProjectionAfter() const {
    if (projection_after >= 0) return projection_after;
    return loss == LossType::kCauchy ? 0 : 5;
  }
  // Noise standard deviation per channel ("qpos:<joint>", "qvel:<joint>", "sensor:<name>") or
  // per group ("qpos", "qvel", "sensor"); channels not named are estimated from the data.
  std::map<std::string, double> noise;
  double held_out_fraction = 0.2;  // of the segments, kept out of the fit for validation
  // An episode whose typical normalised residual (1.4826 x median |r|) exceeds it is an outlier.
  // An episode is an outlier when its typical normalised residual (1.4826 x median |r|) exceeds
  // this many times the reference: the median of the episodes' typical residuals, at least 1
  // (the noise level). Outliers are judged against the other episodes, so noise levels that are
  // too small for every episode (a model error far above the sensor noise) flag none.
  double outlier_threshold = 3.0;
  // Refit without the outlier episodes, unless they hold half of the fitted residuals or more
  // (then the first fit is kept and the summary warns).
  bool refit_without_outliers = true;
  // Episode-clustered scores enter the honest covariance from this many episodes on (fewer
  // clusters make the cluster-robust estimate too noisy; segment clusters serve then).
  int min_episode_clusters = 10;
  // Weigh priors against the data by the error model: when the residuals overstate the data's
  // information (correlated, or far above the noise levels), the fit is repeated with the
  // priors' precision multiplied by the error model's inflation. false: priors at face value.
  bool weigh_priors = true;
  bool fit_qpos = true;
  bool fit_qvel = true;     // when the episodes log velocities
  bool fit_sensors = true;  // when the episodes log sensors of the model
  // An equation-error fit (channels ["torque"], alone; docs/calibration.md, "Torque residuals"):
  // per logged sample, the generalised force the logged motion takes (inverse dynamics at the
  // positions, velocities and accelerations of a local fit to the logs) against the force the
  // logged commands give, per joint. No segment is simulated, so a disturbance the log does not
  // record (a push) spoils its own samples, not a whole segment. Segments still group the
  // residuals for the error model and the held-out check, which stays an open-loop replay.
  bool fit_torque = false;
  // s: the span of the local cubic through the logged positions that gives each sample's
  // position, velocity and acceleration. 0 ("auto", the default): a fit with each of
  // torque_windows, keeping the one whose held-out segments replay best (needs
  // held_out_fraction > 0).
  double torque_window = 0.0;
  std::vector<double> torque_windows = {0.05, 0.1, 0.15, 0.2, 0.3};
  // Samples at which a joint moves slower than this (rad/s or m/s) leave that joint's torque out:
  // at rest dry friction can hold anything up to its level, so the equation says nothing there.
  double torque_min_speed = 0.05;
  ControlHold control_hold = ControlHold::kLinear;  // how logged commands vary between samples
  double preflight_min_effect = 1e-3;  // change of the residual norm (sigmas) a parameter must make
  int threads = 0;                     // 0: all available
  // Per-episode factors: parameter name -> key of Episode::scenario whose number multiplies that
  // parameter's value in that episode. For one physical constant acting through a setting that
  // differs per episode and is known, e.g. a servo stiffness = gain per firmware unit x the
  // episode's firmware kp.
  std::map<std::string, std::string> episode_scale;
  // Multi-start: alternative initial values (parameter name -> value; parameters not named keep
  // their initial value), e.g. reference sets a user already has. The fit is run from the
  // initial values and from each start, and the run with the lowest final cost on the fitted
  // data is kept: the cost is rough (dry friction, delays), so one start can stop in a worse
  // basin. The held-out data play no part in the choice.
  std::vector<std::map<std::string, double>> starts;
  // Progress of each fit on stderr (engine Progress: only on a terminal, a few lines a second):
  // iteration of the cap, cost, step norm, elapsed time and the time left at the mean iteration
  // time. Off in the library by default; the command turns it on unless -q.
  bool progress = false;
  ProgressOptions progress_options;
  // Read by the calibrate stage, not by Calibrate: which episodes of the dataset it fits (by id
  // or metadata; empty: all), and a calibration.json whose values start the fit (resolved
  // against the study's folder; "": none). The study's calibration.episodes and warm_start.
  EpisodeSelection episodes;
  std::string warm_start;
  // Each episode's recorded model properties (its scenario's parameter-kind factors), laid over
  // the parameters in every simulation of that episode (EpisodeConditions in engine/parameter.h).
  // Set by the calibrate stage from the study's scenario space; empty: the bare model.
  EpisodeConditions conditions;
  // The formal covariance from Ceres' Covariance (an SVD of the whole problem's dense Jacobian,
  // every residual a row) instead of the fit's own per-segment Schur complement: the second
  // method the tests compare with. Slow and memory-hungry on long logs.
  bool ceres_covariance = false;

  std::string Validate() const;
};

enum class CalibrationStatus {
  kConverged,        // Ceres converged (function, gradient or parameter tolerance), or the
                     // remaining step fell below step_tolerance honest stds
  kNoConvergence,    // iteration limit reached: the estimate is usable but not settled
  kPreflightFailed,  // a parameter does not change the simulated logs: nothing was solved
  kFailed,           // the solver failed (see message); no estimate
};

const char* ToString(CalibrationStatus s);

struct PreflightEntry {
  std::string name;
  double effect = 0.0;  // norm of the residual change (sigmas) for a step of the parameter
  double step = 0.0;    // the step taken, in the parameter's units
  bool ok = true;
};

struct EpisodeFit {
  std::string id;
  double rms = 0.0;      // root mean square normalised residual over its fitted segments
  double typical = 0.0;  // 1.4826 x median |normalised residual|: robust, about 1 when good
  int residuals = 0;
  // typical / the reference (median over episodes of `typical`, at least 1): about 1 when the
  // episode fits as well as the others.
  double relative = 0.0;
  bool outlier = false;
  bool excluded = false;  // left out of the refit (an outlier of the first fit)
  std::string reason;     // why it is an outlier ("" when not)
};

struct WeakDirection {
  double eigenvalue = 0.0;  // relative to the largest (normalised information)
  std::vector<std::pair<std::string, double>> combination;  // parameter -> unit-vector weight
};

struct Identifiability {
  Eigen::VectorXd eigenvalues;  // of the normalised information matrix, descending, max = 1
  double condition_number = 0.0;
  std::vector<WeakDirection> weak;          // directions the data cannot tell apart
  std::vector<std::string> unidentifiable;  // parameters that take part in a weak direction
  // Parameters the data do not determine (in `unidentifiable`) that priors hold (their own, or
  // one on a parameter they are confounded with): their std comes from the priors.
  std::vector<std::string> held_by_prior;
  // Parameters bounded on both sides whose honest std is at least that of a flat distribution
  // over their bounds ((upper - lower) / sqrt(12)): the data, honestly counted, say nothing the
  // bounds do not already say. Sampled from the posterior they sit against their bounds.
  std::vector<std::string> held_by_bounds;
  std::vector<double> flat_std;  // per held_by_bounds entry: (upper - lower) / sqrt(12)
};

// The std of a flat distribution over [lower, upper]: (upper - lower) / sqrt(12).
double FlatStd(double lower, double upper);

// Whether an estimate with this honest std (value units) is held by its bounds rather than
// determined: both bounds finite and the std at least FlatStd(lower, upper) (an infinite or NaN
// std counts as at least).
bool HeldByBounds(double honest_std, double lower, double upper);

// How far the residuals are from the independent noise of the stated levels that the formal
// covariance assumes, and the honest covariance that follows (docs/calibration.md).
struct ErrorModel {
  // s^2: sum of squared (clipped) data residuals over (residuals - unknowns); 1 when the model
  // and the noise levels are right. The honest covariance is at least s^2 times the formal one.
  double residual_scale = 1.0;
  double robust_scale = 1.0;  // 1.4826 x median |normalised residual| over the fitted data
  // Segment-clustered (CR2) covariance over the s^2 form, averaged over the data-determined
  // directions: about 1 for independent residuals, larger when they are correlated in time.
  double serial_correlation = 1.0;
  double effective_residuals = 0.0;  // residuals / max(1, serial_correlation)
  // Episode-clustered over segment-clustered variance (averaged): above 1 when episodes differ
  // by more than their residuals explain. NaN when too few episodes to cluster on.
  double between_episode = 0.0;
  std::string clustering = "segment";  // the widest clustering used: "segment" or "episode"
  int clusters = 0;                    // of that clustering
  int segments = 0, episodes = 0;
  // Mean over directions of (t/z)^2, t the 0.975 quantile of Student's t with (effective
  // clusters - 1) degrees of freedom: the factor on that clustering's covariance so that
  // Gaussian draws give t intervals.
  double small_sample = 1.0;
  // Geometric mean over the data-determined directions of honest over formal variance; the
  // data's weight against priors is its inverse.
  double inflation = 1.0;
  double data_weight = 1.0;
  std::string discrepancy;  // what the residuals say about model discrepancy ("" when nothing)
};

struct ReplayWindow {
  int episode = 0;
  double start_time = 0.0;
  double max_error = 0.0;  // max over samples and logged joints of |simulated - logged| qpos
  bool ok = true;          // false when the simulation diverged
};

struct ReplayError {
  double median = 0.0;  // over windows of their max error
  std::vector<ReplayWindow> windows;
};

struct CalibrationSummary {
  CalibrationStatus status = CalibrationStatus::kFailed;
  std::string termination;  // Ceres' termination type
  std::string message;      // Ceres' message, or why it failed
  int iterations = 0;       // of the kept start (plus its refit)
  int projected_steps = 0;  // of `iterations` (CalibrationOptions::projection_after)
  // What ended the last fit: "step" (the remaining step fell below step_tolerance), "ceres"
  // (one of Ceres' tolerances), "iterations" (max_iterations); "" when it failed.
  std::string stopped_by;
  // The Gauss-Newton step the last fit's local model predicted, in honest stds, at its start and
  // at its last accepted point (NaN with step_tolerance 0; infinity where the honest covariance
  // was singular).
  double initial_step = std::numeric_limits<double>::quiet_NaN();
  double remaining_step = std::numeric_limits<double>::quiet_NaN();
  int start = 0;  // which start was kept: 0 the initial values, k the options' starts[k-1]
  std::vector<double> start_costs;  // final cost from each start (NaN where its fit failed)
  double initial_cost = 0.0;  // Ceres cost (robustified, 1/2 sum) at the start of the first fit
  double final_cost = 0.0;
  double reduced_chi2 = 0.0;  // sum of squared normalised residuals / degrees of freedom
  int residuals = 0;
  int unknowns = 0;  // parameters plus segment start states
  int segments = 0;
  int held_out_segments = 0;
  bool refit = false;               // the fit was repeated without outlier episodes
  int excluded_episodes = 0;        // left out of that refit
  double first_pass_cost = 0.0;     // final cost of the first fit (all episodes)
  double refit_initial_cost = 0.0;  // the refit's cost at its start (the refit's data)
  // Priors' precision was multiplied by this (the error model's inflation) in a last refit, so
  // that data whose residuals overstate their information do not overrule them; 1: no refit.
  double prior_weight = 1.0;
  // Torque fits: the window used (s), and with torque_window "auto" each window tried with its
  // held-out replay error (median of max; NaN where that fit failed).
  double torque_window = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::pair<double, double>> torque_window_scan;
  std::vector<std::string> warnings;  // results a user must know about that are not failures
  double preflight_seconds = 0.0;
  double solve_seconds = 0.0;
  double covariance_seconds = 0.0;
  double total_seconds = 0.0;
  int jacobian_evaluations = 0;
  int residual_evaluations = 0;

  bool usable() const {
    return status == CalibrationStatus::kConverged || status == CalibrationStatus::kNoConvergence;
  }
};

// A grouped inertial's estimate in physical units, in PhysicalInertial::Stacked() order (mass
// kg, com x y z m, inertia about the com ixx iyy izz ixy ixz iyz kg m^2): the coordinates'
// values mapped through, standard deviations by the delta method (diagonal of J C J^T, J the
// closed-form d physical / d coordinates at the estimate, C the coordinates' covariance).
struct InertialEstimate {
  std::string name;  // the study's parameter name (its coordinates are "<name>.alpha", ...)
  std::string body;
  int first = 0;  // index of its first coordinate among the parameters
  InertialVector initial = InertialVector::Zero();
  InertialVector value = InertialVector::Zero();
  InertialVector std = InertialVector::Zero();         // formal; infinity where not determined
  InertialVector honest_std = InertialVector::Zero();  // from the honest covariance
};

struct CalibrationResult {
  CalibrationSummary summary;
  std::vector<std::string> names;
  Eigen::VectorXd initial;
  Eigen::VectorXd value;  // the estimate, in the parameters' units
  // Formal standard deviations (independent residuals at the stated noise levels, priors at
  // face value; infinity where not determined; 0 for fixed parameters).
  Eigen::VectorXd std;
  Eigen::MatrixXd covariance;   // of `value`, formal
  Eigen::MatrixXd correlation;  // of `value`
  // Fisher information of `value` (J^T J of the normalised residuals plus priors) with the
  // segment start states eliminated; its inverse is the covariance when it is regular.
  Eigen::MatrixXd information;
  // The same without the priors: what the data alone determine (identifiability is computed
  // from it).
  Eigen::MatrixXd data_information;
  // Honest standard deviations and covariance of `value`: the data's information deflated by
  // the error model, priors added (infinity where not determined; 0 for fixed parameters). What
  // a later stage should sample.
  Eigen::VectorXd honest_std;
  Eigen::MatrixXd honest_covariance;
  ErrorModel error_model;
  std::vector<bool> fixed;  // held at the initial value, not fitted
  // Per parameter: "data" (the data determine it), "prior" (the data do not; priors, its own or
  // one on a parameter it is confounded with, do), "fixed", or "none" (nothing does).
  std::vector<std::string> determined_by;
  // Per parameter with a prior: honest posterior variance over prior variance (near 1: the data
  // taught nothing beyond the prior); NaN without a prior.
  Eigen::VectorXd prior_share;
  std::vector<bool> at_bound;
  std::map<std::string, double> noise;  // channel -> standard deviation used
  // Median interval between logged samples over the episodes (s): how densely the data that
  // gave this information were sampled, for a later stage that simulates episodes like them.
  double sample_seconds = 0.0;
  std::vector<PreflightEntry> preflight;
  std::vector<EpisodeFit> episodes;
  Identifiability identifiability;
  ReplayError replay_before;  // held-out segments, initial values
  ReplayError replay_after;   // held-out segments, fitted values
  // Held-out segments, a model that does not move (each window's start position held): what
  // the logs alone score. A fit no better than this has nothing to show on these segments.
  ReplayError replay_hold_still;
  // Grouped inertial parameters in physical units (InertialEstimates), in the study's order.
  std::vector<InertialEstimate> inertials;
};

// The physical estimates of `binding`'s grouped inertials from `result`'s values, initial values
// and (formal and honest) covariances.
std::vector<InertialEstimate> InertialEstimates(const ParameterBinding& binding,
                                                const CalibrationResult& result);

// Fits `binding`'s parameters to `episodes` (channels named by the model's joints, actuators
// and sensors; any sample times). Throws InputError for episodes or options that cannot be
// used; numerical outcomes are in the summary.
CalibrationResult Calibrate(const mjModel* base, const ParameterBinding& binding,
                            const std::vector<Episode>& episodes,
                            const CalibrationOptions& options);

// Open-loop replay error of a parameter vector: windows of `window_seconds` start from the
// logged state (positions and velocities from a local fit to the logs over `state_window`, as in
// CalibrationOptions) and run on the logged commands; every episode is cut into consecutive
// windows. The median over windows is robust to a few windows that start from a badly estimated
// state. `conditions`: each episode's recorded model properties, as the fit applied them.
ReplayError ComputeReplayError(const mjModel* base, const ParameterBinding& binding,
                               const Eigen::VectorXd& values, const std::vector<Episode>& episodes,
                               double window_seconds, int threads,
                               ControlHold hold = ControlHold::kLinear,
                               const std::map<std::string, std::string>& episode_scale = {},
                               double state_window = kDefaultStateWindow,
                               const EpisodeConditions* conditions = nullptr);

// The baseline of ComputeReplayError, on the same windows and start states: a model that does
// not move, each window's start position held throughout. Where a parameter set scores no
// better than this, the windows hold nothing that tells models apart (the system at rest within
// the sensor's resolution).
ReplayError ComputeHoldStillError(const mjModel* base, const std::vector<Episode>& episodes,
                                  double window_seconds, double state_window = kDefaultStateWindow);

// Settings of EpisodeInformation: those of the fit it reproduces.
struct EpisodeInformationOptions {
  double segment_seconds = 0.5;  // CalibrationOptions::segment_seconds
  // Noise standard deviation per channel or group, as CalibrationOptions::noise; every channel
  // the episodes log must have one (a simulated episode has no noise to estimate it from).
  std::map<std::string, double> noise;
  ControlHold control_hold = ControlHold::kLinear;
  int threads = 1;  // 0: all available
  // Each episode's recorded model properties over the parameters (EpisodeConditions), as the
  // fit applies them; null: none. Must outlive the call.
  const EpisodeConditions* conditions = nullptr;
  // Per-episode factors, as CalibrationOptions::episode_scale: the episodes' scenarios must give
  // each named key as a number.
  std::map<std::string, std::string> episode_scale;

  std::string Validate() const;
};

// What `episodes` tell about the parameters at `values`, by the fit's own routine: the logged
// channels (qpos, qvel, sensors) cut into segments of segment_seconds, each simulated on the
// logged commands from its own start state, residuals normalised by the noise levels,
// central-difference Jacobians with the fit's steps, the start states eliminated (the Schur
// complement of the fit's covariance). Returns the P x P information in the parameters' units
// (CalibrationResult::data_information's form: no priors, no error model; zero rows and columns
// for fixed parameters). `start_states` (optional, one per episode, samples x (nq + nv)) gives
// each segment's start state exactly, for a simulated episode whose sample times lie on the
// simulation grid; without it a local fit to the logs gives it, as the fit's first guess.
// Throws InputError for episodes the fit would refuse, a channel without a noise level or
// values out of bounds; RunError when a segment does not simulate.
Eigen::MatrixXd EpisodeInformation(const mjModel* base, const ParameterBinding& binding,
                                   const Eigen::VectorXd& values,
                                   const std::vector<Episode>& episodes,
                                   const EpisodeInformationOptions& options,
                                   const std::vector<Eigen::MatrixXd>* start_states = nullptr);

}  // namespace nextbatch

#endif  // NEXTBATCH_CALIBRATION_CALIBRATION_H_
