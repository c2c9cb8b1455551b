#include "scenarios/logged_outcome.h"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/model.h"
#include "tests/fixtures/models.h"

namespace nextbatch {
namespace {

// The swing-up rules of examples/dfki_pendulum/swingup.json on the test pendulum, horizon 2 s.
Outcome SwingUpOutcome(const mjModel* m) {
  const nlohmann::json j = nlohmann::json::parse(R"({
    "success": {"quantity": {"joint": "hinge", "wrap": true, "abs": true},
                "op": ">", "value": 2.94, "when": "ever"},
    "safety": {"quantity": {"joint": "hinge", "field": "vel", "abs": true},
               "op": "<", "value": 20, "when": "always"},
    "metrics": {
      "time_to_upright": {"time_to": {"quantity": {"joint": "hinge", "wrap": true, "abs": true},
                                      "op": ">", "value": 2.94}},
      "peak_torque": {"quantity": {"actuator": "motor", "field": "force", "abs": true},
                      "reduce": "max"}}})");
  return Outcome::Compile(JsonReader(j, "study.json", "task.outcome"), m, 2.0);
}

// A logged episode sampled every 10 ms over [0, seconds] (as ingest delivers it: model names),
// position q(t), speed w(t), command 0.5 N m throughout; `with_qvel` false leaves speed unlogged.
Episode Logged(const std::function<double(double)>& q, const std::function<double(double)>& w,
               double seconds, bool with_qvel = true) {
  Episode e;
  e.id = "log";
  const int n = static_cast<int>(std::lround(seconds / 0.01)) + 1;
  e.qpos.names = {"hinge"};
  e.qpos.values.resize(n, 1);
  e.ctrl.names = {"motor"};
  e.ctrl.values.resize(n, 1);
  if (with_qvel) {
    e.qvel.names = {"hinge"};
    e.qvel.values.resize(n, 1);
  }
  for (int i = 0; i < n; ++i) {
    const double t = 0.01 * i;
    e.time.push_back(t);
    e.qpos.values(i, 0) = q(t);
    e.ctrl.values(i, 0) = 0.5;
    if (with_qvel) e.qvel.values(i, 0) = w(t);
  }
  return e;
}

TEST_CASE("logged outcome: a swing-up that reaches upright within the horizon succeeds") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  const Outcome o = SwingUpOutcome(m.get());
  // q = pi t / 1.5 passes 2.94 between the samples at 1.40 s (2.932) and 1.41 s (2.953)
  const double rate = M_PI / 1.5;
  const Episode e = Logged([&](double t) { return std::min(rate * t, M_PI); },
                           [&](double t) { return t < 1.5 ? rate : 0.0; }, 3.0);
  const LoggedOutcome r = JudgeLoggedEpisode(m.get(), o, e);
  CHECK(r.success_judged);
  CHECK(r.success);
  CHECK(r.safety_judged);
  CHECK(r.safe);
  CHECK(r.reason.empty());
  CHECK(r.seconds == doctest::Approx(2.0));  // judged over the horizon, not the whole log
  CHECK(r.metrics.at("time_to_upright") == doctest::Approx(1.41).epsilon(1e-9));
  CHECK(r.metrics.at("peak_torque") == doctest::Approx(0.5));  // the motor's force = its command
}

TEST_CASE("logged outcome: upright reached only after the horizon is a failure") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  const Outcome o = SwingUpOutcome(m.get());
  // q = t reaches 2.94 at 2.94 s, after the 2 s horizon; at 2 s it is 2.0 rad from hanging
  const Episode e = Logged([](double t) { return t; }, [](double) { return 1.0; }, 3.0);
  const LoggedOutcome r = JudgeLoggedEpisode(m.get(), o, e);
  CHECK(r.success_judged);
  CHECK_FALSE(r.success);
  CHECK(r.safe);
  CHECK(r.metrics.at("time_to_upright") == 2.0);  // never within it: censored at the horizon
}

TEST_CASE("logged outcome: wrapping judges the angle from hanging, either way round") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  const Outcome o = SwingUpOutcome(m.get());
  // backwards past upright: -pi - 0.2 wraps to pi - 0.2, |.| = 2.94159 > 2.94
  Episode e =
      Logged([](double t) { return -t * (M_PI + 0.2) / 2.0; }, [](double) { return 0.0; }, 2.0);
  CHECK(JudgeLoggedEpisode(m.get(), o, e).success);
  // one that stays within 2.9 rad of hanging fails
  e = Logged([](double t) { return 2.9 * std::sin(t); }, [](double) { return 0.0; }, 2.0);
  CHECK_FALSE(JudgeLoggedEpisode(m.get(), o, e).success);
}

TEST_CASE("logged outcome: a speed above the safety limit is unsafe") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  const Outcome o = SwingUpOutcome(m.get());
  const Episode e =
      Logged([](double) { return 0.0; }, [](double t) { return t > 1.0 && t < 1.02 ? 25 : 0; }, 2);
  const LoggedOutcome r = JudgeLoggedEpisode(m.get(), o, e);
  CHECK(r.safety_judged);
  CHECK_FALSE(r.safe);
  CHECK_FALSE(r.success);
}

TEST_CASE("logged outcome: a rule whose channel is not logged is not judged, and says why") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  const Outcome o = SwingUpOutcome(m.get());
  const Episode e = Logged([](double t) { return 1.6 * t; }, nullptr, 2.5, false);
  const LoggedOutcome r = JudgeLoggedEpisode(m.get(), o, e);
  CHECK(r.success_judged);
  CHECK(r.success);
  CHECK_FALSE(r.safety_judged);
  // actuator force needs every joint's speed (bias forces), time_to_upright only the position
  CHECK(r.metrics.count("time_to_upright") == 1);
  CHECK(r.metrics.count("peak_torque") == 0);
  CHECK(r.reason ==
        "safety reads the speed (qvel) of joint 'hinge', which the log lacks; metric peak_torque "
        "reads every joint's qpos and qvel (an actuator force), which the log lacks");
}

TEST_CASE("logged outcome: a log shorter than the horizon is not judged, a label stands in") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  const Outcome o = SwingUpOutcome(m.get());
  Episode e = Logged([](double t) { return 3.0 * t; }, [](double) { return 3.0; }, 1.5);
  const LoggedOutcome r = JudgeLoggedEpisode(m.get(), o, e);
  CHECK_FALSE(r.success_judged);
  CHECK_FALSE(r.safety_judged);
  CHECK(r.reason == "the log covers 1.5 s of the task's 2 s horizon");

  RealOutcome real = RealEpisodeOutcome(m.get(), o, e);
  CHECK(real.success == -1);
  CHECK(real.source.empty());
  CHECK(real.note == r.reason);
  e.outcome["success"] = false;
  real = RealEpisodeOutcome(m.get(), o, e);
  CHECK(real.success == 0);
  CHECK(real.source == "label");
}

TEST_CASE("logged outcome: the rules on the log win over a label they contradict") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  const Outcome o = SwingUpOutcome(m.get());
  Episode e = Logged([](double t) { return 2.0 * t; }, [](double) { return 2.0; }, 2.0);
  e.outcome["success"] = false;
  const RealOutcome real = RealEpisodeOutcome(m.get(), o, e);
  CHECK(real.success == 1);
  CHECK(real.source == "log");
  CHECK(real.note == "its recorded label says failure");
}

TEST_CASE("logged outcome: a channel naming no joint of the model is bad input") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  const Outcome o = SwingUpOutcome(m.get());
  Episode e = Logged([](double t) { return t; }, [](double) { return 1.0; }, 2.0);
  e.qpos.names = {"elbow"};
  CHECK_THROWS_WITH_AS(JudgeLoggedEpisode(m.get(), o, e),
                       "episode log: qpos: expected a hinge or slide joint of the model, got "
                       "'elbow'",
                       InputError);
}

}  // namespace
}  // namespace nextbatch
