#include "planners/make_plan.h"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>

#include "engine/error.h"
#include "engine/posterior.h"
#include "planners/coverage.h"
#include "planners/gain.h"
#include "planners/information.h"
#include "planners/previous.h"
#include "planners/real_outcome_model.h"
#include "planners/rules.h"
#include "planners/safety.h"
#include "planners/schedule.h"
#include "planners/selection.h"
#include "planners/team_uncertainty.h"

namespace nextbatch {
namespace {

std::string Fmt(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, x);
  return buf;
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// What every candidate brings, before any selection.
struct CandidateFacts {
  double nearest = 0.0;  // distance to the nearest counted episode (normalised space)
  double mean_k = 0.0;   // mean distance to the k nearest
  double success = 0.0;  // simulated success rate
  double spread = 0.0;   // p (1 - p)
  int setup = -1;        // index into the plan's setups
  SafetyVerdict safety;  // judged only when the task has a safety rule
  bool judged = false;
};

// Setups: the distinct combinations of the setup-tagged factors' values, in order of first
// appearance among the candidates; each costs the sum of those factors' cost_seconds to set up.
struct Setups {
  std::vector<int> factors;  // setup-tagged factor indices
  double change_seconds = 0.0;
  std::vector<double> seconds;  // per setup
  std::vector<int> of;          // per candidate
};

Setups FindSetups(const ScenarioSpace& space, const std::vector<Scenario>& candidates) {
  Setups s;
  for (int f = 0; f < space.dimension(); ++f) {
    if (space.factor(f).tag == FactorTag::kSetup) {
      s.factors.push_back(f);
      s.change_seconds += space.factor(f).cost_seconds;
    }
  }
  s.of.assign(candidates.size(), -1);
  if (s.factors.empty()) return s;
  std::map<std::vector<double>, int> index;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    std::vector<double> key;
    for (int f : s.factors) key.push_back(candidates[i].values[f]);
    auto [it, added] = index.emplace(key, static_cast<int>(s.seconds.size()));
    if (added) s.seconds.push_back(s.change_seconds);
    s.of[i] = it->second;
  }
  return s;
}

std::string ScenarioText(const ScenarioSpace& space, const Scenario& s) {
  std::string out;
  for (int f = 0; f < space.dimension(); ++f) {
    const Factor& factor = space.factor(f);
    out += (f ? " " : "") + factor.name + "=" +
           (factor.numeric() ? Fmt("%.4g", s.values[f])
                             : factor.levels[static_cast<int>(s.values[f])].name);
  }
  return out;
}

std::map<std::string, double> PosteriorStds(const PlanInputs& in) {
  std::map<std::string, double> out;
  if (in.parameters.empty()) return out;
  const Posterior p =
      in.calibration ? PosteriorFromCalibration(*in.calibration, in.parameters,
                                                in.formal_posterior ? PosteriorCovariance::kFormal
                                                                    : PosteriorCovariance::kHonest)
                     : Posterior::FromSpecs(in.parameters);
  for (int j = 0; j < p.size(); ++j) out[p.names()[j]] = std::sqrt(p.covariance()(j, j));
  return out;
}

// The information component's inputs, over the parameters the posterior leaves uncertain
// (variance > 0): the posterior precision, each candidate's single-episode information and the
// between-episode floor, from the simulate set. `why_not` says why there are none.
struct InformationInputs {
  bool estimated = false;
  std::string why_not;
  // Whether its absence is a reason to doubt the plan (a failure, a mismatch) rather than the
  // study's own choice (no parameters, simulate.information false, nothing uncertain).
  bool doubt = false;
  std::vector<int> free;                // indices into the posterior's parameters
  std::vector<std::string> names;       // all the posterior's parameters
  Eigen::VectorXd std_before;           // all, sqrt of the posterior's variances
  Eigen::MatrixXd precision;            // free x free
  Eigen::MatrixXd floor;                // free x free
  std::vector<Eigen::MatrixXd> single;  // per candidate, free x free (zero when it has none)
  int missing = 0;                      // candidates without information
  // The calibration had no error model (a cold start): the set's information, computed as if the
  // residuals were independent at the stated noise, was divided by this (PlanOptions'
  // default_error_model); 0 when the calibration's own error model weighs it (simulate stage).
  double default_deflation = 0.0;
};

InformationInputs PlanInformation(const PlanInputs& in, const PlanOptions& options,
                                  const CandidateSet& set) {
  InformationInputs out;
  if (in.parameters.empty()) {
    out.why_not = "the study has no parameters";
    return out;
  }
  const Posterior p =
      in.calibration ? PosteriorFromCalibration(*in.calibration, in.parameters,
                                                in.formal_posterior ? PosteriorCovariance::kFormal
                                                                    : PosteriorCovariance::kHonest)
                     : Posterior::FromSpecs(in.parameters);
  out.names = p.names();
  out.std_before = p.covariance().diagonal().cwiseMax(0.0).cwiseSqrt();
  if (!set.has_information) {
    out.doubt = !in.information_off;
    out.why_not = in.information_off
                      ? "the study's simulate.information is false"
                      : "the simulate set holds no sensitivities (it was written before they "
                        "were computed)";
    return out;
  }
  if (set.parameters != p.names()) {
    out.doubt = true;
    out.why_not = "the simulate set's parameters (" + Join(set.parameters) +
                  ") are not the study's (" + Join(p.names()) + ")";
    return out;
  }
  for (int j = 0; j < p.size(); ++j)
    if (p.covariance()(j, j) > 0.0) out.free.push_back(j);
  if (out.free.empty()) {
    out.why_not = "no parameter is uncertain (every posterior variance is 0)";
    return out;
  }
  const int f = static_cast<int>(out.free.size());
  auto sub = [&](const Eigen::MatrixXd& m) {
    Eigen::MatrixXd s(f, f);
    for (int a = 0; a < f; ++a)
      for (int b = 0; b < f; ++b) s(a, b) = m(out.free[a], out.free[b]);
    return s;
  };
  const Eigen::MatrixXd cov = sub(p.covariance());
  out.precision = cov.completeOrthogonalDecomposition().pseudoInverse();
  out.precision = 0.5 * (out.precision + out.precision.transpose()).eval();
  out.floor = sub(set.information_floor);
  // The simulate stage divides by the calibration's s^2 x serial factor only when the calibration
  // has an error model (pipeline/stages.cc, the same calibration as in.calibration); otherwise the
  // stated default stands in for it, so that the gains and std_after are those of an honest fit.
  double deflation = 1.0;
  if (in.calibration == nullptr || !in.calibration->has_error_model) {
    deflation = options.default_error_model.Deflation();
    out.default_deflation = deflation;
  }
  for (const CandidateRecord& c : set.candidates) {
    if (c.information.size() == 0) {
      ++out.missing;
      out.single.push_back(Eigen::MatrixXd::Zero(f, f));
    } else {
      const Eigen::MatrixXd i = sub(c.information) / deflation;
      out.single.push_back(0.5 * (i + i.transpose()));
    }
  }
  if (out.missing == static_cast<int>(set.candidates.size())) {
    out.doubt = true;
    out.why_not = "no candidate has information (their mean-parameter episodes failed)";
    return out;
  }
  out.estimated = true;
  return out;
}

// Which rule chose an item and the numbers behind that choice.
std::string RuleReason(const PlanOptions& options, int i, const FailureGain* failure, int failures,
                       int rollouts, double gain) {
  switch (options.rule) {
    case PlanRule::kFailure: {
      std::string out = "rule failure: failure bound " + Fmt("%.3f", failure->bound(i)) + " (" +
                        std::to_string(failures) + " of " + std::to_string(rollouts) +
                        " samples failed; one-sided Clopper-Pearson at " +
                        FormatNumber(options.safety.confidence) + ")";
      if (failure->near(i) > 0)
        out += ", x" + FormatNumber(options.failure_discount) + " for each of " +
               std::to_string(failure->near(i)) +
               " earlier episode(s) within the coverage radius: gain " + Fmt("%.3f", gain);
      return out + "; ";
    }
    case PlanRule::kInformation:
      return "rule information: log-det gain " + Fmt("%.4g", gain) +
             " nats given the earlier picks; ";
    case PlanRule::kWeighted:
      break;
  }
  return "rule weighted: score " + Fmt("%.3f", gain) + "; ";
}

// Why an item is in the batch, in words with the numbers behind it.
std::string ItemReason(bool pinned, bool cold, const CandidateFacts& f, int k_near, double diameter,
                       double newly, const PlanComponents& c, int rollouts, bool has_setup,
                       double charged, double threshold) {
  std::string reason = pinned ? "pinned by the study; " : "";
  if (cold) {
    reason += "no recorded episode to compare with (cold start)";
  } else {
    reason += "nearest recorded episode " + Fmt("%.2f", f.nearest) + " away";
    if (k_near > 1)
      reason += ", " + std::to_string(k_near) + " nearest " + Fmt("%.2f", f.mean_k) + " on average";
    reason += " (normalised space, diameter " + Fmt("%.2f", diameter) + ")";
  }
  reason += ", covers " + Fmt("%.1f", 100.0 * newly) + "% of the space not yet covered (coverage " +
            Fmt("%.2f", c.coverage) + ")";
  reason += "; simulated success " + Fmt("%.2f", f.success) + " +- " +
            Fmt("%.2f", std::sqrt(f.spread)) + " over " + std::to_string(rollouts) +
            " samples (uncertainty " + Fmt("%.2f", c.uncertainty) + ")";
  if (has_setup) {
    reason += charged > 0.0 ? "; setup change " + FormatNumber(charged) + " s"
                            : "; its setup is already in the batch";
  }
  if (f.judged && f.safety.undecided) {
    reason += "; not shown safe: " + std::to_string(f.safety.violations) + " violations in " +
              std::to_string(f.safety.samples) + " samples, bound " + Fmt("%.2f", f.safety.upper) +
              " > " + FormatNumber(threshold);
  }
  return reason;
}

// Each episode's real outcome; for counted ones, the simulator's prediction at the nearest
// candidate within `radius` (normalised space) and whether it confidently contradicts.
std::vector<PlanEpisodes::RealOutcome> RealOutcomes(const PlanInputs& in,
                                                    const std::vector<int>& counted_of,
                                                    const std::vector<Scenario>& counted,
                                                    const FactorEmbedding& embedding,
                                                    const std::vector<Scenario>& cand,
                                                    double radius, double confidence) {
  const Neighbours near = NearestEpisodes(embedding, cand, counted, 1, in.threads);
  std::vector<PlanEpisodes::RealOutcome> out;
  for (std::size_t e = 0; e < in.episodes.size(); ++e) {
    const EpisodeScenario& ep = in.episodes[e];
    PlanEpisodes::RealOutcome o;
    o.id = ep.id;
    o.success = ep.outcome.success;
    o.source = ep.outcome.source;
    o.note = ep.outcome.note;
    const int k = counted_of[e];
    o.counted = k >= 0;
    if (k >= 0 && near.count > 0 && near.distance[k] <= radius) {
      const CandidateRecord& c = in.candidates->candidates[near.index[k]];
      o.candidate = c.index;
      o.distance = near.distance[k];
      o.simulated_success = c.success;
      o.rollouts = c.rollouts;
      if (o.success >= 0 && c.rollouts > 0) {
        const int successes = static_cast<int>(std::lround(c.success * c.rollouts));
        const int agreeing = o.success == 1 ? successes : c.rollouts - successes;
        o.contradicted = ViolationUpperBound(agreeing, c.rollouts, confidence) < 0.5;
      }
    }
    out.push_back(std::move(o));
  }
  return out;
}

// What the simulate stage's sequential safety samples added, from the candidate set.
std::string SafetySamplingNote(const CandidateSet& set) {
  if (!set.document.contains("safety_sampling"))
    return " (this candidate set was simulated without them)";
  int with = 0;
  long long extra = 0;
  for (const CandidateRecord& c : set.candidates) {
    if (c.safety_rollouts <= c.rollouts) continue;
    ++with;
    extra += c.safety_rollouts - c.rollouts;
  }
  return ": " + std::to_string(with) + " of " + std::to_string(set.candidates.size()) +
         " candidates drew " + std::to_string(extra) + " extra samples";
}

// How the estimates were made, in words, for the plan's notes.
std::vector<std::string> MethodNotes(const Plan& plan, const PlanOptions& options, double diameter,
                                     const CoverageOptions& copt, int sample_size,
                                     double spread_max, double change_seconds, bool safety_rule,
                                     const std::string& safety_sampling,
                                     const InformationInputs& info, double info_max) {
  std::vector<std::string> notes;
  switch (options.rule) {
    case PlanRule::kFailure:
      notes.push_back(
          "rule failure: one more episode of a candidate gains u x " +
          FormatNumber(options.failure_discount) +
          "^m, u the one-sided Clopper-Pearson upper bound at " +
          FormatNumber(options.safety.confidence) +
          " confidence on its failure rate over its simulated samples, m the batch's episodes "
          "within the coverage radius of it; the components below are reported, not used");
      break;
    case PlanRule::kInformation:
      notes.push_back(
          "rule information: the batch maximises the information gain alone (log det(P + I) - "
          "log det(P), P updated after each pick); the other components are reported, not used");
      break;
    case PlanRule::kWeighted:
      notes.push_back(
          "rule weighted: the batch maximises the weighted sum of the normalised components "
          "(coverage, information, uncertainty, and team when the study gives a table) plus one "
          "real-evidence term, the larger of weight x discrepancy and weight x real_outcome (not "
          "their sum: both measure how little real evidence lies near a candidate), each "
          "weight from planner.weights");
      break;
  }
  notes.push_back(
      "coverage: " + std::to_string(plan.episodes.counted) + " of " +
      std::to_string(plan.episodes.total) +
      " real episodes count (an episode counts when its scenario gives a valid value for every "
      "factor); distances in the normalised factor space (diameter " +
      Fmt("%.3g", diameter) + "), k = " + std::to_string(copt.k) + " nearest; the share of a " +
      std::to_string(sample_size) + "-point Sobol sample of the space within " +
      FormatNumber(copt.radius) +
      " x the diameter of an episode; an item's coverage component is its newly covered share "
      "over the best candidate's");
  notes.push_back(
      "uncertainty: the spread of the simulated outcome, the Bernoulli variance p (1 - p) of "
      "each candidate's success rate over its posterior samples (nuisance draws included), over "
      "the largest among the candidates (" +
      Fmt("%.3g", spread_max) + "); the discrepancy and real_outcome components below");
  if (info.estimated) {
    std::string free;
    for (int j : info.free) free += (free.empty() ? "" : ", ") + info.names[j];
    notes.push_back(
        "information: log det(P + I) - log det(P) over the uncertain parameters (" + free +
        "), P the posterior precision (the inverse of the covariance the candidates were "
        "simulated under), I a candidate's information from the simulate stage (the "
        "calibration's own routine on one episode simulated at the posterior mean, under " +
        (info.default_deflation > 0.0
             ? "the planner's default error model, since the calibration has none: the "
               "information of independent residuals at the stated noise divided by residual "
               "scale " +
                   FormatNumber(options.default_error_model.residual_scale) +
                   " x serial correlation " +
                   FormatNumber(std::max(1.0, options.default_error_model.serial_correlation)) +
                   " = " + FormatNumber(info.default_deflation) +
                   " (planner.default_error_model; defaults from the calibration bench, "
                   "docs/planning.md)"
             : std::string("the calibration's error model")) +
        "); n episodes of one scenario bring (B + (n I)^-1)^-1, B the "
        "between-episode floor of the simulate set; an item's information component is its "
        "gain over the best candidate's (" +
        Fmt("%.3g", info_max) + " nats)" +
        (info.missing > 0
             ? "; " + std::to_string(info.missing) + " candidates have no information (0)"
             : ""));
  } else {
    notes.push_back("information: not estimated (" + info.why_not +
                    "); the component is 0 for every item and the information weight has no "
                    "effect");
  }
  notes.push_back("cost: " + FormatNumber(options.episode_seconds) +
                  " s per episode; a setup enters the batch at a full change of its setup "
                  "factors (" +
                  FormatNumber(change_seconds) + " s); the batch is chosen by gain / cost^" +
                  FormatNumber(options.weights.cost) +
                  " (lazy greedy with the best single episode) within the budget");
  if (options.repeats_max > 1)
    notes.push_back(
        info.estimated
            ? "repeats: only the information component values a second episode of one scenario "
              "(coverage and the uncertainty score count its first); the between-episode floor "
              "bounds what repeats add"
            : "repeats: no estimated component values a second episode of one scenario "
              "(coverage and the uncertainty score count its first), so items have 1 episode "
              "while information is not estimated");
  if (safety_rule) {
    notes.push_back(
        "safety: a candidate is unsafe when the Clopper-Pearson bound on its "
        "violation rate at " +
        FormatNumber(options.safety.confidence) + " confidence exceeds " +
        FormatNumber(options.safety.threshold) +
        "; unsafe ones with a violation rate above the threshold are left out, "
        "those merely not shown safe for want of samples stay in, flagged in "
        "their reason; the simulate stage drew more samples, in rounds of K, for candidates "
        "whose bounds straddled the threshold, up to " +
        std::to_string(options.safety.max_samples) + " each" + safety_sampling);
  } else {
    notes.push_back("safety: the task has no safety rule; nothing was judged");
  }
  notes.push_back(
      !info.estimated
          ? "expected.std_before: the posterior stds the candidates were simulated under; "
            "std_after is not estimated (it needs the information component)"
      : info.default_deflation > 0.0
          ? "expected.std_before: the posterior stds the candidates were simulated under; "
            "std_after is not estimated at a cold start: no calibration has measured the error "
            "model yet, and the default one that ranks the information gains is no forecast of "
            "the stds an actual fit reaches (fits from few episodes far from the truth show "
            "residual scales and serial correlations orders of magnitude above it; "
            "docs/planning.md); the next round's plan, made from a calibration, forecasts them"
          : "expected.std_before: the posterior stds the candidates were simulated under; "
            "std_after: those of the precision P + the batch's information (repeats through "
            "the floor), parameters that are not uncertain unchanged");

  return notes;
}

}  // namespace

std::optional<Scenario> EpisodeToScenario(const ScenarioSpace& space,
                                          const nlohmann::json& scenario, std::string* reason) {
  Scenario s;
  s.values.resize(space.dimension());
  for (int f = 0; f < space.dimension(); ++f) {
    const Factor& factor = space.factor(f);
    if (!scenario.is_object() || !scenario.contains(factor.name)) {
      *reason = "its scenario has no value for factor '" + factor.name + "'";
      return std::nullopt;
    }
    const nlohmann::json& v = scenario.at(factor.name);
    if (factor.numeric()) {
      if (!v.is_number()) {
        *reason = "factor '" + factor.name + "' is " + Describe(v) + ", not a number";
        return std::nullopt;
      }
      s.values[f] = v.get<double>();
    } else {
      const int level = v.is_string() ? factor.FindLevel(v.get<std::string>()) : -1;
      if (level < 0) {
        *reason = "factor '" + factor.name + "' is " + Describe(v) + ", not one of its levels";
        return std::nullopt;
      }
      s.values[f] = level;
    }
  }
  if (std::string bad = space.Check(s); !bad.empty()) {
    *reason = "its scenario lies outside the space: " + bad;
    return std::nullopt;
  }
  return s;
}

Plan MakePlan(const PlanInputs& in, const PlanOptions& options) {
  if (std::string e = options.Validate(); !e.empty()) throw InputError(e);
  if (std::string e = in.space.Validate(); !e.empty()) throw InputError(e);
  if (in.candidates == nullptr || in.candidates->candidates.empty())
    ThrowExpected("plan: candidates", "at least one simulated candidate", "none");
  const ScenarioSpace& space = in.space;
  const CandidateSet& set = *in.candidates;
  std::vector<std::string> factor_names;
  for (const Factor& f : space.factors()) factor_names.push_back(f.name);
  if (set.factors != factor_names)
    ThrowExpected("candidates.json: factors", "the study's factors (" + Join(factor_names) + ")",
                  "(" + Join(set.factors) + ")");

  const int n = static_cast<int>(set.candidates.size());
  std::vector<Scenario> cand(n);
  std::map<std::int64_t, int> position;
  for (int i = 0; i < n; ++i) {
    const CandidateRecord& c = set.candidates[i];
    cand[i] = space.FromJson(c.scenario, "candidates.jsonl: candidate " + std::to_string(c.index));
    position[c.index] = i;
  }
  auto positions = [&](const std::vector<std::int64_t>& list, const char* key) {
    std::vector<char> mark(n, 0);
    for (std::int64_t index : list) {
      auto it = position.find(index);
      if (it == position.end())
        ThrowExpected(std::string("planner.") + key,
                      "indices of simulated candidates (" + std::to_string(n) + " candidates)",
                      std::to_string(index));
      mark[it->second] = 1;
    }
    return mark;
  };
  const std::vector<char> pinned = positions(options.pinned, "pinned");
  const std::vector<char> excluded = positions(options.excluded, "excluded");

  Plan plan;
  plan.study = in.study;
  plan.seed = in.seed;
  plan.candidates = n;
  if (set.document.contains("posterior_samples") &&
      set.document.at("posterior_samples").is_number_integer())
    plan.posterior_samples = set.document.at("posterior_samples").get<int>();
  plan.rule = RuleName(options.rule);
  plan.weights.coverage = options.weights.coverage;
  plan.weights.uncertainty = options.weights.uncertainty;
  plan.weights.information = options.weights.information;
  plan.weights.cost = options.weights.cost;
  plan.weights.discrepancy = options.weights.discrepancy;
  plan.weights.real_outcome = options.weights.real_outcome;

  // The real episodes that count for coverage.
  std::vector<Scenario> counted;
  std::vector<int> counted_of;  // per episode: its index in counted, -1 when not counted
  plan.episodes.total = static_cast<int>(in.episodes.size());
  for (const EpisodeScenario& e : in.episodes) {
    std::string reason;
    counted_of.push_back(-1);
    if (std::optional<Scenario> s = EpisodeToScenario(space, e.scenario, &reason)) {
      counted_of.back() = static_cast<int>(counted.size());
      counted.push_back(*s);
    } else {
      plan.episodes.not_counted.push_back({e.id, reason});
    }
  }
  plan.episodes.counted = static_cast<int>(counted.size());

  // Coverage.
  CoverageOptions copt = options.coverage;
  copt.seed = in.seed;
  copt.num_threads = in.threads;
  const FactorEmbedding embedding(space, copt.categorical_distance);
  const double radius = copt.radius * embedding.Diameter();
  const Neighbours near = NearestEpisodes(embedding, counted, cand, copt.k, in.threads);
  const std::vector<Scenario> sample = CoverageSample(space, copt);
  CoverageGain coverage(embedding, counted, cand, sample, radius, in.threads);
  double coverage_max = 0.0;
  std::vector<double> coverage_first(n);
  for (int i = 0; i < n; ++i) {
    coverage_first[i] = coverage.Gain(i);
    coverage_max = std::max(coverage_max, coverage_first[i]);
  }

  // Uncertainty and safety.
  std::vector<CandidateFacts> facts(n);
  const Setups setups = FindSetups(space, cand);
  double spread_max = 0.0;
  for (int i = 0; i < n; ++i) {
    const CandidateRecord& c = set.candidates[i];
    CandidateFacts& f = facts[i];
    if (near.count > 0) {
      f.nearest = near.distance[static_cast<std::size_t>(i) * near.count];
      double sum = 0.0;
      for (int k = 0; k < near.count; ++k)
        sum += near.distance[static_cast<std::size_t>(i) * near.count + k];
      f.mean_k = sum / near.count;
    }
    f.success = c.success;
    f.spread = c.success * (1.0 - c.success);
    spread_max = std::max(spread_max, f.spread);
    f.setup = setups.of[i];
    if (in.safety_rule && c.safety_rollouts > 0) {
      // every rollout that judged safety, the simulate stage's sequential samples included
      f.safety = JudgeSafety(c.safety_violations, c.safety_rollouts, options.safety);
      f.judged = true;
    }
  }
  std::vector<double> scores(n, 0.0);
  if (spread_max > 0.0)
    for (int i = 0; i < n; ++i) scores[i] = facts[i].spread / spread_max;

  // Information.
  const InformationInputs info = PlanInformation(in, options, set);
  std::unique_ptr<InformationGain> information;
  double info_max = 0.0;
  if (info.estimated) {
    information = std::make_unique<InformationGain>(info.precision, info.single, info.floor);
    for (int i = 0; i < n; ++i) info_max = std::max(info_max, information->Gain(i));
  }

  WeightedGain acquisition;
  acquisition.Add(&coverage, coverage_max > 0.0 ? options.weights.coverage / coverage_max : 0.0,
                  "coverage");
  if (information)
    acquisition.Add(information.get(),
                    info_max > 0.0 ? options.weights.information / info_max : 0.0, "information");
  // the team's uncertainty: the nearest row's variance, over the largest among the candidates
  std::vector<double> team_variance, team_scores;
  std::unique_ptr<ScoreGain> team;
  const int team_component = acquisition.components();
  if (in.team && in.team_variance)
    ThrowExpected("plan inputs: team", "a table or a callback of the team's uncertainty", "both");
  if (in.team_variance) {
    for (int i = 0; i < n; ++i) {
      const double v = in.team_variance(cand[i]);
      if (!std::isfinite(v) || v < 0.0)
        ThrowExpected(
            "plan inputs: team_variance(candidate " + std::to_string(set.candidates[i].index) + ")",
            "a finite variance >= 0", FormatNumber(v));
      team_variance.push_back(v);
    }
  } else if (in.team) {
    team_variance = TeamVarianceAt(*in.team, embedding, cand, in.threads);
  }
  if (in.team || in.team_variance) {
    const double top = *std::max_element(team_variance.begin(), team_variance.end());
    team_scores.assign(n, 0.0);
    if (top > 0.0)
      for (int i = 0; i < n; ++i) team_scores[i] = team_variance[i] / top;
    team = std::make_unique<ScoreGain>(team_scores);
    acquisition.Add(team.get(), options.weights.team, "team");
  }
  // Uncertainty components (2) and (3), from the real outcomes.
  plan.episodes.outcomes =
      RealOutcomes(in, counted_of, counted, embedding, cand, radius, options.safety.confidence);
  RealModelOptions ropt;
  ropt.seed = in.seed;
  const RealModel real =
      FitRealModel(embedding, counted, counted_of, plan.episodes.outcomes, cand, ropt);
  plan.real_model = RealModelSummary(real, space);
  // One real-evidence term, the larger of the two weighted components, not their sum: both say
  // how little real evidence lies near a candidate (docs/planning.md).
  RealEvidenceGain evidence(real.discrepancy.Scores(), real.outcome.Scores(),
                            options.weights.discrepancy, options.weights.real_outcome);
  acquisition.Add(&evidence, 1.0, "real_evidence");
  const int score_component = acquisition.components();
  acquisition.SetScores(scores, options.weights.uncertainty, "uncertainty");

  // The rule the batch is selected by; the weighted components are reported for every rule.
  GainFunction* rule = &acquisition;
  std::unique_ptr<FailureGain> failure;
  std::vector<int> failures(n, 0);
  if (options.rule == PlanRule::kFailure) {
    std::vector<double> bounds(n);
    for (int i = 0; i < n; ++i) {
      const CandidateRecord& c = set.candidates[i];
      failures[i] = c.rollouts - static_cast<int>(std::lround(c.success * c.rollouts));
      bounds[i] = FailureBound(failures[i], c.rollouts, options.safety.confidence);
    }
    failure = std::make_unique<FailureGain>(
        std::move(bounds), CandidateNeighbourhoods(embedding, cand, radius, in.threads),
        options.failure_discount);
    rule = failure.get();
  } else if (options.rule == PlanRule::kInformation) {
    if (!information)
      ThrowExpected("planner.rule",
                    "\"information\" with the candidates' information about the parameters",
                    "none: " + info.why_not);
    rule = information.get();
  }

  // Selection items; unsafe candidates stay out unless pinned.
  std::vector<SelectionItem> items(n);
  int unsafe_out = 0, undecided = 0;
  for (int i = 0; i < n; ++i) {
    SelectionItem& it = items[i];
    it.episode_seconds = options.episode_seconds;
    it.setup = facts[i].setup;
    it.max_repeats = options.repeats_max;
    it.pinned = pinned[i] ? 1 : 0;
    it.excluded = excluded[i] != 0;
    const SafetyVerdict& v = facts[i].safety;
    if (facts[i].judged && v.unsafe && !v.undecided) {
      plan.unsafe.push_back({set.candidates[i].index, cand[i], v.violations, v.samples, v.upper});
      if (!pinned[i]) {
        it.excluded = true;
        ++unsafe_out;
      } else {
        plan.warnings.push_back("pinned candidate " + std::to_string(set.candidates[i].index) +
                                " is unsafe by its bound (" + std::to_string(v.violations) +
                                " violations in " + std::to_string(v.samples) + " samples, bound " +
                                Fmt("%.3g", v.upper) + " > " +
                                FormatNumber(options.safety.threshold) +
                                ") and stays in the batch because the study pins it");
      }
    }
    if (facts[i].judged && v.undecided) ++undecided;
  }

  // The budget must pay for the pinned episodes and for at least the cheapest selectable one.
  double cheapest = -1.0;
  std::vector<int> pinned_repeats(n, 0);
  for (int i = 0; i < n; ++i) {
    pinned_repeats[i] = items[i].pinned;
    if (items[i].excluded) continue;
    const double c =
        options.episode_seconds + (items[i].setup >= 0 ? setups.seconds[items[i].setup] : 0.0);
    if (cheapest < 0.0 || c < cheapest) cheapest = c;
  }
  const double pinned_seconds = BatchSeconds(items, setups.seconds, pinned_repeats);
  if (pinned_seconds > options.budget_seconds)
    ThrowExpected("planner.budget_seconds",
                  "at least the pinned episodes' " + FormatNumber(pinned_seconds) + " s",
                  FormatNumber(options.budget_seconds));
  if (cheapest >= 0.0 && options.budget_seconds < cheapest)
    ThrowExpected(
        "planner.budget_seconds",
        "at least the cheapest episode with its setup change (" + FormatNumber(cheapest) + " s)",
        FormatNumber(options.budget_seconds));

  Selection selection;
  selection.repeats.assign(n, 0);
  if (cheapest >= 0.0) {
    SelectionOptions so;
    so.budget_seconds = options.budget_seconds;
    so.cost_exponent = options.weights.cost;
    selection = SelectBatch(*rule, items, setups.seconds, so);
  }

  // Replay the picks to take each item's components as the acquisition saw them.
  acquisition.Reset();
  if (failure) failure->Reset();
  std::vector<int> order;
  std::vector<PlanItem> by_candidate(n);
  std::vector<char> setup_in(setups.seconds.size(), 0), seen(n, 0);
  for (int i : selection.picks) {
    if (!seen[i]) {
      seen[i] = 1;
      order.push_back(i);
      PlanItem& item = by_candidate[i];
      item.score = rule->Gain(i);
      item.components.coverage =
          coverage_max > 0.0 ? acquisition.ComponentGain(0, i) / coverage_max : 0.0;
      item.components.uncertainty = acquisition.ComponentGain(score_component, i);
      item.components.information =
          information && info_max > 0.0 ? acquisition.ComponentGain(1, i) / info_max : 0.0;
      item.components.discrepancy = evidence.discrepancy(i);
      item.components.real_outcome = evidence.real_outcome(i);
      item.real_evidence = RealEvidenceName(evidence.counted(i));
      item.real = {real.discrepancy.estimated, real.discrepancy.mean[i], real.discrepancy.sd[i],
                   real.outcome.estimated,     real.outcome.mean[i],     real.outcome.sd[i]};
      const int s = items[i].setup;
      double charged = 0.0;
      if (s >= 0 && !setup_in[s]) charged = setups.seconds[s];
      if (s >= 0) setup_in[s] = 1;
      item.components.cost = charged;  // the episodes are added below, once repeats are known
      if (team) item.components.team = acquisition.ComponentGain(team_component, i);
      const double newly = sample.empty() ? 0.0 : acquisition.ComponentGain(0, i) / sample.size();

      // a pinned item is the study's choice, not the rule's
      if (!pinned[i])
        item.reason = RuleReason(options, i, failure.get(), failures[i], set.candidates[i].rollouts,
                                 item.score);
      item.reason += ItemReason(
          pinned[i] != 0, counted.empty(), facts[i], near.count, embedding.Diameter(), newly,
          item.components, set.candidates[i].rollouts, s >= 0, charged, options.safety.threshold);
      if (team)
        item.reason += "; the team's variance " + Fmt("%.3g", team_variance[i]) +
                       (in.team ? " at the nearest row of its table" : " from its callback") +
                       " (team " + Fmt("%.2f", item.components.team) + ")";
      item.reason += RealModelReason(real, i, options.weights.discrepancy,
                                     options.weights.real_outcome, evidence);
      if (information) {
        const Informs most = MostInformed(information->precision(), info.single[i]);
        if (most.parameter >= 0) {
          item.informs = info.names[info.free[most.parameter]];
          item.reason += "; informs " + item.informs + " most (one episode shrinks its variance " +
                         Fmt("%.1f", 100.0 * most.reduction[most.parameter]) + "%; information " +
                         Fmt("%.2f", item.components.information) + ")";
        } else {
          item.reason += "; adds no information about the parameters";
        }
      }
    }
    acquisition.Commit(i);
    if (failure) failure->Commit(i);
  }

  for (std::size_t r = 0; r < order.size(); ++r) {
    const int i = order[r];
    PlanItem item = by_candidate[i];
    item.rank = static_cast<int>(r) + 1;
    item.candidate = set.candidates[i].index;
    item.item_id = ItemId(space, cand[i], in.seed);
    item.scenario = cand[i];
    item.repeats = selection.repeats[i];
    item.est_seconds = item.repeats * options.episode_seconds;
    item.components.cost += item.est_seconds;
    item.simulated_success = facts[i].success;
    if (item.repeats > 1) item.reason += "; " + std::to_string(item.repeats) + " episodes";
    plan.items.push_back(std::move(item));
  }

  // Schedule.
  const std::vector<Robot> robots = PlanRobots(options);
  if (!plan.items.empty()) {
    std::vector<ScheduleItem> sitems;
    for (std::size_t r = 0; r < order.size(); ++r)
      sitems.push_back({items[order[r]].setup, plan.items[r].est_seconds});
    const Schedule schedule = MakeSchedule(sitems, setups.seconds, robots);
    for (const Session& s : schedule.sessions) {
      PlanSession ps;
      ps.robot = robots[s.robot].name;
      ps.start_s = s.start;
      ps.end_s = s.end;
      ps.setup_seconds = s.setup >= 0 ? setups.seconds[s.setup] : 0.0;
      for (int it : s.items) {
        ps.items.push_back(plan.items[it].item_id);
        plan.items[it].session = static_cast<int>(plan.sessions.size());
      }
      plan.sessions.push_back(std::move(ps));
    }
    if (!schedule.unscheduled.empty())
      plan.warnings.push_back(std::to_string(schedule.unscheduled.size()) + " of " +
                              std::to_string(plan.items.size()) +
                              " items fit no robot's availability window (session -1)");
  }

  // Budget and what the batch is expected to change.
  plan.budget.seconds = options.budget_seconds;
  plan.budget.used_seconds = selection.seconds;
  for (std::size_t s = 0; s < setups.seconds.size(); ++s)
    if (setup_in[s]) plan.budget.setup_seconds += setups.seconds[s];
  plan.expected.coverage_before = DatasetCoverage(space, counted, copt).share;
  std::vector<Scenario> after = counted;
  for (const PlanItem& item : plan.items) after.push_back(item.scenario);
  plan.expected.coverage_after = DatasetCoverage(space, after, copt).share;
  plan.expected.std_before = PosteriorStds(in);
  // A cold start's forecast is not given: its error model is a default, and the fits it would
  // forecast are where real error models vary most (docs/planning.md: a round-0 batch's fit had
  // honest variances 5 x 10^4 to 3 x 10^5 times the white-noise forecast on the shipped campaign
  // worlds, the bench's correct models 16); the gains' ranking still uses the default.
  if (information && info.default_deflation == 0.0) {
    // The acquisition has every pick committed: its precision is the batch's.
    const Eigen::VectorXd after = PosteriorStd(information->precision());
    for (std::size_t j = 0; j < info.names.size(); ++j)
      plan.expected.std_after[info.names[j]] = info.std_before[j];
    for (std::size_t a = 0; a < info.free.size(); ++a)
      plan.expected.std_after[info.names[info.free[a]]] = after[a];
  }
  for (const PlanItem& item : plan.items) {
    const int i = position.at(item.candidate);
    if (facts[i].success < 0.5)
      plan.expected.failure_modes.push_back(
          "item " + item.item_id + " (rank " + std::to_string(item.rank) +
          "): the simulator expects failure, success " + Fmt("%.2f", facts[i].success) + " over " +
          std::to_string(set.candidates[i].rollouts) + " samples");
  }

  // What is not estimated, how the rest was, and the reasons for doubt.
  // The uncertainty components not estimated, in words, for the "not estimated yet" line.
  std::vector<std::string> missing;
  if (!real.discrepancy.estimated) {
    plan.not_estimated.push_back("uncertainty.discrepancy");
    missing.push_back("the sim-to-real discrepancy");
  }
  if (!real.outcome.estimated) {
    plan.not_estimated.push_back("uncertainty.outcome_model");
    missing.push_back("an outcome model from real episodes");
  }
  if (!team) {
    plan.not_estimated.push_back("uncertainty.team");
    missing.push_back("the team's uncertainty");
  } else if (!in.team) {
    plan.weights.team = options.weights.team;
    plan.notes.push_back(
        "uncertainty.team: the team's own variance from a callback (PlanInputs::team_variance) at "
        "each candidate's scenario, over the largest among the candidates; counts for an item's "
        "first episode");
  } else {
    plan.weights.team = options.weights.team;
    plan.notes.push_back(
        "uncertainty.team: the team's own variance from " + std::to_string(in.team->points.size()) +
        " rows, each candidate taking the nearest row's (normalised factor space), over the "
        "largest among the candidates; counts for an item's first episode");
  }
  if (!info.estimated) {
    plan.not_estimated.insert(plan.not_estimated.begin(), "information");
    plan.not_estimated.push_back("expected.std_after");
  } else if (info.default_deflation > 0.0) {
    plan.not_estimated.push_back("expected.std_after");
  }
  const std::vector<std::string> notes = MethodNotes(
      plan, options, embedding.Diameter(), copt, static_cast<int>(sample.size()), spread_max,
      setups.change_seconds, in.safety_rule, SafetySamplingNote(set), info, info_max);
  plan.notes.insert(plan.notes.end(), notes.begin(), notes.end());
  const std::vector<std::string> real_notes =
      RealModelNotes(real, space, options.weights.discrepancy, options.weights.real_outcome);
  // after the uncertainty note, the second of the method notes
  plan.notes.insert(plan.notes.end() - static_cast<std::ptrdiff_t>(notes.size() - 2),
                    real_notes.begin(), real_notes.end());

  std::vector<std::string> warnings;
  if (options.rule == PlanRule::kInformation && in.calibration == nullptr) {
    // the sensitivities were computed at the priors' means, which may lie far from the truth
    warnings.push_back(
        "rule information without a calibration: the gains are measured against the priors' "
        "precision at the priors' means; what the batch teaches at the true parameters may "
        "differ");
  }
  if (counted.empty()) {
    warnings.push_back(
        "cold start: no real episode counts for coverage (" + std::to_string(plan.episodes.total) +
        " in the dataset): every candidate is equally uncovered and the plan rests on the "
        "simulator and its " +
        std::string(in.calibration ? "calibration" : "priors") + " alone");
  }
  if (!plan.episodes.not_counted.empty() && !counted.empty()) {
    warnings.push_back(
        std::to_string(plan.episodes.not_counted.size()) + " of " +
        std::to_string(plan.episodes.total) + " episodes do not count for coverage, e.g. " +
        plan.episodes.not_counted[0].id + ": " + plan.episodes.not_counted[0].reason);
  } else if (!plan.episodes.not_counted.empty()) {
    warnings.push_back("no episode counts for coverage, e.g. " + plan.episodes.not_counted[0].id +
                       ": " + plan.episodes.not_counted[0].reason);
  }
  if (unsafe_out > 0) {
    // the safety rule did its work: a stated fact, not a reason to doubt the plan
    plan.notes.push_back(std::to_string(unsafe_out) + " of " + std::to_string(n) +
                         " candidates left out as unsafe (violation bound above " +
                         FormatNumber(options.safety.threshold) + " at " +
                         FormatNumber(options.safety.confidence) +
                         " confidence; listed in 'unsafe')");
  }
  if (undecided > 0) {
    int in_batch = 0;
    for (int i : order) in_batch += facts[i].judged && facts[i].safety.undecided ? 1 : 0;
    warnings.push_back(std::to_string(undecided) + " of " + std::to_string(n) +
                       " candidates could not be shown safe with their samples (bound above " +
                       FormatNumber(options.safety.threshold) + "); " + std::to_string(in_batch) +
                       " of them are in the batch: check them before running them");
  }
  // Budget left: a reason for doubt when episodes that fit were passed over for adding nothing.
  const double left = options.budget_seconds - plan.budget.used_seconds;
  int fit = 0;
  double cheapest_left = -1.0;
  for (int i = 0; i < n; ++i) {
    if (items[i].excluded || selection.repeats[i] >= items[i].max_repeats) continue;
    const int s = items[i].setup;
    const double c = options.episode_seconds + (s >= 0 && !setup_in[s] ? setups.seconds[s] : 0.0);
    if (c <= left) ++fit;
    if (cheapest_left < 0.0 || c < cheapest_left) cheapest_left = c;
  }
  if (fit > 0) {
    warnings.push_back(FormatNumber(left) + " s of the " + FormatNumber(options.budget_seconds) +
                       " s budget left unused: the " + std::to_string(fit) +
                       " candidate(s) that still fit add nothing to the acquisition");
  } else if (cheapest_left >= 0.0 && left > 0.0) {
    plan.notes.push_back("budget: " + FormatNumber(left) +
                         " s left, less than the cheapest remaining candidate's " +
                         FormatNumber(cheapest_left) + " s");
  }
  // What the planner cannot estimate yet is a stated fact (a note, and in not_estimated); a
  // component missing because something failed is a reason to doubt the plan (a warning).
  if (info.estimated) {
    if (!missing.empty()) plan.notes.push_back("not estimated yet: " + Join(missing));
    if (info.missing > 0)
      warnings.push_back(std::to_string(info.missing) + " of " + std::to_string(n) +
                         " candidates have no information about the parameters (counted as 0)");
  } else {
    missing.insert(missing.begin(), "information gain (" + info.why_not + "; component 0, weight " +
                                        FormatNumber(options.weights.information) +
                                        " without effect)");
    missing.push_back("parameter stds after the batch");
    (info.doubt ? warnings : plan.notes).push_back("not estimated yet: " + Join(missing));
  }
  for (const PlanEpisodes::RealOutcome& o : plan.episodes.outcomes) {
    if (!o.contradicted) continue;
    plan.warnings.push_back(
        "verify episode " + o.id + ": recorded " + (o.success == 1 ? "success" : "failure") + " (" +
        o.source + "), but the simulator at the nearest candidate (" + std::to_string(o.candidate) +
        ", " + Fmt("%.2f", o.distance) + " away) predicts success " +
        Fmt("%.2f", o.simulated_success) + " over " + std::to_string(o.rollouts) + " samples");
  }
  plan.warnings.insert(plan.warnings.begin(), warnings.begin(), warnings.end());

  if (in.previous) {
    std::vector<CollectedEpisode> collected;
    for (std::size_t e = 0; e < in.episodes.size(); ++e) {
      const EpisodeScenario& ep = in.episodes[e];
      CollectedEpisode c{ep.id, ep.item_id, std::nullopt, ep.outcome.success};
      if (counted_of[e] >= 0) c.scenario = counted[counted_of[e]];
      collected.push_back(std::move(c));
    }
    plan.previous = CheckPrevious(*in.previous, plan, collected, embedding, radius);
  }
  return plan;
}

namespace {

// One line for the counted episodes and one for the others, e.g. "real outcomes, counted
// episodes: 2 of 2 known, 2 succeeded: energy success (log, sim 0.62), ...".
std::string RealOutcomeText(const std::vector<PlanEpisodes::RealOutcome>& outcomes) {
  if (outcomes.empty()) return "";
  auto list = [&](bool counted) {
    int known = 0, succeeded = 0, total = 0;
    std::string each;
    for (const auto& o : outcomes) {
      if (o.counted != counted) continue;
      ++total;
      known += o.success >= 0 ? 1 : 0;
      succeeded += o.success == 1 ? 1 : 0;
      each += (each.empty() ? "" : ", ") + o.id + " " +
              (o.success < 0 ? std::string("unknown")
                             : (o.success ? "success" : "failure") + std::string(" (") + o.source +
                                   (o.candidate >= 0 ? ", sim " + Fmt("%.2f", o.simulated_success)
                                                     : std::string()) +
                                   (o.contradicted ? ", VERIFY" : "") + ")");
    }
    return std::to_string(known) + " of " + std::to_string(total) + " known, " +
           std::to_string(succeeded) + " succeeded" + (each.empty() ? "" : ": " + each);
  };
  std::string out = "real outcomes, counted episodes: " + list(true) + "\n";
  if (std::any_of(outcomes.begin(), outcomes.end(), [](const auto& o) { return !o.counted; }))
    out += "real outcomes, not counted: " + list(false) + "\n";
  return out;
}

// One line on the real-outcome models, e.g. "real-outcome models: discrepancy from 2 episodes
// (default hyperparameters: fewer than 10), mean +0.44; outcome from 2 episodes (...), 1.00".
std::string RealModelText(const PlanRealModel& m) {
  auto part = [](const char* name, const PlanRealModel::Part& p, const char* format) {
    if (!p.estimated) return std::string(name) + " not estimated";
    return std::string(name) + " from " + std::to_string(p.points) + " episode(s) (" +
           (p.fitted ? "fitted" : "default hyperparameters: fewer than 10") + "), observed " +
           Fmt(format, p.observed_mean) + ", largest sd " + Fmt("%.2f", p.sd_max);
  };
  if (!m.discrepancy.estimated && !m.outcome.estimated) return "";
  return "real-outcome models: " + part("discrepancy", m.discrepancy, "%+.2f") + "; " +
         part("success", m.outcome, "%.2f") + "\n";
}

}  // namespace

std::string PlanSummaryText(const Plan& plan, const ScenarioSpace& space) {
  std::string out;
  int episodes = 0;
  for (const PlanItem& it : plan.items) episodes += it.repeats;
  std::vector<std::string> robots;
  for (const PlanSession& s : plan.sessions)
    if (std::find(robots.begin(), robots.end(), s.robot) == robots.end()) robots.push_back(s.robot);
  char line[512];
  std::snprintf(line, sizeof(line),
                "plan: %zu items (%d episodes) from %lld candidates, %zu sessions on %zu "
                "robot(s); %s of %s s used (setup changes %s s)\n",
                plan.items.size(), episodes, static_cast<long long>(plan.candidates),
                plan.sessions.size(), robots.size(), FormatNumber(plan.budget.used_seconds).c_str(),
                FormatNumber(plan.budget.seconds).c_str(),
                FormatNumber(plan.budget.setup_seconds).c_str());
  out += line;
  std::snprintf(line, sizeof(line),
                "coverage: %.1f%% of the space before the batch, %.1f%% after (%d of %d episodes "
                "counted)\n",
                100.0 * plan.expected.coverage_before, 100.0 * plan.expected.coverage_after,
                plan.episodes.counted, plan.episodes.total);
  out += line;
  out += RealOutcomeText(plan.episodes.outcomes);
  if (!plan.expected.std_after.empty()) {
    out += "parameter stds before -> after the batch:";
    for (const auto& [name, before] : plan.expected.std_before) {
      const auto after = plan.expected.std_after.find(name);
      if (after == plan.expected.std_after.end()) continue;
      out += " " + name + " " + Fmt("%.3g", before) + " -> " + Fmt("%.3g", after->second) + ";";
    }
    out.back() = '\n';
  }
  out += RealModelText(plan.real_model);
  out +=
      "rank  item_id           rep  score  cover  uncert  inform  discr  realo  est_s  session  "
      "scenario\n";
  const std::size_t shown = std::min<std::size_t>(plan.items.size(), 15);
  for (std::size_t r = 0; r < shown; ++r) {
    const PlanItem& it = plan.items[r];
    const std::string session =
        it.session >= 0 ? std::to_string(it.session) + " " + plan.sessions[it.session].robot : "-";
    std::snprintf(line, sizeof(line),
                  "%4d  %s  %3d  %5.2f  %5.2f  %6.2f  %6.2f  %5.2f  %5.2f  %5.0f  %-7s  %s\n",
                  it.rank, it.item_id.c_str(), it.repeats, it.score, it.components.coverage,
                  it.components.uncertainty, it.components.information, it.components.discrepancy,
                  it.components.real_outcome, it.est_seconds, session.c_str(),
                  ScenarioText(space, it.scenario).c_str());
    out += line;
  }
  if (plan.items.size() > shown)
    out += "  ... " + std::to_string(plan.items.size() - shown) + " more in plan.csv\n";
  if (!plan.unsafe.empty())
    out += "unsafe candidates left out: " + std::to_string(plan.unsafe.size()) + "\n";
  if (!plan.not_estimated.empty()) out += "not estimated: " + Join(plan.not_estimated) + "\n";
  out += PreviousSummaryText(plan.previous);
  return out;
}

}  // namespace nextbatch
