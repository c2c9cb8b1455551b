// Multi-start (CalibrationOptions::starts): the fit from each start is the same fit as a
// single-start calibration from those values, and the one with the lowest final cost is kept.
#include <doctest/doctest.h>

#include <cmath>

#include "calibration/calibration.h"
#include "engine/error.h"
#include "engine/model.h"
#include "tests/calibration/synthetic.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/parameters.h"

namespace nextbatch {
namespace {

struct Case {
  ModelPtr model = LoadModelString(testing::PendulumXml());
  // Far from the truth (damping 0.08, mass 0.7), and only 2 iterations: the fit from the
  // initial values cannot get there, a fit from a start near the truth can.
  std::vector<ParameterSpec> specs = {testing::Spec("damping", {"joint:hinge.damping"}, 0.4, 0, 1),
                                      testing::Spec("mass", {"body:link.mass"}, 2.5, 0.1, 3)};
  Eigen::VectorXd truth = Eigen::Vector2d(0.08, 0.7);

  std::vector<Episode> Episodes() const {
    ParameterBinding b(model.get(), specs);
    testing::SyntheticLog log;
    log.duration = 1.0;
    log.ctrl_offset = {0.0};
    log.ctrl_amplitude = {2.0};
    std::vector<Episode> out;
    for (int i = 0; i < 2; ++i) {
      State s = State::Reference(model.get());
      s.qpos[0] = 0.4 * i - 0.3;
      out.push_back(testing::MakeEpisode(model.get(), b, truth, s, log, i));
    }
    return out;
  }
};

CalibrationOptions Options() {
  CalibrationOptions o;
  o.threads = 2;
  o.max_iterations = 2;
  o.held_out_fraction = 0.0;
  return o;
}

TEST_CASE("multi-start keeps the start with the lowest final cost, and equals its own fit") {
  Case c;
  const auto episodes = c.Episodes();
  ParameterBinding b(c.model.get(), c.specs);
  CalibrationOptions o = Options();
  const CalibrationResult single = Calibrate(c.model.get(), b, episodes, o);
  // Start 1 only moves the damping (mass keeps its initial 2.5); start 2 is near the truth.
  o.starts = {{{"damping", 0.3}}, {{"damping", 0.07}, {"mass", 0.75}}};
  const CalibrationResult multi = Calibrate(c.model.get(), b, episodes, o);
  REQUIRE(single.summary.usable());
  REQUIRE(multi.summary.usable());
  REQUIRE(multi.summary.start_costs.size() == 3);
  MESSAGE("costs " << multi.summary.start_costs[0] << " " << multi.summary.start_costs[1] << " "
                   << multi.summary.start_costs[2] << "; single " << single.value.transpose()
                   << "; multi " << multi.value.transpose());
  // The fit from the initial values is the single-start fit, bit for bit.
  CHECK(multi.summary.start_costs[0] == single.summary.final_cost);
  CHECK(multi.summary.start == 2);
  CHECK(multi.summary.start_costs[2] < multi.summary.start_costs[0]);
  CHECK(multi.summary.start_costs[2] < multi.summary.start_costs[1]);
  CHECK(multi.summary.final_cost == multi.summary.start_costs[2]);
  // ... and what it kept is the single-start fit from start 2's values.
  std::vector<ParameterSpec> from2 = c.specs;
  from2[0].initial = 0.07;
  from2[1].initial = 0.75;
  ParameterBinding b2(c.model.get(), from2);
  const CalibrationResult two = Calibrate(c.model.get(), b2, episodes, Options());
  CHECK((multi.value.array() == two.value.array()).all());
  // The kept fit found the hidden truth; the single start did not get there.
  for (int j = 0; j < 2; ++j) {
    CHECK(std::abs(multi.value[j] - c.truth[j]) < 3 * multi.std[j]);
  }
  CHECK(std::abs(single.value[1] - c.truth[1]) > 10 * multi.std[1]);
  CHECK(multi.initial[1] == 2.5);  // `initial` stays the study's initial values
}

TEST_CASE("a start naming an unknown parameter or leaving the bounds is refused") {
  Case c;
  const auto episodes = c.Episodes();
  ParameterBinding b(c.model.get(), c.specs);
  CalibrationOptions o = Options();
  o.starts = {{{"mass", 1.0}}, {{"inertia", 1.0}}};
  CHECK_THROWS_WITH_AS(Calibrate(c.model.get(), b, episodes, o),
                       doctest::Contains("calibration.starts[1].inertia: expected a parameter of "
                                         "the study"),
                       InputError);
  o.starts = {{{"mass", 5.0}}};
  CHECK_THROWS_WITH_AS(Calibrate(c.model.get(), b, episodes, o),
                       doctest::Contains("calibration.starts[0].mass: expected a value within "
                                         "the parameter's bounds, got 5"),
                       InputError);
  o.starts = {{{"mass", std::nan("")}}};
  CHECK_THROWS_WITH_AS(Calibrate(c.model.get(), b, episodes, o),
                       doctest::Contains("calibration.starts[0].mass: expected a finite number"),
                       InputError);
}

}  // namespace
}  // namespace nextbatch
