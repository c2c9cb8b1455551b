// Internal to the calibration module: the residual layout of multiple shooting (channels,
// segments, which logged sample each residual compares with) and its parallel evaluation through
// the simulator with central-difference Jacobians. No Ceres here: calibration.cc drives it.
#ifndef NEXTBATCH_CALIBRATION_SEGMENTS_H_
#define NEXTBATCH_CALIBRATION_SEGMENTS_H_

#include <mujoco/mujoco.h>

#include <Eigen/Core>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "calibration/calibration.h"
#include "engine/episode.h"
#include "engine/parameter.h"
#include "engine/workspace.h"

namespace nextbatch::calib {

enum class ChannelKind { kQpos, kQvel, kSensor, kTorque };

// One fitted scalar signal, shared by every episode that logs it.
struct Channel {
  std::string name;  // "qpos:<joint>", "qvel:<joint>", "sensor:<sensor>", "torque:<joint>"
  ChannelKind kind = ChannelKind::kQpos;
  int model_index = 0;  // qpos address, dof address (qvel, torque) or sensordata address
  double sigma = 1.0;   // noise standard deviation
  bool estimated = false;
};

// Where an episode keeps each fitted channel, and its commands in actuator order.
struct EpisodeMap {
  struct Column {
    int channel;                    // into Layout::channels
    const Eigen::MatrixXd* values;  // null for a torque channel (nothing logged to compare)
    int column;
  };
  std::vector<Column> columns;
  Eigen::MatrixXd ctrl;  // samples x nu (actuators the log lacks stay 0)
  // Torque fits: per sample, qpos (nq), qvel (nv) and qacc (nv) from local fits to the logs.
  Eigen::MatrixXd kinematics;
  Eigen::VectorXd scale;  // per parameter, multiplies its value in this episode (empty: none)
};

// How a replay start state (Segment::x_start) was estimated from one logged channel: its value
// (and, for a position, its slope) came from a local fit whose covariance for unit noise on the
// samples is `unit_cov` (value, slope); times the channel's noise variance it is the estimate's.
struct StartFit {
  std::string channel;  // "qpos:<joint>" or "qvel:<joint>"
  int value = 0;        // index into the state (nq + nv) of the fitted value
  int slope = -1;       // index of the velocity taken from the fit's slope, -1 when none
  Eigen::Matrix2d unit_cov = Eigen::Matrix2d::Zero();
};

// One shooting segment: logged samples [first, end) of an episode, simulated from an unknown
// start state placed on the episode's simulation grid (time[0] + k * timestep).
struct Segment {
  int episode = 0;
  int first = 0;
  int end = 0;
  int start_step = 0;  // grid index of the start state
  int num_steps = 0;
  bool held_out = false;
  std::vector<std::pair<int, int>> rows;  // (sample, column of the EpisodeMap) per residual
  Eigen::VectorXd x_init;                 // nq + nv: a local fit to the logs at the start
  Eigen::VectorXd x_start;                // the same over LayoutOptions::state_window (replays)
  std::vector<StartFit> start_fits;       // how x_start was estimated, per logged channel
};

struct LayoutOptions {
  double segment_seconds = 0.5;
  bool fit_qpos = true;
  bool fit_qvel = true;
  bool fit_sensors = true;
  double held_out_fraction = 0.0;
  // s: replay start states (x_start) from a local fit over this span; 0: the 9 nearest samples
  double state_window = 0.0;
  std::map<std::string, double> noise;  // channel or group -> sigma; others estimated
  // Torque residuals (CalibrationOptions::fit_torque) instead of the channels above: one channel
  // "torque:<joint>" per joint, rows where the joint moves at least torque_min_speed. Their
  // sigma, when not given, is left at 1 and marked estimated (Calibrate estimates it).
  bool fit_torque = false;
  double torque_window = 0.05;
  double torque_min_speed = 0.05;
  // Per parameter: the Episode::scenario key that scales it per episode ("" for none); empty
  // when no parameter is scaled.
  std::vector<std::string> scale_keys;
};

// scale_keys for LayoutOptions from CalibrationOptions::episode_scale (throws InputError for a
// name that is not a parameter).
std::vector<std::string> ScaleKeys(const ParameterBinding& binding,
                                   const std::map<std::string, std::string>& episode_scale);

class Layout {
 public:
  // Checks the episodes against the model (throws InputError naming the episode and channel).
  Layout(const mjModel* m, const std::vector<Episode>& episodes, const LayoutOptions& options);

  int nx() const { return nx_; }
  bool torque() const { return torque_; }
  const std::vector<Channel>& channels() const { return channels_; }
  // Sets an estimated channel's noise level (torque channels, estimated from the residuals).
  void SetSigma(int channel, double sigma) { channels_[channel].sigma = sigma; }
  const std::vector<EpisodeMap>& maps() const { return maps_; }
  const std::vector<Segment>& segments() const { return segments_; }
  // Sigma of a residual row of segment s.
  double Sigma(int s, int row) const {
    return channels_[maps_[segments_[s].episode].columns[segments_[s].rows[row].second].channel]
        .sigma;
  }
  ChannelKind Kind(int s, int row) const {
    return channels_[maps_[segments_[s].episode].columns[segments_[s].rows[row].second].channel]
        .kind;
  }

 private:
  int nx_ = 0;
  bool torque_ = false;
  std::vector<Channel> channels_;
  std::vector<EpisodeMap> maps_;
  std::vector<Segment> segments_;
};

// Robust noise level of a sampled signal (any sample times): each sample is predicted from its
// four neighbours by the cubic through them; the prediction errors, scaled to unit noise gain,
// give sigma through their median absolute value. Returns the scaled errors.
std::vector<double> NoiseProbes(const std::vector<double>& time, const Eigen::MatrixXd& values,
                                int column);

// The parallel evaluator of a set of segments for parameter vector z (internal coordinates:
// log of the value for log-scale parameters) and start states x (one per segment).
class Evaluator {
 public:
  // `conditions` (may be null; must outlive the evaluator): each episode's recorded model
  // properties, laid over the parameters (EpisodeConditions).
  Evaluator(const mjModel* base, const ParameterBinding& binding,
            const std::vector<Episode>& episodes, const Layout& layout, std::vector<int> segments,
            int threads, ControlHold hold, const EpisodeConditions* conditions = nullptr);
  ~Evaluator();

  int size() const { return static_cast<int>(segments_.size()); }
  int segment(int a) const { return segments_[a]; }
  int P() const { return binding_->size(); }
  int nx() const { return layout_->nx(); }

  Eigen::VectorXd Values(const Eigen::VectorXd& z) const;
  Eigen::VectorXd Internal(const Eigen::VectorXd& values) const;
  // d value / d z per parameter.
  Eigen::VectorXd ValueDerivative(const Eigen::VectorXd& z) const;

  // Residuals (sim - log) / sigma of every segment, and with `jacobians` their central-difference
  // derivatives (zero, and no simulations, for fixed parameters, and for every parameter when
  // `parameter_jacobians` is false: the start states' alone). With a torque layout, residuals
  // are (actuator force - inverse dynamics) / sigma per row, and the start states' derivatives
  // zero (nothing is simulated from them). Returns false when any simulation
  // failed (see ok(a) and message()).
  bool Evaluate(const Eigen::VectorXd& z, const std::vector<Eigen::VectorXd>& x, bool jacobians,
                bool parameter_jacobians = true);

  const Eigen::VectorXd& residuals(int a) const { return r_[a]; }
  const Eigen::MatrixXd& jp(int a) const { return jp_[a]; }
  const Eigen::MatrixXd& jx(int a) const { return jx_[a]; }
  bool ok(int a) const { return ok_[a] != 0; }
  const std::string& message() const { return message_; }
  int residual_evaluations() const { return residual_evaluations_; }
  int jacobian_evaluations() const { return jacobian_evaluations_; }
  double SumSquares() const;

  // The finite-difference steps (internal coordinates) used for z.
  const Eigen::VectorXd& z_steps() const { return hz_; }
  // The parameters' bounds in internal coordinates (+-infinity: none): what the fit gives Ceres,
  // and what a difference never leaves (at a bound a derivative is one-sided, not the average of
  // the slope inside and one the fit may never reach, such as dry friction below 0).
  const Eigen::VectorXd& lower() const { return lower_; }
  const Eigen::VectorXd& upper() const { return upper_; }

 private:
  struct Pool;
  bool Simulate(int thread, const Eigen::VectorXd& z, int a, const double* x, double* out);
  // The torque residuals of segment a (a torque layout), with the parameters already applied.
  bool InverseResiduals(int thread, int a, double* out);
  // The two points at which parameter j's derivative is differenced at z: z_j -+ h, shifted
  // inside the bounds where one would leave them.
  std::pair<double, double> ParameterStencil(const Eigen::VectorXd& z, int j) const;

  const ParameterBinding* binding_;
  const EpisodeConditions* conditions_;
  std::vector<const Eigen::VectorXd*> episode_conditions_;  // per episode, null: none
  const std::vector<Episode>* episodes_;
  const Layout* layout_;
  std::vector<int> segments_;
  int threads_;
  ControlHold hold_;
  std::unique_ptr<Pool> pool_;
  Eigen::VectorXd hz_;
  Eigen::VectorXd lower_, upper_;
  std::vector<Eigen::VectorXd> r_;
  std::vector<Eigen::MatrixXd> jp_, jx_;
  std::vector<char> ok_;
  std::vector<char> fixed_;
  std::vector<std::vector<double>> task_out_;
  std::string message_;
  int residual_evaluations_ = 0;
  int jacobian_evaluations_ = 0;
};

// One segment's parameter Jacobian with its start state eliminated: J~ = Jp - Jx Hxx^+ Hxp
// (Hxx = Jx^T Jx, Hxp = Jx^T Jp), and its information Jp^T Jp - Hxp^T Hxx^+ Hxp (= J~^T J~):
// the Schur complement the fit's covariance, error model and EpisodeInformation all use.
struct Eliminated {
  Eigen::MatrixXd jacobian;     // J~, residuals x parameters
  Eigen::MatrixXd information;  // parameters x parameters
};
Eliminated EliminateStartState(const Eigen::MatrixXd& jp, const Eigen::MatrixXd& jx);

// True for a parameter whose one target is the actuation delay.
bool IsDelayOnly(const ParameterSpec& s);

// Max position error per segment (|residual| * sigma over qpos rows) of an evaluated set, and
// their median.
ReplayError ReplayOf(const Evaluator& ev, const Layout& layout,
                     const std::vector<Episode>& episodes);

// ReplayOf the given segments, simulated with internal parameters z from their replay start
// states (x_start).
ReplayError ReplayFromStarts(const mjModel* base, const ParameterBinding& binding,
                             const std::vector<Episode>& episodes, const Layout& layout,
                             const std::vector<int>& segments, const Eigen::VectorXd& z,
                             int threads, ControlHold hold,
                             const EpisodeConditions* conditions = nullptr);

// The same for a model that does not move: each window's logged positions against its start
// state's (x_start), on the given segments.
ReplayError HoldStillOf(const Layout& layout, const std::vector<int>& segments,
                        const std::vector<Episode>& episodes);

// The layout of open-loop replay windows (ComputeReplayError): segments of `window_seconds`,
// qpos rows only at unit sigma (residuals are errors in the joints' units), start states over
// `state_window`. Throws InputError for a window <= 0.
LayoutOptions ReplayLayout(double window_seconds, double state_window);

// Every segment of the layout, in order.
std::vector<int> AllSegments(const Layout& layout);

// Eigen-analysis of a parameter information matrix scaled to unit diagonal: directions whose
// eigenvalue (relative to the largest) is below `weak` are what the data cannot tell apart.
Identifiability AnalyseInformation(const Eigen::MatrixXd& information,
                                   const std::vector<std::string>& names, double weak);

}  // namespace nextbatch::calib

#endif  // NEXTBATCH_CALIBRATION_SEGMENTS_H_
