// Outcomes of a task: success and safety predicates and metrics over simulated quantities,
// written in the study as JSON (see docs/scenarios.md), compiled once against a model (names
// resolved to ids) and evaluated step by step without allocation.
#ifndef NEXTBATCH_SCENARIOS_OUTCOME_H_
#define NEXTBATCH_SCENARIOS_OUTCOME_H_

#include <mujoco/mujoco.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/json_reader.h"

namespace nextbatch {

// A scalar read from mjModel/mjData: positions, speeds, forces, contacts, time.
struct Quantity {
  enum class Kind {
    kTime,      // d->time - start time
    kBodyPos,   // xpos
    kBodyCom,   // xipos
    kBodyVel,   // linear velocity of the body frame, world coordinates
    kSitePos,   // site_xpos
    kJointPos,  // qpos of a hinge or slide joint (or one coordinate of a ball/free joint)
    kJointVel,  // qvel of its dof
    kActuatorForce,
    kActuatorCtrl,
    kDistance,  // between two points (bodies or sites): norm, or a signed axis offset b - a
    kContact,   // 1 when a geom of set a touches a geom of set b, else 0
  };
  Kind kind = Kind::kTime;
  int id = -1;         // body, site, joint address, actuator; contact: first set
  int id2 = -1;        // distance: second point; contact: second set
  int point_type = 0;  // distance: 0 body, 1 site for a; point_type2 for b
  int point_type2 = 0;
  int choice = -1;   // body lists: index into the outcome's choices, resolved per episode
  int choice2 = -1;  // the same for a distance's second point
  int axis = 3;      // 0 x, 1 y, 2 z, 3 norm
  bool abs = false;
  bool wrap = false;      // angles wrapped to (-pi, pi]
  bool relative = false;  // the change since the start of the episode
  // Another quantity (index into the outcome's quantities) subtracted before relative, wrap and
  // abs apply, e.g. a joint's position minus its servo's command: the tracking error. -1: none.
  int minus = -1;
};

enum class Op { kLess, kLessEqual, kGreater, kGreaterEqual, kEqual, kNotEqual };

// When a condition is judged over an episode.
struct When {
  enum class Kind { kEnd, kAlways, kEver, kLast, kAfter, kWithin };
  Kind kind = Kind::kEnd;
  double seconds = 0.0;  // kLast, kAfter, kWithin
};

// A compiled outcome: flat arrays, no pointers into the JSON.
class Outcome {
 public:
  struct Node {
    enum class Type { kLeaf, kAll, kAny, kNot };
    Type type = Type::kLeaf;
    int quantity = -1;
    Op op = Op::kGreater;
    double value = 0.0;
    int first_child = 0;  // into children_
    int num_children = 0;
    bool timed = false;  // has its own `when`: its subtree is judged instantaneously
    When when;
  };
  struct Metric {
    enum class Reduce { kEnd, kMin, kMax, kMean, kTimeTo };
    std::string name;
    int quantity = -1;  // kTimeTo: unused
    int node = -1;      // kTimeTo: an instantaneous predicate
    Reduce reduce = Reduce::kEnd;
  };

  // Compiles an outcome section: {"success": P, "safety": P, "metrics": {name: M}}.
  // `horizon` (seconds) anchors {"last": s}. Throws InputError naming the field and, for an
  // unknown name, the valid names of that kind in the model.
  static Outcome Compile(const JsonReader& section, const mjModel* m, double horizon);

  bool has_success() const { return success_ >= 0; }
  bool has_safety() const { return safety_ >= 0; }
  const std::vector<Metric>& metrics() const { return metrics_; }
  int num_metrics() const { return static_cast<int>(metrics_.size()); }
  double horizon() const { return horizon_; }

  // Reads one quantity (exposed for tests and controllers). `chosen` gives the body picked
  // from each body list (null: the first of each).
  // `start_values` holds each quantity's raw value at the start (for relative quantities; null:
  // none subtracted); with `raw`, abs, wrap and relative are not applied.
  double Read(int quantity, const mjModel* m, const mjData* d, double start_time,
              const int* chosen = nullptr, const double* start_values = nullptr,
              bool raw = false) const;

  // The evaluation of one episode. Make one per thread and Begin() it for each rollout.
  class Evaluator {
   public:
    explicit Evaluator(const Outcome* outcome);
    // Starts an episode at the state in d, whose derived quantities must be current
    // (mj_forward done); judges the initial state as the first sample.
    void Begin(const mjModel* m, const mjData* d);
    // Judges the state after a step.
    void Observe(const mjModel* m, const mjData* d);
    // Ends the episode: runs mj_forward so that the final sample is exact, judges it again.
    void Finish(const mjModel* m, mjData* d);

    bool success() const;  // true when no success predicate is given
    bool safe() const;     // true when no safety predicate is given
    // Metric values of the finished episode (size num_metrics()).
    const std::vector<double>& metrics() const { return metric_values_; }

    // Truth of a node's subtree at the state in d, ignoring `when`.
    bool Instant(int node, const mjModel* m, const mjData* d) const;

   private:
    void Sample(const mjModel* m, const mjData* d, bool final);
    bool Judge(int node) const;

    const Outcome* o_;
    double start_ = 0.0;
    std::vector<char> acc_;   // per node: accumulated truth (timed nodes)
    std::vector<char> seen_;  // per node: a sample fell in its window
    std::vector<double> metric_acc_;
    std::vector<long> metric_count_;
    std::vector<double> metric_values_;
    std::vector<int> chosen_;           // per body list, the body present in this episode
    std::vector<double> start_values_;  // per quantity, its raw value at Begin
    bool finished_ = false;
  };

  // Instantaneous truth of a node's subtree (ignores `when`): for tests and scripted logic.
  bool Holds(int node, const mjModel* m, const mjData* d) const;
  int success_node() const { return success_; }
  int safety_node() const { return safety_; }

  // What a rule reads: the quantities of a node's subtree, and of a metric (its quantity, or the
  // subtree of its time_to predicate). For callers that judge an outcome on data other than a
  // simulation and must know which channels a rule needs (scenarios/logged_outcome.h).
  std::vector<int> QuantitiesOf(int node) const;
  std::vector<int> MetricQuantities(int metric) const;
  const Quantity& quantity(int i) const { return quantities_[i]; }

 private:
  int CompileNode(const nlohmann::json& j, const std::string& where, const mjModel* m,
                  bool inside_timed);
  // A body name, or a list of bodies of which the one present is used: sets *id and *choice.
  void CompileBody(const nlohmann::json& j, const std::string& where, const mjModel* m, int* id,
                   int* choice);
  int CompileQuantity(const nlohmann::json& j, const std::string& where, const mjModel* m);
  bool Compare(const Node& n, double x) const;

  std::string file_;
  double horizon_ = 0.0;
  std::vector<Quantity> quantities_;
  std::vector<Node> nodes_;
  std::vector<int> children_;
  std::vector<std::vector<char>> geom_sets_;  // contact sets: per geom, 1 when a member
  std::vector<std::vector<int>> choices_;     // body lists (object variants)
  std::vector<Metric> metrics_;
  int success_ = -1;
  int safety_ = -1;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_OUTCOME_H_
