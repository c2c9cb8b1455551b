#include "scenarios/simulate_json.h"

#include "engine/error.h"

namespace nextbatch {

SimulateOptions ReadSimulateOptions(const JsonReader& r,
                                    const std::function<std::string(const std::string&)>& resolve) {
  SimulateOptions o;
  if (r.Has("candidates")) {
    const auto& v = r.Raw("candidates");
    if (!v.is_number_integer() || v.get<long long>() < 1) {
      ThrowExpected(r.Where("candidates"), "an integer >= 1", Describe(v));
    }
    o.candidates = v.get<long long>();
  }
  o.posterior_samples = r.Integer("posterior_samples", o.posterior_samples);
  if (o.posterior_samples < 1) {
    ThrowExpected(r.Where("posterior_samples"), "an integer >= 1",
                  std::to_string(o.posterior_samples));
  }
  o.chunk = r.Integer("chunk", o.chunk);
  if (o.chunk < 1) ThrowExpected(r.Where("chunk"), "an integer >= 1", std::to_string(o.chunk));
  if (r.Has("calibration")) {
    const std::string path = r.String("calibration");
    o.calibration = resolve ? resolve(path) : path;
  }
  if (r.Has("nuisance")) {
    JsonReader n = r.Object("nuisance");
    o.nuisance.qpos_std = n.Number("qpos_std", 0.0);
    o.nuisance.qvel_std = n.Number("qvel_std", 0.0);
    n.CheckAllRead();
    const std::string error = o.nuisance.Validate();
    if (!error.empty()) throw InputError(r.file() + ": " + error);
  }
  o.information = r.Bool("information", o.information);
  r.CheckAllRead();
  return o;
}

}  // namespace nextbatch
