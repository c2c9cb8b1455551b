#include "scenarios/outcome.h"

#include <cmath>

#include "engine/error.h"

namespace nextbatch {
namespace {

constexpr double kTimeTol = 1e-9;

double Component(const double* v, int axis) {
  return axis < 3 ? v[axis] : std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}

}  // namespace

double Outcome::Read(int qi, const mjModel* m, const mjData* d, double start, const int* chosen,
                     const double* start_values, bool raw) const {
  Quantity q = quantities_[qi];
  if (chosen && q.choice >= 0) q.id = chosen[q.choice];
  if (chosen && q.choice2 >= 0) q.id2 = chosen[q.choice2];
  double x = 0;
  switch (q.kind) {
    case Quantity::Kind::kTime:
      x = d->time - start;
      break;
    case Quantity::Kind::kBodyPos:
      x = Component(d->xpos + 3 * q.id, q.axis);
      break;
    case Quantity::Kind::kBodyCom:
      x = Component(d->xipos + 3 * q.id, q.axis);
      break;
    case Quantity::Kind::kBodyVel: {
      mjtNum v[6];
      mj_objectVelocity(m, d, mjOBJ_BODY, q.id, v, 0);
      x = Component(v + 3, q.axis);
      break;
    }
    case Quantity::Kind::kSitePos:
      x = Component(d->site_xpos + 3 * q.id, q.axis);
      break;
    case Quantity::Kind::kJointPos:
      x = d->qpos[q.id];
      break;
    case Quantity::Kind::kJointVel:
      x = d->qvel[q.id];
      break;
    case Quantity::Kind::kActuatorForce:
      x = d->actuator_force[q.id];
      break;
    case Quantity::Kind::kActuatorCtrl:
      x = d->ctrl[q.id];
      break;
    case Quantity::Kind::kDistance: {
      const double* a = (q.point_type == 0 ? d->xpos : d->site_xpos) + 3 * q.id;
      const double* b = (q.point_type2 == 0 ? d->xpos : d->site_xpos) + 3 * q.id2;
      const double diff[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
      x = Component(diff, q.axis);
      break;
    }
    case Quantity::Kind::kContact: {
      const std::vector<char>& sa = geom_sets_[q.id];
      const std::vector<char>& sb = geom_sets_[q.id2];
      for (int c = 0; c < d->ncon; ++c) {
        const int g1 = d->contact[c].geom1, g2 = d->contact[c].geom2;
        if ((sa[g1] && sb[g2]) || (sa[g2] && sb[g1])) {
          x = 1;
          break;
        }
      }
      break;
    }
  }
  if (q.minus >= 0) x -= Read(q.minus, m, d, start, chosen, nullptr, true);
  if (raw) return x;
  if (q.relative && start_values) x -= start_values[qi];
  if (q.wrap) x = std::remainder(x, 2 * M_PI);
  if (q.abs) x = std::abs(x);
  return x;
}

bool Outcome::Compare(const Node& n, double x) const {
  switch (n.op) {
    case Op::kLess:
      return x < n.value;
    case Op::kLessEqual:
      return x <= n.value;
    case Op::kGreater:
      return x > n.value;
    case Op::kGreaterEqual:
      return x >= n.value;
    case Op::kEqual:
      return x == n.value;
    case Op::kNotEqual:
      return x != n.value;
  }
  return false;
}

bool Outcome::Holds(int node, const mjModel* m, const mjData* d) const {
  return Evaluator(this).Instant(node, m, d);
}

std::vector<int> Outcome::QuantitiesOf(int node) const {
  std::vector<int> out;
  std::vector<int> stack = {node};
  while (!stack.empty()) {
    const Node& n = nodes_[stack.back()];
    stack.pop_back();
    if (n.type == Node::Type::kLeaf) {
      if (n.quantity >= 0) out.push_back(n.quantity);
      continue;
    }
    for (int c = 0; c < n.num_children; ++c) stack.push_back(children_[n.first_child + c]);
  }
  return out;
}

std::vector<int> Outcome::MetricQuantities(int metric) const {
  const Metric& m = metrics_[metric];
  if (m.reduce == Metric::Reduce::kTimeTo) return QuantitiesOf(m.node);
  return {m.quantity};
}

Outcome::Evaluator::Evaluator(const Outcome* o)
    : o_(o),
      acc_(o->nodes_.size(), 0),
      seen_(o->nodes_.size(), 0),
      metric_acc_(o->metrics_.size(), 0.0),
      metric_count_(o->metrics_.size(), 0),
      metric_values_(o->metrics_.size(), 0.0) {
  for (const auto& list : o->choices_) chosen_.push_back(list[0]);
  start_values_.assign(o->quantities_.size(), 0.0);
}

bool Outcome::Evaluator::Instant(int node, const mjModel* m, const mjData* d) const {
  const Node& n = o_->nodes_[node];
  const int* kid = o_->children_.data() + n.first_child;
  switch (n.type) {
    case Node::Type::kLeaf:
      return o_->Compare(n,
                         o_->Read(n.quantity, m, d, start_, chosen_.data(), start_values_.data()));
    case Node::Type::kAll:
      for (int k = 0; k < n.num_children; ++k) {
        if (!Instant(kid[k], m, d)) return false;
      }
      return true;
    case Node::Type::kAny:
      for (int k = 0; k < n.num_children; ++k) {
        if (Instant(kid[k], m, d)) return true;
      }
      return false;
    case Node::Type::kNot:
      return !Instant(kid[0], m, d);
  }
  return false;
}

void Outcome::Evaluator::Begin(const mjModel* m, const mjData* d) {
  start_ = d->time;
  // an object variant parks the absent bodies far below the world
  for (std::size_t c = 0; c < o_->choices_.size(); ++c) {
    chosen_[c] = o_->choices_[c][0];
    for (int b : o_->choices_[c]) {
      if (d->xpos[3 * b + 2] > -10) {
        chosen_[c] = b;
        break;
      }
    }
  }
  finished_ = false;
  for (std::size_t q = 0; q < o_->quantities_.size(); ++q) {
    if (o_->quantities_[q].relative) {
      start_values_[q] = o_->Read(static_cast<int>(q), m, d, start_, chosen_.data(), nullptr, true);
    }
  }
  for (std::size_t i = 0; i < o_->nodes_.size(); ++i) {
    const When::Kind k = o_->nodes_[i].when.kind;
    // conjunctive windows start true, disjunctive ones false
    acc_[i] = (k == When::Kind::kAlways || k == When::Kind::kLast || k == When::Kind::kAfter);
    seen_[i] = 0;
  }
  for (std::size_t i = 0; i < o_->metrics_.size(); ++i) {
    metric_count_[i] = 0;
    metric_acc_[i] = 0.0;
    metric_values_[i] = o_->metrics_[i].reduce == Metric::Reduce::kTimeTo ? -1.0 : 0.0;
  }
  Sample(m, d, false);
}

void Outcome::Evaluator::Observe(const mjModel* m, const mjData* d) { Sample(m, d, false); }

void Outcome::Evaluator::Finish(const mjModel* m, mjData* d) {
  mj_forward(m, d);
  Sample(m, d, true);
  for (std::size_t i = 0; i < o_->metrics_.size(); ++i) {
    const Metric& mt = o_->metrics_[i];
    if (mt.reduce == Metric::Reduce::kMean) {
      metric_values_[i] = metric_count_[i] ? metric_acc_[i] / metric_count_[i] : 0.0;
    } else if (mt.reduce == Metric::Reduce::kTimeTo && metric_values_[i] < 0) {
      metric_values_[i] = o_->horizon_;  // never reached: censored at the horizon
    }
  }
  finished_ = true;
}

void Outcome::Evaluator::Sample(const mjModel* m, const mjData* d, bool final) {
  const double t = d->time - start_;
  for (std::size_t i = 0; i < o_->nodes_.size(); ++i) {
    const Node& n = o_->nodes_[i];
    if (!n.timed) continue;
    switch (n.when.kind) {
      case When::Kind::kEnd:
        if (final) acc_[i] = Instant(static_cast<int>(i), m, d);
        break;
      case When::Kind::kAlways:
        if (acc_[i]) acc_[i] = Instant(static_cast<int>(i), m, d);
        break;
      case When::Kind::kEver:
        if (!acc_[i]) acc_[i] = Instant(static_cast<int>(i), m, d);
        break;
      case When::Kind::kLast:
      case When::Kind::kAfter: {
        const double from =
            n.when.kind == When::Kind::kLast ? o_->horizon_ - n.when.seconds : n.when.seconds;
        if (t >= from - kTimeTol) {
          seen_[i] = 1;
          if (acc_[i]) acc_[i] = Instant(static_cast<int>(i), m, d);
        }
        break;
      }
      case When::Kind::kWithin:
        if (t <= n.when.seconds + kTimeTol) {
          seen_[i] = 1;
          if (!acc_[i]) acc_[i] = Instant(static_cast<int>(i), m, d);
        }
        break;
    }
  }
  for (std::size_t i = 0; i < o_->metrics_.size(); ++i) {
    const Metric& mt = o_->metrics_[i];
    if (mt.reduce == Metric::Reduce::kTimeTo) {
      if (metric_values_[i] < 0 && Instant(mt.node, m, d)) metric_values_[i] = t;
      continue;
    }
    const double x = o_->Read(mt.quantity, m, d, start_, chosen_.data(), start_values_.data());
    switch (mt.reduce) {
      case Metric::Reduce::kEnd:
        if (final) metric_values_[i] = x;
        break;
      case Metric::Reduce::kMin:
        metric_values_[i] = metric_count_[i] ? std::min(metric_values_[i], x) : x;
        ++metric_count_[i];
        break;
      case Metric::Reduce::kMax:
        metric_values_[i] = metric_count_[i] ? std::max(metric_values_[i], x) : x;
        ++metric_count_[i];
        break;
      case Metric::Reduce::kMean:
        // the final exact sample repeats the last step's time: not counted twice
        if (!final) {
          metric_acc_[i] += x;
          ++metric_count_[i];
        }
        break;
      case Metric::Reduce::kTimeTo:
        break;
    }
  }
}

bool Outcome::Evaluator::Judge(int node) const {
  const Node& n = o_->nodes_[node];
  if (n.timed) {
    const When::Kind k = n.when.kind;
    if (k == When::Kind::kLast || k == When::Kind::kAfter) return seen_[node] && acc_[node];
    return acc_[node];
  }
  const int* kid = o_->children_.data() + n.first_child;
  switch (n.type) {
    case Node::Type::kAll:
      for (int k = 0; k < n.num_children; ++k) {
        if (!Judge(kid[k])) return false;
      }
      return true;
    case Node::Type::kAny:
      for (int k = 0; k < n.num_children; ++k) {
        if (Judge(kid[k])) return true;
      }
      return false;
    case Node::Type::kNot:
      return !Judge(kid[0]);
    case Node::Type::kLeaf:
      break;
  }
  return false;
}

bool Outcome::Evaluator::success() const {
  return o_->success_ < 0 || (finished_ && Judge(o_->success_));
}

bool Outcome::Evaluator::safe() const {
  return o_->safety_ < 0 || (finished_ && Judge(o_->safety_));
}

}  // namespace nextbatch
