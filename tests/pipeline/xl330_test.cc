// The XL330 bench's plan study (examples/xl330/plan.json) against its own calibration: a
// scenario with firmware kp = K gets the servo stiffness the fit used for a logged episode with
// kp = K (calibration.episode_scale), and a trajectory level replays its logged goal profile
// exactly as the fit's open-loop replay of that episode does.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "calibration/replay.h"
#include "calibration/segments.h"
#include "engine/dataset.h"
#include "engine/error.h"
#include "engine/model.h"
#include "engine/study.h"
#include "engine/workspace.h"
#include "scenarios/candidates.h"
#include "scenarios/scenario_binding.h"
#include "scenarios/simulate_study.h"
#include "scenarios/space_json.h"
#include "scenarios/task.h"
#include "tests/fixtures/shared_data.h"

namespace nextbatch {
namespace {

const std::string kStudy = NEXTBATCH_SOURCE_DIR "/examples/xl330/plan.json";

// The study reads its logs from ../shared/realdata; without them the cases have nothing to check.
bool HaveLogs() {
  return testing::SharedPresent(NEXTBATCH_SHARED_DIR "/realdata/rhoban_bam_xl330");
}

// The published m1 fit of these logs (references.json) in the study's parameter order, with a
// command delay of `delay` s.
Eigen::VectorXd Values(const Study& study, double delay) {
  const std::map<std::string, double> v = {
      {"servo_gain", 0.0014446923}, {"torque_limit", 0.5020865},
      {"damping", 0.0324245},       {"frictionloss", 0.006966},
      {"load_friction", 0.05},      {"armature", 0.0016432},
      {"q_offset", 0.0179525},      {"delay", delay}};
  Eigen::VectorXd x(static_cast<int>(study.parameters.size()));
  for (std::size_t j = 0; j < study.parameters.size(); ++j) x[j] = v.at(study.parameters[j].name);
  return x;
}

Posterior PointPosterior(const ParameterBinding& binding, const Eigen::VectorXd& x) {
  std::vector<std::string> names;
  for (const auto& sp : binding.specs()) names.push_back(sp.name);
  return Posterior(names, x, Eigen::MatrixXd::Zero(x.size(), x.size()), binding.Lower(),
                   binding.Upper());
}

// One scenario, as a source for SimulateCandidates.
class OneScenario : public ScenarioSource {
 public:
  OneScenario(const ScenarioBinding& b, Scenario s) : binding_(b), s_(std::move(s)) {}
  int Draw(std::int64_t, int count) override { return std::min(count, 1); }
  void Apply(int, Workspace& ws, State* initial) const override { binding_.Apply(s_, ws, initial); }
  nlohmann::json Values(int) const override { return binding_.space().ToJson(s_); }

 private:
  const ScenarioBinding& binding_;
  Scenario s_;
};

TEST_CASE("xl330 plan: kp reaches the servo through the calibration's per-episode gain") {
  if (!HaveLogs()) return;
  const Study study = Study::Load(kStudy);
  ModelPtr base = LoadModelFile(study.model);
  const ParameterBinding binding(base.get(), study.parameters);
  ScenariosSection sec = ReadScenarios(study);
  const ScenarioBinding sb(base.get(), sec.space);
  const Dataset data = LoadDataset(study, base.get());
  const Task task(base.get(), ReadStudyTaskSpec(study, sec.space, base.get()));
  const Eigen::VectorXd x = Values(study, 0.0);
  const int gain = binding.Find("servo_gain");
  REQUIRE(gain >= 0);
  const int act = mj_name2id(base.get(), mjOBJ_ACTUATOR, "servo");
  // The fit's stiffness for each logged episode: the layout's per-episode factor times the gain.
  calib::LayoutOptions lo;
  lo.segment_seconds = 1.0;
  lo.scale_keys = calib::ScaleKeys(binding, {{"servo_gain", "kp"}});
  const calib::Layout layout(base.get(), data.episodes, lo);
  for (double K : {100.0, 200.0, 400.0, 800.0}) {
    double fitted = -1;
    for (std::size_t e = 0; e < data.episodes.size(); ++e) {
      if (data.episodes[e].scenario.at("kp").get<double>() == K) {
        fitted = x[gain] * layout.maps()[e].scale[gain];
      }
    }
    REQUIRE(fitted > 0);
    // A scenario with this kp, simulated with a posterior of one point: the model each rollout
    // runs carries the stiffness the fit used (MuJoCo's position servo: gainprm[0] = kp and
    // biasprm[1] = -kp).
    SimulateOptions o;
    o.candidates = 1;
    o.posterior_samples = 2;
    o.num_threads = 1;
    o.information = false;
    o.episode_scale = {{"servo_gain", "kp"}};
    const Posterior point = PointPosterior(binding, x);
    OneScenario source(
        sb,
        sec.space.FromJson(
            {{"mass", 0.49}, {"length", 0.1}, {"kp", K}, {"trajectory", "up_and_down"}}, "test"));
    std::vector<double> seen;
    const ControllerFactory grab = [&](const mjModel* m, std::int64_t, int) {
      seen.push_back(m->actuator_gainprm[mjNGAIN * act]);
      seen.push_back(-m->actuator_biasprm[mjNBIAS * act + 1]);
      return task.MakeController(m, source.Values(0));
    };
    SimulateCandidates(base.get(), task, binding, point, source, o, nullptr, nullptr, grab);
    REQUIRE(seen.size() == 4);
    for (double s : seen) CHECK(s == doctest::Approx(fitted).epsilon(1e-15));
    CHECK(fitted == doctest::Approx(x[gain] * K).epsilon(1e-15));
  }
  // A scenario without the factor the calibration scales by is refused before any rollout.
  SimulateOptions o;
  o.candidates = 1;
  o.posterior_samples = 1;
  o.episode_scale = {{"servo_gain", "firmware_kp"}};
  OneScenario source(
      sb, sec.space.FromJson(
              {{"mass", 0.49}, {"length", 0.1}, {"kp", 100}, {"trajectory", "sin_sin"}}, "test"));
  const Posterior point = PointPosterior(binding, x);
  CHECK_THROWS_WITH_AS(SimulateCandidates(base.get(), task, binding, point, source, o, nullptr),
                       doctest::Contains("a scenario factor 'firmware_kp' with a number"),
                       InputError);
  o.episode_scale = {{"stiffness", "kp"}};
  CHECK_THROWS_WITH_AS(SimulateCandidates(base.get(), task, binding, point, source, o, nullptr),
                       doctest::Contains("simulate: episode_scale"), InputError);
}

TEST_CASE("xl330 plan: a trajectory level replays its log as the fit's open-loop replay does") {
  if (!HaveLogs()) return;
  const Study study = Study::Load(kStudy);
  ModelPtr base = LoadModelFile(study.model);
  const ParameterBinding binding(base.get(), study.parameters);
  ScenariosSection sec = ReadScenarios(study);
  const ScenarioBinding sb(base.get(), sec.space);
  const Dataset data = LoadDataset(study, base.get());
  const Task task(base.get(), ReadStudyTaskSpec(study, sec.space, base.get()));
  const EpisodeConditions conditions = sb.RecordedConditions(data.episodes);
  const int f = sec.space.Find("trajectory");
  REQUIRE(f >= 0);
  for (const Level& level : sec.space.factor(f).levels) {
    const std::string id = level.payload.at("episode").get<std::string>();
    const int e = data.Find(id);
    REQUIRE(e >= 0);
    const Episode& ep = data.episodes[e];
    // The log's own factors: its kp, trajectory, mass and length headers.
    const nlohmann::json& rec = ep.scenario;
    REQUIRE(rec.at("trajectory") == level.name);
    CHECK(rec.at("mass").get<double>() == 0.49);
    CHECK(rec.at("length").get<double>() == 0.1);
    for (double delay : {0.0, 0.0123}) {
      CAPTURE(level.name);
      CAPTURE(delay);
      const Eigen::VectorXd x = Values(study, delay);
      // The fit's replay: one window over the whole log from its estimated start state.
      ReplaySetup rs;
      rs.window_seconds = ep.duration() + 1.0;
      rs.episode_scale = {{"servo_gain", "kp"}};
      rs.threads = 1;
      rs.conditions = &conditions;
      const ReplayTraces traces = ComputeReplayTraces(base.get(), binding, x, {ep}, rs);
      REQUIRE(traces.windows.size() == 1);
      const TraceWindow& w = traces.windows[0];
      REQUIRE(w.ok);
      const calib::Layout layout(base.get(), {ep},
                                 calib::ReplayLayout(rs.window_seconds, rs.state_window));
      const calib::Segment& seg = layout.segments()[0];
      REQUIRE(seg.start_step == 0);
      // The plan's simulation of the same scenario: its recorded factors bound, the gain scaled
      // by its kp, the level's profile played from the same start state.
      Workspace ws(base.get(), true);
      Eigen::VectorXd scaled = x;
      scaled[binding.Find("servo_gain")] *= rec.at("kp").get<double>();
      ws.Apply(binding, scaled);
      State s = task.InitialState(ws.model());
      sb.Apply(sec.space.FromJson(rec, "test"), ws, &s);
      s.time = 0.0;
      s.qpos = seg.x_start.head(ws.model()->nq);
      s.qvel = seg.x_start.tail(ws.model()->nv);
      ws.SetState(s);
      std::unique_ptr<Controller> c = task.MakeController(ws.model(), rec);
      RolloutOptions ro;
      ro.num_steps = seg.num_steps;
      const RolloutResult r = Rollout(ws, c.get(), ro);
      REQUIRE(r.ok());
      const double dt = ws.model()->opt.timestep;
      double worst = 0;
      for (std::size_t row = 0; row < w.sample.size(); ++row) {
        const double u = (ep.time[w.sample[row]] - ep.time[0]) / dt;
        const int k = std::clamp(static_cast<int>(std::floor(u)), 0, seg.num_steps - 1);
        const double a = u - k;
        const double q = (1 - a) * r.qpos(k, 0) + a * r.qpos(k + 1, 0);
        worst = std::max(worst, std::abs(q - w.simulated[static_cast<Eigen::Index>(row)]));
      }
      CHECK(w.sample.size() > 100);
      CHECK(worst < 1e-9);
    }
  }
}

}  // namespace
}  // namespace nextbatch
