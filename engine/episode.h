// One real recording and its metadata: the unit of a dataset.
#ifndef NEXTBATCH_ENGINE_EPISODE_H_
#define NEXTBATCH_ENGINE_EPISODE_H_

#include <Eigen/Core>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nextbatch {

// Time series of named channels, one row per sample (rows match Episode::time).
struct Channels {
  std::vector<std::string> names;  // model joint names (qpos, qvel), actuator names (ctrl),
                                   // sensor names (sensors)
  Eigen::MatrixXd values;          // samples x names.size()

  bool empty() const { return names.empty(); }
  int Find(const std::string& name) const;  // -1 when absent
};

struct Episode {
  std::string id;
  std::string robot;
  std::string site;
  std::string date;                                    // ISO 8601 when known
  std::string source;                                  // the file it was read from
  nlohmann::json scenario = nlohmann::json::object();  // factor -> value
  nlohmann::json outcome = nlohmann::json::object();   // success, metrics
  nlohmann::json extra = nlohmann::json::object();     // other metadata kept as read

  std::vector<double> time;  // seconds, strictly increasing after cleaning
  Channels qpos;
  Channels qvel;  // may be empty (estimated by cleaning when asked)
  Channels ctrl;
  Channels sensors;  // may be empty; names are model sensors (scalar)
  Channels logged;   // other logged channels that no model quantity matches (e.g. a servo's
                     // PWM register); kept, cleaned and resampled like the rest, never fitted

  int samples() const { return static_cast<int>(time.size()); }
  double duration() const { return time.empty() ? 0.0 : time.back() - time.front(); }
};

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_EPISODE_H_
