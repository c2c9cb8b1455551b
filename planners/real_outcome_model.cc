#include "planners/real_outcome_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.h"

namespace nextbatch {
namespace {

std::string Fmt(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, x);
  return buf;
}

std::string Lengths(const GpHyper& h, const ScenarioSpace& space) {
  std::string out;
  for (int f = 0; f < space.dimension(); ++f)
    out += (f ? ", " : "") + space.factor(f).name + " " + Fmt("%.3g", h.length[f]);
  return out;
}

}  // namespace

std::vector<double> RealComponent::Scores() const {
  std::vector<double> s(sd.size(), 0.0);
  if (estimated && sd_max > 0.0)
    for (std::size_t i = 0; i < sd.size(); ++i) s[i] = sd[i] / sd_max;
  return s;
}

GpSpace RealModelSpace(const FactorEmbedding& embedding) {
  GpSpace s;
  for (const Factor& f : embedding.space().factors())
    s.categorical.push_back(f.numeric() ? 0.0 : embedding.categorical_distance());
  return s;
}

Eigen::MatrixXd RealModelPoints(const FactorEmbedding& embedding,
                                const std::vector<Scenario>& scenarios) {
  const ScenarioSpace& space = embedding.space();
  Eigen::MatrixXd x(scenarios.size(), space.dimension());
  for (std::size_t i = 0; i < scenarios.size(); ++i)
    for (int f = 0; f < space.dimension(); ++f)
      x(i, f) = space.factor(f).numeric() ? embedding.Normalise(f, scenarios[i].values[f])
                                          : scenarios[i].values[f];  // the level index
  return x;
}

RealComponent FitRealComponent(const FactorEmbedding& embedding,
                               const std::vector<Scenario>& points,
                               const std::vector<double>& values, double prior_mean,
                               const std::vector<Scenario>& candidates,
                               const RealModelOptions& options, const std::string& why_not) {
  RealComponent c;
  c.prior_mean = prior_mean;
  c.points = static_cast<int>(points.size());
  c.mean.assign(candidates.size(), prior_mean);
  c.sd.assign(candidates.size(), 0.0);
  if (points.empty()) {
    c.why_not = why_not;
    return c;
  }
  const GpSpace space = RealModelSpace(embedding);
  const Eigen::MatrixXd x = RealModelPoints(embedding, points);
  const Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXd>(values.data(), values.size());
  c.observed_mean = y.mean();
  c.hyper.length.assign(space.dimension(), options.priors.length_center);
  c.hyper.signal_var = options.priors.signal_center;
  c.hyper.noise_var = options.priors.noise_center;
  if (c.points >= options.min_points) {
    GpFitOptions fo;
    fo.priors = options.priors;
    fo.seed = options.seed;
    c.hyper = FitGpHyper(space, x, y, prior_mean, fo).hyper;
    c.fitted = true;
  }
  const GaussianProcess gp(space, x, y, prior_mean, c.hyper);
  const Eigen::MatrixXd at = RealModelPoints(embedding, candidates);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Eigen::VectorXd row = at.row(i).transpose();
    const GaussianProcess::Prediction p = gp.Predict(row.data());
    c.mean[i] = p.mean;
    c.sd[i] = std::sqrt(p.variance);
    c.sd_max = std::max(c.sd_max, c.sd[i]);
  }
  c.estimated = true;
  return c;
}

RealModel FitRealModel(const FactorEmbedding& embedding, const std::vector<Scenario>& counted,
                       const std::vector<int>& counted_of,
                       const std::vector<PlanEpisodes::RealOutcome>& outcomes,
                       const std::vector<Scenario>& candidates, const RealModelOptions& options) {
  std::vector<Scenario> dp, op;
  std::vector<double> dv, ov;
  for (std::size_t e = 0; e < outcomes.size(); ++e) {
    const PlanEpisodes::RealOutcome& o = outcomes[e];
    if (counted_of[e] < 0 || o.success < 0) continue;
    const Scenario& s = counted[counted_of[e]];
    op.push_back(s);
    ov.push_back(o.success);
    if (o.candidate >= 0 && o.rollouts > 0) {
      dp.push_back(s);
      dv.push_back(o.success - o.simulated_success);
    }
  }
  RealModel m;
  m.discrepancy = FitRealComponent(
      embedding, dp, dv, 0.0, candidates, options,
      "no counted episode with a known real outcome has a candidate within the coverage radius");
  m.outcome = FitRealComponent(embedding, op, ov, 0.5, candidates, options,
                               "no counted episode has a known real outcome");
  return m;
}

PlanRealModel RealModelSummary(const RealModel& model, const ScenarioSpace& space) {
  auto part = [&](const RealComponent& c) {
    PlanRealModel::Part p;
    p.estimated = c.estimated;
    p.why_not = c.why_not;
    p.points = c.points;
    if (!c.estimated) return p;
    p.fitted = c.fitted;
    for (int f = 0; f < space.dimension(); ++f) p.length[space.factor(f).name] = c.hyper.length[f];
    p.signal_var = c.hyper.signal_var;
    p.noise_var = c.hyper.noise_var;
    p.prior_mean = c.prior_mean;
    p.observed_mean = c.observed_mean;
    p.sd_max = c.sd_max;
    return p;
  };
  return {part(model.discrepancy), part(model.outcome)};
}

std::string RealModelReason(const RealModel& model, int i, double discrepancy_weight,
                            double outcome_weight, const RealEvidenceGain& evidence) {
  const double discrepancy_component = evidence.discrepancy(i);
  const double outcome_component = evidence.real_outcome(i);
  std::string out;
  if (model.discrepancy.estimated && discrepancy_weight > 0.0)
    out += "sim-to-real discrepancy " + Fmt("%+.2f", model.discrepancy.mean[i]) + " +- " +
           Fmt("%.2f", model.discrepancy.sd[i]) + " (discrepancy " +
           Fmt("%.2f", discrepancy_component) + ")";
  if (model.outcome.estimated && outcome_weight > 0.0)
    out += std::string(out.empty() ? "" : ", ") + "real success " +
           Fmt("%.2f", model.outcome.mean[i]) + " +- " + Fmt("%.2f", model.outcome.sd[i]) +
           " from real episodes alone (real_outcome " + Fmt("%.2f", outcome_component) + ")";
  if (evidence.counted(i) != RealEvidence::kNone)
    out += "; real-evidence term " + Fmt("%.2f", evidence.term(i)) + " from the " +
           RealEvidenceName(evidence.counted(i)) +
           " (the larger of weight x component: discrepancy " +
           Fmt("%.2f", discrepancy_weight * discrepancy_component) + ", real_outcome " +
           Fmt("%.2f", outcome_weight * outcome_component) + "; not their sum)";
  return out.empty() ? out : "; " + out;
}

std::vector<std::string> RealModelNotes(const RealModel& model, const ScenarioSpace& space,
                                        double discrepancy_weight, double outcome_weight) {
  auto how = [&](const RealComponent& c) {
    return std::to_string(c.points) + " points; " +
           (c.fitted ? std::string("hyperparameters fitted (maximum of the log marginal "
                                   "likelihood plus log-normal priors)")
                     : "fewer than 10 points: the default hyperparameters, not fitted") +
           ": length scales " + Lengths(c.hyper, space) +
           " (normalised factor units), signal "
           "variance " +
           Fmt("%.3g", c.hyper.signal_var) + ", noise variance " + Fmt("%.3g", c.hyper.noise_var) +
           "; the largest predictive sd among the candidates " + Fmt("%.3g", c.sd_max);
  };
  std::vector<std::string> notes;
  const RealComponent& d = model.discrepancy;
  if (d.estimated) {
    notes.push_back(
        "discrepancy: real success (0/1) minus the simulated success rate at the episode's "
        "nearest candidate, smoothed by a Gaussian process (Matern 5/2, prior mean 0); mean "
        "observed discrepancy " +
        Fmt("%+.3f", d.observed_mean) + " over " + how(d) +
        "; an item's discrepancy component is the predictive sd at it over the largest (weight " +
        FormatNumber(discrepancy_weight) + ")");
  } else {
    notes.push_back("discrepancy: not estimated (" + d.why_not +
                    "); the component is 0 for every item");
  }
  const RealComponent& o = model.outcome;
  if (o.estimated) {
    notes.push_back(
        "real_outcome: a Gaussian-process regression on the real episodes' 0/1 outcomes alone "
        "(Matern 5/2, prior mean 0.5; a regression, not a classifier: its mean is not a "
        "calibrated probability); observed success rate " +
        Fmt("%.3f", o.observed_mean) + " over " + how(o) +
        "; an item's real_outcome component is the predictive sd at it over the largest "
        "(weight " +
        FormatNumber(outcome_weight) + ")");
  } else {
    notes.push_back("real_outcome: not estimated (" + o.why_not +
                    "); the component is 0 for every item");
  }
  return notes;
}

nlohmann::json RealValuesToJson(const PlanRealValues& v) {
  nlohmann::json j = nlohmann::json::object();
  if (v.discrepancy) j["discrepancy"] = {{"mean", v.discrepancy_mean}, {"sd", v.discrepancy_sd}};
  if (v.outcome) j["outcome"] = {{"mean", v.outcome_mean}, {"sd", v.outcome_sd}};
  return j.empty() ? nlohmann::json() : j;
}

PlanRealValues RealValuesFromJson(const JsonReader& r, const std::string& key) {
  PlanRealValues v;
  if (!r.Has(key) || r.Raw(key).is_null()) return v;
  const JsonReader j = r.Object(key);
  auto part = [&](const char* name, bool* has, double* mean, double* sd) {
    if (!j.Has(name)) return;
    const JsonReader p = j.Object(name);
    *has = true;
    *mean = p.Number("mean");
    *sd = p.Number("sd");
    if (*sd < 0.0) ThrowExpected(p.Where("sd"), "a number >= 0", FormatNumber(*sd));
    p.CheckAllRead();
  };
  part("discrepancy", &v.discrepancy, &v.discrepancy_mean, &v.discrepancy_sd);
  part("outcome", &v.outcome, &v.outcome_mean, &v.outcome_sd);
  j.CheckAllRead();
  return v;
}

nlohmann::json RealModelToJson(const PlanRealModel& m) {
  auto part = [](const PlanRealModel::Part& p) {
    nlohmann::json j = {{"estimated", p.estimated}, {"points", p.points}};
    if (!p.estimated) {
      j["why_not"] = p.why_not;
      return j;
    }
    j["fitted"] = p.fitted;
    j["length"] = p.length;
    j["signal_var"] = p.signal_var;
    j["noise_var"] = p.noise_var;
    j["prior_mean"] = p.prior_mean;
    j["observed_mean"] = p.observed_mean;
    j["sd_max"] = p.sd_max;
    return j;
  };
  return {{"discrepancy", part(m.discrepancy)}, {"outcome", part(m.outcome)}};
}

PlanRealModel RealModelFromJson(const JsonReader& r, const std::string& key) {
  PlanRealModel m;
  if (!r.Has(key)) return m;
  const JsonReader j = r.Object(key);
  auto part = [&](const char* name) {
    PlanRealModel::Part p;
    const JsonReader o = j.Object(name);
    p.estimated = o.Bool("estimated", false);
    p.points = o.Integer("points");
    if (p.points < 0) ThrowExpected(o.Where("points"), "an integer >= 0", std::to_string(p.points));
    if (!p.estimated) {
      p.why_not = o.String("why_not");
    } else {
      p.fitted = o.Bool("fitted", false);
      const nlohmann::json& len = o.Raw("length");
      if (!len.is_object()) ThrowExpected(o.Where("length"), "{factor: length}", Describe(len));
      for (auto it = len.begin(); it != len.end(); ++it) {
        if (!it.value().is_number() || !(it.value().get<double>() > 0.0))
          ThrowExpected(o.Where("length") + "." + it.key(), "a positive length",
                        Describe(it.value()));
        p.length[it.key()] = it.value().get<double>();
      }
      p.signal_var = o.Number("signal_var");
      p.noise_var = o.Number("noise_var");
      p.prior_mean = o.Number("prior_mean");
      p.observed_mean = o.Number("observed_mean");
      p.sd_max = o.Number("sd_max");
    }
    o.CheckAllRead();
    return p;
  };
  m.discrepancy = part("discrepancy");
  m.outcome = part("outcome");
  j.CheckAllRead();
  return m;
}

FirstEpisodeScore::FirstEpisodeScore(std::vector<double> scores)
    : scores_(std::move(scores)), in_batch_(scores_.size(), 0) {
  for (std::size_t i = 0; i < scores_.size(); ++i)
    if (!(scores_[i] >= 0.0) || !std::isfinite(scores_[i]))
      ThrowExpected("score[" + std::to_string(i) + "]", "a score >= 0", FormatNumber(scores_[i]));
}

const char* RealEvidenceName(RealEvidence e) {
  switch (e) {
    case RealEvidence::kDiscrepancy:
      return "discrepancy";
    case RealEvidence::kRealOutcome:
      return "real_outcome";
    case RealEvidence::kNone:
      break;
  }
  return "none";
}

bool ParseRealEvidence(const std::string& name, RealEvidence* e) {
  for (RealEvidence c :
       {RealEvidence::kNone, RealEvidence::kDiscrepancy, RealEvidence::kRealOutcome})
    if (name == RealEvidenceName(c)) {
      *e = c;
      return true;
    }
  return false;
}

namespace {

// Per item, the larger of the weighted components, after checking both components and weights.
std::vector<double> LargerWeighted(const std::vector<double>& discrepancy,
                                   const std::vector<double>& real_outcome,
                                   double discrepancy_weight, double real_outcome_weight) {
  if (real_outcome.size() != discrepancy.size())
    ThrowExpected("real_outcome scores", std::to_string(discrepancy.size()) + " like discrepancy",
                  std::to_string(real_outcome.size()));
  for (double w : {discrepancy_weight, real_outcome_weight})
    if (!(w >= 0.0) || !std::isfinite(w))
      ThrowExpected("weights.discrepancy, weights.real_outcome", "weights >= 0", FormatNumber(w));
  std::vector<double> term(discrepancy.size());
  for (std::size_t i = 0; i < term.size(); ++i) {
    for (double s : {discrepancy[i], real_outcome[i]})
      if (!(s >= 0.0) || !std::isfinite(s))
        ThrowExpected("real-evidence score[" + std::to_string(i) + "]", "a score >= 0",
                      FormatNumber(s));
    term[i] = std::max(discrepancy_weight * discrepancy[i], real_outcome_weight * real_outcome[i]);
  }
  return term;
}

}  // namespace

RealEvidenceGain::RealEvidenceGain(std::vector<double> discrepancy,
                                   std::vector<double> real_outcome, double discrepancy_weight,
                                   double real_outcome_weight)
    : FirstEpisodeScore(
          LargerWeighted(discrepancy, real_outcome, discrepancy_weight, real_outcome_weight)),
      discrepancy_(std::move(discrepancy)),
      real_outcome_(std::move(real_outcome)),
      counted_(discrepancy_.size(), RealEvidence::kNone) {
  for (std::size_t i = 0; i < counted_.size(); ++i) {
    if (!(term(static_cast<int>(i)) > 0.0)) continue;
    counted_[i] = discrepancy_weight * discrepancy_[i] >= real_outcome_weight * real_outcome_[i]
                      ? RealEvidence::kDiscrepancy
                      : RealEvidence::kRealOutcome;
  }
}

}  // namespace nextbatch
