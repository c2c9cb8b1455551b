#include "planners/plan_options.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "engine/error.h"
#include "scenarios/task_json.h"

namespace nextbatch {
namespace {

std::string Window(const std::pair<double, double>& w) {
  return "[" + FormatNumber(w.first) + ", " + FormatNumber(w.second) + "]";
}

std::string CheckWeight(const char* name, double w) {
  if (!std::isfinite(w) || w < 0.0)
    return Expected(std::string("planner.weights.") + name, "a weight >= 0", FormatNumber(w));
  return "";
}

std::string CheckIndices(const char* name, const std::vector<std::int64_t>& list) {
  std::set<std::int64_t> seen;
  for (std::int64_t i : list) {
    if (i < 0)
      return Expected(std::string("planner.") + name, "candidate indices >= 0", std::to_string(i));
    if (!seen.insert(i).second)
      return Expected(std::string("planner.") + name, "each candidate once",
                      std::to_string(i) + " twice");
  }
  return "";
}

std::vector<std::int64_t> ReadIndices(const JsonReader& r, const std::string& key) {
  std::vector<std::int64_t> out;
  if (!r.Has(key)) return out;
  const nlohmann::json& v = r.Raw(key);
  if (!v.is_array()) ThrowExpected(r.Where(key), "an array of candidate indices", Describe(v));
  for (std::size_t k = 0; k < v.size(); ++k) {
    if (!v[k].is_number_integer())
      ThrowExpected(r.Where(key) + "[" + std::to_string(k) + "]", "a candidate index",
                    Describe(v[k]));
    out.push_back(v[k].get<std::int64_t>());
  }
  return out;
}

}  // namespace

const char* RuleName(PlanRule rule) {
  switch (rule) {
    case PlanRule::kFailure:
      return "failure";
    case PlanRule::kInformation:
      return "information";
    case PlanRule::kWeighted:
      break;
  }
  return "weighted";
}

std::string PlanOptions::Validate() const {
  if (!std::isfinite(budget_seconds) || !(budget_seconds > 0.0))
    return Expected("planner.budget_seconds", "a positive number of seconds",
                    FormatNumber(budget_seconds));
  if (!std::isfinite(reset_seconds) || reset_seconds < 0.0)
    return Expected("planner.reset_seconds", "a number of seconds >= 0",
                    FormatNumber(reset_seconds));
  if (!std::isfinite(episode_seconds) || !(episode_seconds > 0.0))
    return Expected("planner.episode_seconds", "a positive number of seconds",
                    FormatNumber(episode_seconds));
  if (budget_seconds < episode_seconds)
    return Expected("planner.budget_seconds",
                    "at least one episode (" + FormatNumber(episode_seconds) + " s)",
                    FormatNumber(budget_seconds));
  for (const auto& [name, w] : {std::pair<const char*, double>{"coverage", weights.coverage},
                                {"uncertainty", weights.uncertainty},
                                {"information", weights.information},
                                {"cost", weights.cost},
                                {"team", weights.team},
                                {"discrepancy", weights.discrepancy},
                                {"real_outcome", weights.real_outcome}}) {
    if (std::string e = CheckWeight(name, w); !e.empty()) return e;
  }
  // discrepancy and real_outcome do not count: without real outcomes they weigh nothing, so
  // they cannot carry a plan alone.
  if (weights.coverage == 0.0 && weights.uncertainty == 0.0 && weights.information == 0.0 &&
      (team_uncertainty.empty() || weights.team == 0.0))
    return Expected("planner.weights", "a positive weight on coverage, uncertainty or information",
                    "all zero");
  if (std::string e = coverage.Validate(); !e.empty()) return "planner." + e;
  if (repeats_max < 1)
    return Expected("planner.repeats_max", "an integer >= 1", std::to_string(repeats_max));
  for (const Robot& robot : robots) {
    const std::string where = "planner.robots." + robot.name;
    if (robot.windows.empty())
      return Expected(where, "at least one window [start_s, end_s]", "none");
    std::vector<std::pair<double, double>> w = robot.windows;
    for (const auto& x : w)
      if (!std::isfinite(x.first) || !std::isfinite(x.second) || x.first < 0 ||
          !(x.second > x.first))
        return Expected(where, "windows [start_s, end_s] with 0 <= start_s < end_s", Window(x));
    std::sort(w.begin(), w.end());
    for (std::size_t i = 1; i < w.size(); ++i)
      if (w[i].first < w[i - 1].second)
        return Expected(where, "windows that do not overlap",
                        Window(w[i - 1]) + " and " + Window(w[i]));
  }
  if (std::string e = CheckIndices("pinned", pinned); !e.empty()) return e;
  if (std::string e = CheckIndices("excluded", excluded); !e.empty()) return e;
  for (std::int64_t i : pinned)
    if (std::find(excluded.begin(), excluded.end(), i) != excluded.end())
      return Expected("planner.excluded", "no pinned candidate",
                      std::to_string(i) + ", which is also pinned");
  if (std::string e = safety.Validate(); !e.empty()) return "planner." + e;
  if (!(failure_discount >= 0.0 && failure_discount <= 1.0))
    return Expected("planner.failure_discount", "a factor in [0, 1]",
                    FormatNumber(failure_discount));
  for (const auto& [name, v] :
       {std::pair<const char*, double>{"residual_scale", default_error_model.residual_scale},
        {"serial_correlation", default_error_model.serial_correlation}}) {
    if (!std::isfinite(v) || !(v > 0.0))
      return Expected(std::string("planner.default_error_model.") + name, "a positive number",
                      FormatNumber(v));
  }
  return "";
}

namespace {

// planner.safety into *o (its values kept where the section does not give them).
void ReadSafety(const JsonReader& r, SafetyOptions* o) {
  if (!r.Has("safety")) return;
  const JsonReader s = r.Object("safety");
  o->threshold = s.Number("threshold", o->threshold);
  o->confidence = s.Number("confidence", o->confidence);
  o->max_samples = s.Integer("max_samples", o->max_samples);
  s.CheckAllRead();
}

}  // namespace

PlanOptions ReadPlanOptions(const JsonReader& r, double horizon) {
  PlanOptions o;
  const std::string rule = r.Choice("rule", {"weighted", "failure", "information"}, "weighted");
  o.rule = rule == "failure"       ? PlanRule::kFailure
           : rule == "information" ? PlanRule::kInformation
                                   : PlanRule::kWeighted;
  o.budget_seconds = r.Number("budget_seconds", o.budget_seconds);
  o.reset_seconds = r.Number("reset_seconds", o.reset_seconds);
  o.episode_seconds = r.Number("episode_seconds", horizon + o.reset_seconds);
  if (r.Has("weights")) {
    const JsonReader w = r.Object("weights");
    o.weights.coverage = w.Number("coverage", o.weights.coverage);
    o.weights.uncertainty = w.Number("uncertainty", o.weights.uncertainty);
    o.weights.information = w.Number("information", o.weights.information);
    o.weights.cost = w.Number("cost", o.weights.cost);
    o.weights.team = w.Number("team", o.weights.team);
    o.weights.discrepancy = w.Number("discrepancy", o.weights.discrepancy);
    o.weights.real_outcome = w.Number("real_outcome", o.weights.real_outcome);
    w.CheckAllRead();
  }
  if (r.Has("coverage")) {
    const JsonReader c = r.Object("coverage");
    o.coverage.k = c.Integer("k", o.coverage.k);
    o.coverage.radius = c.Number("radius", o.coverage.radius);
    o.coverage.sample_size = c.Integer("sample_size", o.coverage.sample_size);
    o.coverage.categorical_distance =
        c.Number("categorical_distance", o.coverage.categorical_distance);
    c.CheckAllRead();
  }
  o.team_uncertainty = r.String("team_uncertainty", "");
  if (r.Has("team_uncertainty") && o.team_uncertainty.empty())
    ThrowExpected(r.Where("team_uncertainty"), "a CSV file (relative to the study)", "\"\"");
  o.repeats_max = r.Integer("repeats_max", o.repeats_max);
  if (r.Has("robots")) o.robots = RobotsFromJson(r.Raw("robots"), r.Where("robots"));
  o.pinned = ReadIndices(r, "pinned");
  o.excluded = ReadIndices(r, "excluded");
  ReadSafety(r, &o.safety);
  o.failure_discount = r.Number("failure_discount", o.failure_discount);
  if (r.Has("default_error_model")) {
    const JsonReader d = r.Object("default_error_model");
    o.default_error_model.residual_scale =
        d.Number("residual_scale", o.default_error_model.residual_scale);
    o.default_error_model.serial_correlation =
        d.Number("serial_correlation", o.default_error_model.serial_correlation);
    d.CheckAllRead();
  }
  r.CheckAllRead();
  if (std::string e = o.Validate(); !e.empty()) throw InputError(r.file() + ": " + e);
  return o;
}

PlanOptions ReadPlanOptions(const Study& study) {
  const double horizon = ReadTaskSpec(study.Section("task")).horizon;
  if (!study.HasSection(kPlannerSection)) {
    PlanOptions o;
    o.episode_seconds = horizon + o.reset_seconds;
    if (std::string e = o.Validate(); !e.empty()) throw InputError(study.path + ": " + e);
    return o;
  }
  PlanOptions o = ReadPlanOptions(study.Section(kPlannerSection), horizon);
  if (!o.team_uncertainty.empty()) o.team_uncertainty = study.Resolve(o.team_uncertainty);
  return o;
}

SafetyOptions ReadPlanSafetyOptions(const Study& study) {
  SafetyOptions o;
  if (!study.HasSection(kPlannerSection)) return o;
  const JsonReader r = study.Section(kPlannerSection);
  ReadSafety(r, &o);
  if (std::string e = o.Validate(); !e.empty()) throw InputError(r.file() + ": planner." + e);
  return o;
}

std::vector<Robot> PlanRobots(const PlanOptions& options) {
  if (!options.robots.empty()) return options.robots;
  Robot robot;
  robot.name = "robot";
  robot.windows = {{0.0, options.budget_seconds}};
  return {robot};
}

}  // namespace nextbatch
