#include "calibration/calibrated_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>

#include "engine/model.h"

namespace nextbatch {

SavedModelReport SaveCalibratedModel(const std::string& model_path, const ParameterBinding& binding,
                                     const Eigen::VectorXd& values, const std::string& out_path) {
  SavedModelReport report;
  const std::string tmp = out_path + ".tmp";
  try {
    ModelPtr model = LoadModelFile(model_path);
    ModelPtr fitted = CopyModel(model.get());
    DataPtr data = MakeData(fitted.get());
    Effects effects = Effects::Identity(fitted.get());
    binding.Apply(values, fitted.get(), data.get(), &effects);
    SaveModelXml(model_path, fitted.get(), tmp);
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
      const double v = values[j];
      if (!model_field) {
        report.effects_only.push_back(binding.spec(j).name);
      } else if (!(std::abs(back[j] - v) <= 1e-5 * std::max(1.0, std::abs(v)))) {
        report.not_kept.push_back({binding.spec(j).name, v, back[j]});
      }
    }
    if (std::rename(tmp.c_str(), out_path.c_str()) != 0) {
      throw std::runtime_error(out_path + ": cannot write");
    }
    report.saved = true;
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    report.saved = false;
    report.error = e.what();
    report.not_kept.clear();
    report.effects_only.clear();
  }
  return report;
}

}  // namespace nextbatch
