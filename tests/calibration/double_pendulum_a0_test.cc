// The DFKI double pendulum A.0 example (examples/dfki_double_pendulum_a0): its MJCF, with the
// published parameter sets written in through the study's own parameters, has the upstream
// equations of motion (SOURCE.md of the data): the mass matrix, gravity and the velocity terms
// that follow from that mass matrix, at several states, to 1e-9, and the friction
// b qd + cf atan(100 qd) (the study's smooth dry friction).
#include <doctest/doctest.h>

#include <Eigen/Dense>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "calibration/replay.h"
#include "engine/model.h"
#include "engine/parameter.h"
#include "engine/study.h"
#include "engine/workspace.h"
#include "tests/fixtures/shared_data.h"

namespace nextbatch {
namespace {

const char* kData = NEXTBATCH_SHARED_DIR "/realdata/dfki_double_pendulum_A0";
const char* kStudy = NEXTBATCH_SOURCE_DIR "/examples/dfki_double_pendulum_a0/study.json";

// The published yml files are flat "key: number" lines.
std::map<std::string, double> ReadYml(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::map<std::string, double> v;
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    v[line.substr(0, colon)] = std::stod(line.substr(colon + 1));
  }
  return v;
}

// Upstream's M qdd + C qd - G + F = tau, its terms at (q, qd), written out from SOURCE.md. The
// velocity terms come from M by Christoffel symbols (only M11 and M12 depend on q2):
// h = m2 l1 r2 sin q2, (C qd)_1 = -h (2 qd1 qd2 + qd2^2), (C qd)_2 = h qd1^2.
struct Upstream {
  std::map<std::string, double> p;
  Eigen::Matrix2d M(double q2) const {
    const double c = std::cos(q2), gr = p.at("gr"), ir = p.at("Ir");
    const double i1 = p.at("I1"), i2 = p.at("I2"), m2 = p.at("m2"), l1 = p.at("l1"),
                 r2 = p.at("r2");
    Eigen::Matrix2d m;
    m(0, 0) = i1 + i2 + m2 * l1 * l1 + 2 * m2 * l1 * r2 * c + gr * gr * ir + ir;
    m(0, 1) = m(1, 0) = i2 + m2 * l1 * r2 * c - gr * ir;
    m(1, 1) = i2 + gr * gr * ir;
    return m;
  }
  // C qd - G: MuJoCo's qfrc_bias (gravity plus velocity terms, no friction)
  Eigen::Vector2d Bias(const Eigen::Vector2d& q, const Eigen::Vector2d& qd) const {
    const double g = p.at("g"), m1 = p.at("m1"), r1 = p.at("r1"), m2 = p.at("m2"), l1 = p.at("l1"),
                 r2 = p.at("r2");
    const double g1 =
        -m1 * g * r1 * std::sin(q[0]) - m2 * g * (l1 * std::sin(q[0]) + r2 * std::sin(q[0] + q[1]));
    const double g2 = -m2 * g * r2 * std::sin(q[0] + q[1]);
    const double h = m2 * l1 * r2 * std::sin(q[1]);
    return {-h * (2 * qd[0] * qd[1] + qd[1] * qd[1]) - g1, h * qd[0] * qd[0] - g2};
  }
};

// The study's parameters in the published set's terms (the mapping docs/realdata.md states).
std::map<std::string, double> ToStudyTerms(const std::map<std::string, double>& p) {
  const double gr = p.at("gr"), l1 = p.at("l1");
  const double m1 = p.at("m1") * p.at("r1") / l1;
  return {{"m1", m1},
          {"I1_com", p.at("I1") - m1 * l1 * l1},
          {"Ir", p.at("Ir")},
          {"m2", p.at("m2")},
          {"r2", p.at("r2")},
          {"I2_com", p.at("I2") - p.at("m2") * p.at("r2") * p.at("r2") - gr * p.at("Ir")},
          {"b1", p.at("b1")},
          {"b2", p.at("b2")},
          {"Fc1_level", p.at("cf1") * M_PI / 2},
          {"Fc2_level", p.at("cf2") * M_PI / 2},
          {"friction_velocity", 0.01}};  // cf atan(100 qd) = level (2 / pi) atan(qd / 0.01)
}

bool HaveData() { return testing::SharedPresent(kData); }

TEST_CASE("double pendulum A.0: the MJCF with each published set has upstream's dynamics") {
  if (!HaveData()) return;
  const Study study = Study::Load(kStudy);
  ModelPtr base = LoadModelFile(study.model);
  const ParameterBinding binding(base.get(), study.parameters);
  const std::vector<ReferenceSet> refs = ReadReferenceSets(
      std::filesystem::path(kStudy).parent_path() / "references.json", study.parameters);
  REQUIRE(refs.size() == 2);
  for (const ReferenceSet& ref : refs) {
    CAPTURE(ref.name);
    Upstream up{ReadYml(std::string(kData) + "/published/" + ref.name + ".yml")};
    CHECK(up.p.at("l1") == 0.3);  // the MJCF's geometry
    CHECK(up.p.at("l2") == 0.2);
    CHECK(up.p.at("g") == 9.81);
    // references.json holds the conversion of the yml file, to its 12 printed digits
    const std::map<std::string, double> terms = ToStudyTerms(up.p);
    for (int j = 0; j < binding.size(); ++j) {
      CAPTURE(binding.spec(j).name);
      const double want = terms.at(binding.spec(j).name);
      CHECK(std::abs(ref.values[j] - want) <= 1e-11 * std::max(1.0, std::abs(want)));
    }
    ModelPtr m = CopyModel(base.get());
    m->opt.gravity[2] = -up.p.at("g");
    DataPtr d = MakeData(m.get());
    Effects effects = Effects::Identity(m.get());
    binding.Apply(ref.values, m.get(), d.get(), &effects);
    // the written values come back through the binding (both inertia slots carry one value)
    CHECK((binding.Read(m.get(), effects) - ref.values).cwiseAbs().maxCoeff() < 1e-15);
    CHECK(m->dof_damping[0] == doctest::Approx(up.p.at("b1")).epsilon(1e-12));
    CHECK(m->dof_frictionloss[1] == doctest::Approx(up.p.at("cf2") * M_PI / 2).epsilon(1e-12));
    // The whole equation, friction included: at upstream's acceleration with no torque, the
    // study's inverse dynamics (MuJoCo's, with the smooth dry friction taken out) is zero.
    Workspace ws(m.get(), true);
    ws.Apply(binding, ref.values);
    const double states[][4] = {
        {0, 0, 0, 0},         {0.3, -1.1, 0.7, -2.0}, {2.5, 2.9, -3.1, 1.4},     {-1.2, 0.4, 5, 6},
        {3.14, -3.0, 0, 0.5}, {0.9, 1.57, -8, 9},     {0.5, -0.2, 0.004, -0.007}};
    for (const auto& s : states) {
      CAPTURE(s[0]);
      CAPTURE(s[1]);
      mj_resetData(m.get(), d.get());
      d->qpos[0] = s[0];
      d->qpos[1] = s[1];
      d->qvel[0] = s[2];
      d->qvel[1] = s[3];
      mj_forward(m.get(), d.get());
      mjtNum full[4];
      mj_fullM(m.get(), full, d->qM);
      const Eigen::Matrix2d want_m = up.M(s[1]);
      const Eigen::Vector2d want_b = up.Bias({s[0], s[1]}, {s[2], s[3]});
      for (int r = 0; r < 2; ++r) {
        for (int c = 0; c < 2; ++c) CHECK(std::abs(full[2 * r + c] - want_m(r, c)) < 1e-9);
        CHECK(std::abs(d->qfrc_bias[r] - want_b[r]) < 1e-9);
      }
      const Eigen::Vector2d qd(s[2], s[3]);
      const Eigen::Vector2d friction(
          up.p.at("b1") * qd[0] + up.p.at("cf1") * std::atan(100 * qd[0]),
          up.p.at("b2") * qd[1] + up.p.at("cf2") * std::atan(100 * qd[1]));
      const Eigen::Vector2d qdd = want_m.ldlt().solve(-want_b - friction);
      State state = State::Reference(ws.model());
      state.qpos << s[0], s[1];
      state.qvel << s[2], s[3];
      ws.SetState(state);
      ws.data()->qacc[0] = qdd[0];
      ws.data()->qacc[1] = qdd[1];
      ws.Inverse();
      for (int r = 0; r < 2; ++r) CHECK(std::abs(ws.data()->qfrc_inverse[r]) < 1e-9);
    }
  }
  // the MJCF as shipped carries model_1.0, the study's initial values (the smooth friction law is
  // the study's, not the MJCF's: the A.0 campaign's model and world keep MuJoCo's hard one)
  const Eigen::VectorXd shipped = binding.Read(base.get(), Effects::Identity(base.get()));
  for (const ReferenceSet& ref : refs) {
    if (ref.name != "model_1.0") continue;
    for (int j = 0; j < binding.size(); ++j) {
      CAPTURE(binding.spec(j).name);
      if (binding.spec(j).name != "friction_velocity") {
        CHECK(shipped[j] == doctest::Approx(ref.values[j]).epsilon(1e-6));
      }
      CHECK(binding.Initial()[j] == doctest::Approx(ref.values[j]).epsilon(1e-9));
    }
  }
}

}  // namespace
}  // namespace nextbatch
