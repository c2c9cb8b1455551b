// Grouped inertial parameters (`body:<name>.inertial`) through calibration: the MJCF writer,
// calibration.json, and a hidden two-link truth recovered from noisy logs.
#include "engine/inertial.h"

#include <doctest/doctest.h>

#include <Eigen/Eigenvalues>
#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "calibration/calibrated_model.h"
#include "calibration/calibration.h"
#include "calibration/calibration_json.h"
#include "engine/error.h"
#include "engine/model.h"
#include "engine/posterior.h"
#include "engine/workspace.h"
#include "tests/calibration/synthetic.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

using testing::MakeEpisode;
using testing::SyntheticLog;

PhysicalInertial BodyOf(const mjModel* m, int b) {
  return InertialFromMujoco(m->body_mass[b], m->body_ipos + 3 * b, m->body_inertia + 3 * b,
                            m->body_iquat + 4 * b);
}

// max |a - b| relative to each quantity's scale (mass; 1 m for the com; the largest moment).
double Mismatch(const PhysicalInertial& a, const PhysicalInertial& b) {
  const double inertia_scale = a.inertia.head<3>().cwiseAbs().maxCoeff();
  return std::max({std::abs(a.mass - b.mass) / a.mass, (a.com - b.com).cwiseAbs().maxCoeff(),
                   (a.inertia - b.inertia).cwiseAbs().maxCoeff() / inertia_scale});
}

TEST_CASE("10,000 random coordinate vectors: MuJoCo loads every written inertial as it is") {
  testing::TempDir dir("inertial_mjcf");
  std::mt19937_64 rng(21);
  std::uniform_real_distribution<double> u(-4, 4);
  const int batches = 20, per_batch = 500;
  double worst = 0;
  for (int batch = 0; batch < batches; ++batch) {
    std::vector<PhysicalInertial> bodies;
    std::string xml = "<mujoco>\n  <worldbody>\n";
    for (int i = 0; i < per_batch; ++i) {
      InertialVector theta;
      for (int k = 0; k < kInertialSize; ++k) theta[k] = u(rng);
      bodies.push_back(InertialFromCoordinates(theta));
      xml += "    <body name=\"b" + std::to_string(i) + "\">\n      <joint type=\"hinge\"/>\n" +
             "      " + InertialElement(bodies.back()) + "\n    </body>\n";
    }
    xml += "  </worldbody>\n</mujoco>\n";
    const std::string path = dir.Write("batch.xml", xml);
    ModelPtr m = LoadModelFile(path);  // throws on MuJoCo's refusal (e.g. A + B >= C)
    REQUIRE(m->nbody == per_batch + 1);
    for (int i = 0; i < per_batch; ++i) {
      const PhysicalInertial back = BodyOf(m.get(), i + 1);
      worst = std::max(worst, Mismatch(bodies[i], back));
      const double* moments = m->body_inertia + 3 * (i + 1);
      CHECK(m->body_mass[i + 1] > 0);
      CHECK(moments[0] > 0);
      CHECK(moments[0] + moments[1] >= moments[2]);
      CHECK(moments[1] + moments[2] >= moments[0]);
      CHECK(moments[0] + moments[2] >= moments[1]);
    }
  }
  // MuJoCo 2.2.2 diagonalises fullinertia itself (an iterative 3x3 eigensolver): measured worst
  // 1.9e-6 of the largest moment on these bodies, whose principal moments span up to 1e7; the
  // realistic links below agree to 1e-8. Our own principal form is exact to 1e-12
  // (tests/engine/inertial_test.cc).
  MESSAGE("worst relative mismatch after MuJoCo's compiler " << worst);
  CHECK(worst < 1e-5);
}

TEST_CASE("the calibrated MJCF carries a grouped inertial as fullinertia, given or replaced") {
  testing::TempDir dir("inertial_save");
  const std::string model = dir.Write("two_link.xml", testing::TwoLinkXml());
  ModelPtr base = LoadModelFile(model);
  PhysicalInertial p;
  p.mass = 0.55;
  p.com = Eigen::Vector3d(0.13, 0.002, 0.01);
  p.inertia << 4e-4, 3.2e-3, 3.0e-3, 1e-5, -3e-5, 2e-5;
  auto group = std::make_shared<InertialGroup>();
  group->name = "lower";
  group->body = "lower";
  group->initial = p;
  Eigen::Matrix<double, 2, 3> com_bounds;
  com_bounds.row(0).setConstant(-1);
  com_bounds.row(1).setConstant(1);
  std::vector<ParameterSpec> specs =
      InertialParameterSpecs(group, Eigen::Vector2d(0.01, 10), com_bounds, false, "test");
  ParameterBinding binding(base.get(), specs);
  const Eigen::VectorXd values = binding.Initial();
  // the source states no inertial for "lower" (the geom's): the writer gives it one
  const SavedModelReport first = SaveCalibratedModel(model, binding, values, dir.File("a.xml"));
  REQUIRE_MESSAGE(first.saved, first.error);
  CHECK(first.not_kept.empty());
  std::ifstream in(dir.File("a.xml"));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("fullinertia=") != std::string::npos);
  ModelPtr a = LoadModelFile(dir.File("a.xml"));
  const int b = mj_name2id(a.get(), mjOBJ_BODY, "lower");
  CHECK(Mismatch(p, BodyOf(a.get(), b)) < 1e-8);
  // the saved model states one now: saving it again replaces it (one inertial element)
  PhysicalInertial q = p;
  q.mass = 0.7;
  q.com[0] = 0.15;
  const Eigen::VectorXd other = InertialToCoordinates(q, "test");
  const SavedModelReport second =
      SaveCalibratedModel(dir.File("a.xml"), binding, other, dir.File("b.xml"));
  REQUIRE_MESSAGE(second.saved, second.error);
  ModelPtr c = LoadModelFile(dir.File("b.xml"));
  CHECK(Mismatch(q, BodyOf(c.get(), b)) < 1e-8);
  std::ifstream in_b(dir.File("b.xml"));
  const std::string text_b((std::istreambuf_iterator<char>(in_b)),
                           std::istreambuf_iterator<char>());
  std::size_t count = 0;
  for (std::size_t at = text_b.find("<inertial"); at != std::string::npos;
       at = text_b.find("<inertial", at + 1)) {
    ++count;
  }
  CHECK(count == 1);
  // the other link keeps the inertial its geom gives it
  const int upper = mj_name2id(c.get(), mjOBJ_BODY, "upper");
  CHECK(c->body_mass[upper] == doctest::Approx(base->body_mass[upper]).epsilon(1e-12));
}

// The hidden truth: the lower link of the planar two-link arm (hinges about y, links along x).
PhysicalInertial Truth() {
  PhysicalInertial p;
  p.mass = 0.6;
  p.com = Eigen::Vector3d(0.13, 0.002, 0.01);
  p.inertia << 4e-4, 3.2e-3, 3.0e-3, 1e-5, -3e-5, 2e-5;
  return p;
}

TEST_CASE("hidden truth: a two-link arm's lower inertial from a wrong start, noisy logs") {
  // In a swing about parallel y axes the logs determine the lower link's mass, its com along x
  // and z (the plane of motion) and its moment about y; the com along y and the other five
  // inertia components act only on the hinges' constraint forces. Those carry priors (as a user
  // states CAD values): without them the coordinates' covariance is singular. Those priors must
  // agree with the data's iyy (ixx + izz > iyy): priors that contradict it drive the fit to a
  // degenerate body (a second moment -> 0), where the log coordinates stop moving.
  testing::TempDir dir("inertial_truth");
  const std::string model = dir.Write("two_link.xml", testing::TwoLinkXml());
  ModelPtr m = LoadModelFile(model);
  const std::string study = dir.Write("study.json", R"({
    "schema": "nextbatch.study/1", "model": "two_link.xml",
    "parameters": [
      {"name": "lower", "targets": ["body:lower.inertial"],
       "initial": {"mass": 0.45, "com": [0.10, 0, 0], "inertia": [4e-4, 2.8e-3, 3.0e-3, 0, 0, 0]},
       "bounds": {"mass": [0.05, 5], "com": [[-0.5, 0.5], [-0.1, 0.1], [-0.1, 0.1]]},
       "prior": {"std": {"com": [0, 0.005, 0], "inertia": [5e-5, 0, 1e-4, 1e-5, 1e-5, 1e-5]}}}
    ]})");
  const Study s = Study::Load(study);
  REQUIRE(s.parameters.size() == 10);
  ParameterBinding binding(m.get(), s.parameters);
  const PhysicalInertial truth = Truth();
  const Eigen::VectorXd truth_theta = InertialToCoordinates(truth, "truth");
  SyntheticLog log;
  log.duration = 1.5;
  log.qvel_noise = 0.02;
  log.ctrl_offset = {0.0, 0.0};
  log.ctrl_amplitude = {4.0, 1.5};
  std::vector<Episode> episodes;
  for (int i = 0; i < 3; ++i) {
    State start = State::Reference(m.get());
    start.qpos[0] = -1.2 + 0.4 * i;
    start.qpos[1] = 0.3 * i;
    episodes.push_back(MakeEpisode(m.get(), binding, truth_theta, start, log, i));
  }
  CalibrationOptions o;
  o.threads = 2;
  o.segment_seconds = 0.4;
  o.max_iterations = 50;
  const CalibrationResult r = Calibrate(m.get(), binding, episodes, o);
  REQUIRE(r.summary.usable());
  MESSAGE(r.summary.iterations << " iterations, reduced chi2 " << r.summary.reduced_chi2 << ", "
                               << r.summary.total_seconds << " s");
  MESSAGE(std::string(ToString(r.summary.status)) << ": " << r.summary.message);
  REQUIRE(r.inertials.size() == 1);
  const InertialEstimate& e = r.inertials[0];
  const InertialVector t = truth.Stacked();
  for (int k = 0; k < kInertialSize; ++k) {
    MESSAGE(std::string(InertialQuantityNames()[k])
            << ": " << e.value[k] << " +- " << e.honest_std[k] << " (formal " << e.std[k]
            << "; truth " << t[k] << ", initial " << e.initial[k] << ")");
  }
  // identifiable: mass (0), com x (1), com z (3), iyy (5)
  for (int k : {0, 1, 3, 5}) {
    CHECK(std::isfinite(e.std[k]));
    CHECK(std::abs(e.value[k] - t[k]) < 4 * e.std[k]);
    CHECK(std::abs(e.value[k] - t[k]) < 0.05 * std::abs(t[k]) + 1e-3 * (k == 3));
    CHECK(std::abs(e.value[k] - e.initial[k]) > 4 * e.std[k]);  // the start was wrong
  }
  // the moment about the elbow's axis, what the swing measures most directly
  const double hinge =
      e.value[5] + e.value[0] * (e.value[1] * e.value[1] + e.value[3] * e.value[3]);
  const double hinge_truth = t[5] + t[0] * (t[1] * t[1] + t[3] * t[3]);
  CHECK(hinge == doctest::Approx(hinge_truth).epsilon(0.01));
  // the com along the axis: only its prior holds it, and the delta method says so (com_y is a
  // coordinate itself, so its std is the coordinate's, about the prior's 5 mm)
  CHECK(std::abs(e.value[2]) < 0.003);
  CHECK(e.std[2] == doctest::Approx(0.005).epsilon(0.05));
  CHECK(std::abs(e.std[2] - r.std[e.first + 8]) < 1e-15);
  // every reported body is physical
  CHECK(InertialProblem(PhysicalInertial::FromStacked(e.value)).empty());

  // the calibrated MJCF loads and holds the estimate
  const SavedModelReport saved =
      SaveCalibratedModel(model, binding, r.value, dir.File("calibrated.xml"));
  REQUIRE_MESSAGE(saved.saved, saved.error);
  ModelPtr back = LoadModelFile(dir.File("calibrated.xml"));
  const int lower = mj_name2id(back.get(), mjOBJ_BODY, "lower");
  CHECK(Mismatch(PhysicalInertial::FromStacked(e.value), BodyOf(back.get(), lower)) < 1e-8);

  // calibration.json: the physical section round-trips, and a posterior over the coordinates
  // (what simulate and plan sample) applies a physical body for every draw
  const nlohmann::json doc = CalibrationDocument(r, binding, "truth", o, saved, "calibrated.xml");
  std::ofstream(dir.File("calibration.json")) << doc.dump(2);
  const CalibrationFile file = ReadCalibrationFile(dir.File("calibration.json"));
  REQUIRE(file.inertials.size() == 1);
  CHECK(file.inertials[0].body == "lower");
  for (int k = 0; k < kInertialSize; ++k) {
    CHECK(file.inertials[0].value[k] == e.value[k]);
    CHECK(file.inertials[0].std[k] == e.std[k]);
    CHECK(file.inertials[0].honest_std[k] == e.honest_std[k]);
  }
  const Posterior posterior = PosteriorFromCalibration(file, s.parameters);
  Workspace ws(m.get(), true);
  Eigen::VectorXd draw;
  Eigen::VectorXd spread = Eigen::VectorXd::Zero(kInertialSize);
  for (int i = 0; i < 200; ++i) {
    posterior.Sample(5, i, &draw);
    ws.Apply(binding, draw);
    const PhysicalInertial p = BodyOf(ws.model(), lower);
    CHECK(InertialProblem(p).empty());
    spread += (p.Stacked() - e.value).cwiseAbs2();
  }
  // the draws spread as the delta method says (mass: within 25 % of the honest std)
  const double mass_sd = std::sqrt(spread[0] / 200);
  CHECK(mass_sd == doctest::Approx(e.honest_std[0]).epsilon(0.25));
  // a file whose physical values disagree with its coordinates is refused
  nlohmann::json edited = doc;
  edited["inertials"][0]["value"]["mass"] = e.value[0] * 1.1;
  std::ofstream(dir.File("edited.json")) << edited.dump(2);
  CHECK_THROWS_WITH_AS(ReadCalibrationFile(dir.File("edited.json")),
                       doctest::Contains("inertials[0].value.mass"), InputError);
}

}  // namespace
}  // namespace nextbatch
