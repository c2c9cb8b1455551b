// `nextbatch calibrate study.json -o out/`: fits the study's parameters to its dataset and writes
// out/calibration.json ("nextbatch.calibration/1") and out/calibrated_model.xml. A failed fit
// writes nothing, so an earlier good result is never overwritten.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "calibration/calibration.h"
#include "calibration/calibration_json.h"
#include "engine/atomic_file.h"
#include "engine/dataset.h"
#include "engine/error.h"
#include "engine/model.h"
#include "engine/study.h"
#include "tools/verbs.h"

namespace nextbatch::tools {
namespace {

// Drops the velocity columns that cleaning derived from the positions.
void DropEstimatedVelocities(const std::vector<std::string>& estimated, Channels* qvel) {
  Channels kept;
  for (const auto& name : qvel->names) {
    if (std::find(estimated.begin(), estimated.end(), name) == estimated.end()) {
      kept.names.push_back(name);
    }
  }
  kept.values.resize(qvel->values.rows(), static_cast<Eigen::Index>(kept.names.size()));
  for (std::size_t c = 0; c < kept.names.size(); ++c) {
    kept.values.col(static_cast<Eigen::Index>(c)) = qvel->values.col(qvel->Find(kept.names[c]));
  }
  *qvel = std::move(kept);
}

}  // namespace

int RunCalibrate(const VerbArgs& args) {
  const Study study = Study::Load(args.study);
  CalibrationOptions options = ReadCalibrationOptions(study);
  if (args.threads > 0) options.threads = args.threads;
  if (study.parameters.empty()) {
    ThrowExpected(study.path + ": parameters", "at least one parameter to calibrate", "none");
  }
  ModelPtr model = LoadModelFile(study.model);
  const ParameterBinding binding(model.get(), study.parameters);
  Dataset dataset = LoadDataset(study, model.get());
  // Velocities that cleaning derived from the positions are not measurements: fitting them
  // would count the position noise twice.
  for (std::size_t i = 0; i < dataset.episodes.size(); ++i) {
    if (i < dataset.quality.size()) {
      DropEstimatedVelocities(dataset.quality[i].qvel_estimated, &dataset.episodes[i].qvel);
    }
  }
  if (!args.episodes.empty()) {
    // --episodes: keep the named ones, in the dataset's order; every name must be an episode.
    std::vector<std::string> wanted;
    std::stringstream list(args.episodes);
    for (std::string id; std::getline(list, id, ',');) {
      if (id.empty()) continue;
      if (dataset.Find(id) < 0) {
        std::string known;
        for (const Episode& e : dataset.episodes) known += (known.empty() ? "" : ", ") + e.id;
        ThrowExpected("--episodes", "episode ids of the dataset (" + known + ")", "'" + id + "'");
      }
      wanted.push_back(id);
    }
    std::vector<Episode> kept;
    for (Episode& e : dataset.episodes) {
      if (std::find(wanted.begin(), wanted.end(), e.id) != wanted.end()) {
        kept.push_back(std::move(e));
      }
    }
    dataset.episodes = std::move(kept);
  }
  if (dataset.episodes.empty()) {
    ThrowExpected(study.path + ": dataset", "at least one usable episode",
                  "none (every episode was dropped by cleaning; run nextbatch ingest to see why)");
  }
  const CalibrationResult result = Calibrate(model.get(), binding, dataset.episodes, options);
  const CalibrationSummary& s = result.summary;
  if (s.status == CalibrationStatus::kPreflightFailed) {
    std::fprintf(stderr, "nextbatch calibrate: %s\n", s.message.c_str());
    for (const auto& p : result.preflight) {
      std::fprintf(stderr, "  %-24s effect %.3g for a step of %.3g%s\n", p.name.c_str(), p.effect,
                   p.step, p.ok ? "" : "  <- no effect");
    }
    return 2;
  }
  if (!s.usable()) {
    std::fprintf(stderr, "nextbatch calibrate: the fit failed (%s): %s\n", s.termination.c_str(),
                 s.message.c_str());
    return 1;
  }

  EnsureDirectory(args.out);
  const std::filesystem::path out(args.out);
  // The calibrated model: fitted values written into the study's MJCF (model-level effects such
  // as the delay have no MJCF field and live in calibration.json only).
  ModelPtr fitted = CopyModel(model.get());
  DataPtr data = MakeData(fitted.get());
  Effects effects = Effects::Identity(fitted.get());
  binding.Apply(result.value, fitted.get(), data.get(), &effects);
  const std::string xml = (out / "calibrated_model.xml").string();
  const std::string tmp = xml + ".tmp";
  SaveModelXml(study.model, fitted.get(), tmp);
  // MuJoCo's writer keeps only what the XML states (e.g. a body's mass only with an explicit
  // <inertial>): read the file back and say which fitted values it does not carry.
  nlohmann::json not_saved = nlohmann::json::array(), effects_only = nlohmann::json::array();
  {
    ModelPtr saved = LoadModelFile(tmp);
    const Eigen::VectorXd back = binding.Read(saved.get(), Effects::Identity(saved.get()));
    for (int j = 0; j < binding.size(); ++j) {
      bool model_field = true;
      for (const auto& t : binding.spec(j).targets) {
        for (const auto& f : ResolveTarget(saved.get(), t)) {
          model_field = model_field && (f.where == FieldRef::Where::kModelArray ||
                                        f.where == FieldRef::Where::kOption);
        }
      }
      const double v = result.value[j];
      if (!model_field) {
        effects_only.push_back(binding.spec(j).name);
      } else if (!(std::abs(back[j] - v) <= 1e-5 * std::max(1.0, std::abs(v)))) {
        not_saved.push_back({{"name", binding.spec(j).name}, {"fitted", v}, {"in_model", back[j]}});
      }
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, xml, ec);
  if (ec) throw RunError(xml + ": cannot write: " + ec.message());

  nlohmann::json doc = CalibrationToJson(result, binding, study.name);
  doc["model"] = "calibrated_model.xml";
  doc["model_not_saved"] = not_saved;        // fitted values the MJCF writer could not keep
  doc["model_effects_only"] = effects_only;  // delay, command gain/bias, sensor bias, Stribeck
  // Parameters whose value is per unit of an episode's scenario number (calibration option
  // episode_scale): the value applies to an episode only multiplied by that number.
  doc["episode_scale"] = options.episode_scale;
  // Written last: its presence means the calibration finished.
  const std::string path = (out / "calibration.json").string();
  WriteFileAtomic(path, doc.dump(1) + "\n");
  if (!args.quiet) {
    std::printf("%s", CalibrationSummaryText(result).c_str());
    for (const auto& p : not_saved) {
      std::printf(
          "  note: %s is not kept by the saved MJCF (MuJoCo writes what the XML states, "
          "e.g. a body mass only with an explicit <inertial>); use calibration.json\n",
          p["name"].get<std::string>().c_str());
    }
    std::printf("wrote %s and %s\n", path.c_str(), xml.c_str());
  }
  return 0;
}

}  // namespace nextbatch::tools
