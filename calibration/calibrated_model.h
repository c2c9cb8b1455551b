// The calibrated model: the study's MJCF with the fitted values written in, and a report of the
// fitted values the MJCF cannot carry (model-level effects such as a delay live in
// calibration.json only; MuJoCo's writer keeps only what the XML states).
#ifndef NEXTBATCH_CALIBRATION_CALIBRATED_MODEL_H_
#define NEXTBATCH_CALIBRATION_CALIBRATED_MODEL_H_

#include <Eigen/Core>
#include <string>
#include <vector>

#include "engine/parameter.h"

namespace nextbatch {

struct SavedModelReport {
  bool saved = false;
  std::string error;  // why the model could not be saved (saved == false)
  struct NotKept {
    std::string name;
    double fitted = 0, in_model = 0;
  };
  std::vector<NotKept> not_kept;          // model fields whose saved value differs from the fit
  std::vector<std::string> effects_only;  // parameters with no MJCF field (delay, gains, ...)
};

// `<inertial pos=".." mass=".." fullinertia="ixx iyy izz ixy ixz iyz"/>` (17 significant digits:
// the text reads back to the same doubles).
std::string InertialElement(const PhysicalInertial& p);

// `xml` (as MuJoCo's writer formats it) with the inertial of body `body` replaced by (or given)
// InertialElement(p). Throws RunError when the body is not there.
std::string WithInertialElement(const std::string& xml, const std::string& body,
                                const PhysicalInertial& p);

// Writes the model at `model_path` with `values` applied through `binding` to `out_path`, reads
// it back and reports what it does not carry. A model MuJoCo refuses to save or to load back
// (e.g. fitted inertias that break the triangle inequality) is reported, not thrown: the fit
// stays usable without it. Nothing is left at `out_path` when saved is false. Grouped inertial
// parameters are written as the body's `<inertial ... fullinertia>`.
SavedModelReport SaveCalibratedModel(const std::string& model_path, const ParameterBinding& binding,
                                     const Eigen::VectorXd& values, const std::string& out_path);

}  // namespace nextbatch

#endif  // NEXTBATCH_CALIBRATION_CALIBRATED_MODEL_H_
