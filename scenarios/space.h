// The scenario space: the factors a data-collection round can vary, what each one changes in
// simulation, what changing it costs on the real robot, and linear constraints between them.
//
// Every factor is one axis of the unit cube [0, 1)^d that the samplers fill; FromUnit/ToUnit map
// between the cube and factor values:
//   continuous  x = lower + u (upper - lower), or log-uniform with log_scale;
//   integer     the inclusive range lower..upper cut into equal cells, x = lower + floor(u n);
//   categorical level index floor(u L) of L levels.
// A Scenario holds one value per factor in factor order; categorical values are level indices.
#ifndef NEXTBATCH_SCENARIOS_SPACE_H_
#define NEXTBATCH_SCENARIOS_SPACE_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/parameter.h"

namespace nextbatch {

enum class FactorKind { kContinuous, kInteger, kCategorical };

// What a factor's value changes in simulation.
struct FactorBinding {
  enum class Kind {
    kNone,       // read by name only (a task or controller setting)
    kParameter,  // engine parameter targets (engine/parameter.h grammar), set or scale
    kQpos,       // initial position of a hinge or slide joint; target = joint name
    kPose,       // initial pose of a free body; target = "name.x|y|z|yaw" (world frame, m, rad)
                 // where name is a body, or a variant factor's object (then the chosen body)
    kVariant,    // which of several bodies is present; categorical only; target = an object
                 // name that pose factors may refer to; each level names a body of the model
  };
  Kind kind = Kind::kNone;
  std::vector<std::string> targets;  // kParameter: one or more; others: exactly one
  BindMode mode = BindMode::kSet;    // kParameter only
};

// How changing a factor is paid for on the real robot (the planner's cost model).
enum class FactorTag {
  kSetup,  // changing it is a setup change (rebuild the scene, swap an object)
  kReset,  // varies between episodes of one setup at the cost of a reset
};

struct Level {
  std::string name;
  std::string body;        // kVariant: the model body this level makes present (default: name)
  double value = 0.0;      // the level's number, for categorical factors bound to numbers
  bool has_value = false;  // whether `value` was given
  nlohmann::json payload;  // free-form data carried to tasks and reports (e.g. sizes, masses)
};

struct Factor {
  std::string name;
  FactorKind kind = FactorKind::kContinuous;
  double lower = 0.0;  // continuous and integer (integer: inclusive)
  double upper = 1.0;
  bool log_scale = false;     // continuous only; needs lower > 0
  std::vector<Level> levels;  // categorical only
  FactorBinding binding;
  FactorTag tag = FactorTag::kReset;
  double cost_seconds = 0.0;  // time to change it on the real robot

  bool numeric() const { return kind != FactorKind::kCategorical; }
  // Number of distinct values: levels, integers in the range; 0 for continuous.
  int Cardinality() const;
  // Index of the level named `name`, -1 when absent.
  int FindLevel(const std::string& name) const;
};

// sum_k coefficients[k] * x[factors[k]] <= upper, over numeric factors in their own units.
struct LinearConstraint {
  std::string name;
  std::vector<int> factors;
  std::vector<double> coefficients;
  double upper = 0.0;

  double Evaluate(const std::vector<double>& values) const;  // the left-hand side
};

// One point of the space: a value per factor, in factor order (categorical: level index).
struct Scenario {
  std::vector<double> values;
  bool operator==(const Scenario& o) const { return values == o.values; }
  bool operator!=(const Scenario& o) const { return !(*this == o); }
};

class ScenarioSpace {
 public:
  ScenarioSpace() = default;
  ScenarioSpace(std::vector<Factor> factors, std::vector<LinearConstraint> constraints = {})
      : factors_(std::move(factors)), constraints_(std::move(constraints)) {}

  int dimension() const { return static_cast<int>(factors_.size()); }
  const std::vector<Factor>& factors() const { return factors_; }
  const Factor& factor(int i) const { return factors_[i]; }
  const std::vector<LinearConstraint>& constraints() const { return constraints_; }
  int Find(const std::string& name) const;  // -1 when absent

  void AddFactor(Factor f) { factors_.push_back(std::move(f)); }
  void AddConstraint(LinearConstraint c) { constraints_.push_back(std::move(c)); }

  // Empty when valid, else "factor 'x'.field: expected X, got Y" (the first problem found).
  // Also rejects a constraint that no point of the box can meet.
  std::string Validate() const;

  // Unit-cube point (dimension() coordinates in [0, 1]) to a scenario, and back. ToUnit gives
  // the centre of an integer's or level's cell, so FromUnit(ToUnit(s)) == s.
  Scenario FromUnit(const double* u) const;
  Scenario FromUnit(const std::vector<double>& u) const { return FromUnit(u.data()); }
  std::vector<double> ToUnit(const Scenario& s) const;

  // Whether every constraint holds (with a relative tolerance of 1e-12 for round-off).
  bool Feasible(const Scenario& s) const;
  // Index of the first violated constraint, -1 when feasible.
  int FirstViolated(const Scenario& s) const;

  // Empty when `s` is a valid point (right size, within bounds, integral integers, valid level
  // indices); does not check constraints.
  std::string Check(const Scenario& s) const;

  // {factor: number, or level name for categorical}.
  nlohmann::json ToJson(const Scenario& s) const;
  // Inverse of ToJson; every factor is required, unknown keys are an error. `where` prefixes
  // messages ("plan.json: items[3].scenario").
  Scenario FromJson(const nlohmann::json& j, const std::string& where) const;
  // The scenario a real episode was recorded under: each factor it gives must hold a valid value
  // (in range, integral, a level's name; the messages of FromJson). Factors it lacks and keys
  // that are not factors are allowed (such an episode does not count for coverage).
  void CheckRecorded(const nlohmann::json& j, const std::string& where) const;

  // Setup-cost of moving from scenario a to b: the sum of cost_seconds of the `setup` factors
  // that differ (reset factors are free to change between episodes).
  double SetupCost(const Scenario& a, const Scenario& b) const;

 private:
  std::vector<Factor> factors_;
  std::vector<LinearConstraint> constraints_;
};

const char* FactorKindName(FactorKind k);
const char* BindingKindName(FactorBinding::Kind k);

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_SPACE_H_
