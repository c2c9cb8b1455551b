#include "planners/plan_json.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/atomic_file.h"
#include "engine/digest.h"
#include "engine/error.h"
#include "engine/json_reader.h"
#include "planners/real_outcome_model.h"

namespace nextbatch {

std::string ItemId(const ScenarioSpace& space, const Scenario& scenario, std::uint64_t seed) {
  const std::string text = space.ToJson(scenario).dump() + "#" + std::to_string(seed);
  return ShortHash(text);
}

namespace {

// Standard deviations may be infinite (a parameter the data does not determine): null in JSON.
nlohmann::json StdMap(const std::map<std::string, double>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, v] : m) j[name] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
  return j;
}

std::map<std::string, double> ReadStdMap(const JsonReader& r, const std::string& key) {
  const nlohmann::json& j = r.Raw(key);
  if (!j.is_object()) ThrowExpected(r.Where(key), "an object {parameter: std}", Describe(j));
  std::map<std::string, double> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_null()) {
      out[it.key()] = std::numeric_limits<double>::infinity();
    } else if (it.value().is_number() && it.value().get<double>() >= 0.0) {
      out[it.key()] = it.value().get<double>();
    } else {
      ThrowExpected(r.Where(key) + "." + it.key(), "a std >= 0 or null", Describe(it.value()));
    }
  }
  return out;
}

double NonNegative(const JsonReader& r, const std::string& key) {
  const double x = r.Number(key);
  if (x < 0.0) ThrowExpected(r.Where(key), "a number >= 0", FormatNumber(x));
  return x;
}

int NonNegativeInteger(const JsonReader& r, const std::string& key) {
  const int x = r.Integer(key);
  if (x < 0) ThrowExpected(r.Where(key), "an integer >= 0", std::to_string(x));
  return x;
}

std::int64_t CandidateIndex(const JsonReader& r, const std::string& key, std::int64_t lowest) {
  const nlohmann::json& v = r.Raw(key);
  if (!v.is_number_integer() || v.get<std::int64_t>() < lowest)
    ThrowExpected(r.Where(key), "a candidate index >= " + std::to_string(lowest), Describe(v));
  return v.get<std::int64_t>();
}

std::vector<std::string> OptionalStrings(const JsonReader& r, const std::string& key) {
  if (!r.Has(key)) return {};
  if (!r.Raw(key).is_array())
    ThrowExpected(r.Where(key), "an array of strings", Describe(r.Raw(key)));
  return r.Strings(key);
}

}  // namespace

nlohmann::json PlanToJson(const Plan& plan, const ScenarioSpace& space) {
  nlohmann::json j;
  j["schema"] = kPlanSchema;
  j["study"] = plan.study;
  j["seed"] = plan.seed;
  nlohmann::json items = nlohmann::json::array();
  for (const PlanItem& it : plan.items) {
    nlohmann::json c = {
        {"coverage", it.components.coverage},       {"uncertainty", it.components.uncertainty},
        {"information", it.components.information}, {"cost", it.components.cost},
        {"discrepancy", it.components.discrepancy}, {"real_outcome", it.components.real_outcome}};
    if (it.components.team >= 0.0) c["team"] = it.components.team;
    items.push_back({{"rank", it.rank},
                     {"item_id", it.item_id},
                     {"candidate", it.candidate},
                     {"scenario", space.ToJson(it.scenario)},
                     {"repeats", it.repeats},
                     {"score", it.score},
                     {"components", c},
                     {"informs", it.informs},
                     {"reason", it.reason},
                     {"session", it.session},
                     {"est_seconds", it.est_seconds}});
    if (it.simulated_success >= 0.0) items.back()["simulated_success"] = it.simulated_success;
    items.back()["real_evidence"] = it.real_evidence;
    const nlohmann::json real = RealValuesToJson(it.real);
    if (!real.is_null()) items.back()["real"] = real;
  }
  j["items"] = items;
  nlohmann::json sessions = nlohmann::json::array();
  for (const PlanSession& s : plan.sessions) {
    sessions.push_back({{"robot", s.robot},
                        {"start_s", s.start_s},
                        {"end_s", s.end_s},
                        {"setup_seconds", s.setup_seconds},
                        {"items", s.items}});
  }
  j["sessions"] = sessions;
  j["budget"] = {{"seconds", plan.budget.seconds},
                 {"used_seconds", plan.budget.used_seconds},
                 {"setup_seconds", plan.budget.setup_seconds}};
  j["expected"] = {{"coverage_before", plan.expected.coverage_before},
                   {"coverage_after", plan.expected.coverage_after},
                   {"std_before", StdMap(plan.expected.std_before)},
                   {"std_after", StdMap(plan.expected.std_after)},
                   {"failure_modes", plan.expected.failure_modes}};
  j["rule"] = plan.rule;
  j["candidates"] = plan.candidates;
  j["posterior_samples"] = plan.posterior_samples;
  j["weights"] = {
      {"coverage", plan.weights.coverage},       {"uncertainty", plan.weights.uncertainty},
      {"information", plan.weights.information}, {"cost", plan.weights.cost},
      {"discrepancy", plan.weights.discrepancy}, {"real_outcome", plan.weights.real_outcome}};
  if (plan.weights.team >= 0.0) j["weights"]["team"] = plan.weights.team;
  j["real_model"] = RealModelToJson(plan.real_model);
  nlohmann::json not_counted = nlohmann::json::array();
  for (const auto& e : plan.episodes.not_counted)
    not_counted.push_back({{"id", e.id}, {"reason", e.reason}});
  nlohmann::json outcomes = nlohmann::json::array();
  for (const auto& o : plan.episodes.outcomes) {
    nlohmann::json x = {
        {"id", o.id},
        {"counted", o.counted},
        {"success", o.success < 0 ? nlohmann::json() : nlohmann::json(o.success == 1)},
        {"source", o.source},
        {"note", o.note}};
    if (o.candidate >= 0) {
      x["simulator"] = {{"candidate", o.candidate},
                        {"distance", o.distance},
                        {"success", o.simulated_success},
                        {"rollouts", o.rollouts},
                        {"contradicts", o.contradicted}};
    }
    outcomes.push_back(std::move(x));
  }
  j["episodes"] = {{"total", plan.episodes.total},
                   {"counted", plan.episodes.counted},
                   {"not_counted", not_counted},
                   {"outcomes", outcomes}};
  nlohmann::json unsafe = nlohmann::json::array();
  for (const UnsafeCandidate& u : plan.unsafe) {
    unsafe.push_back({{"candidate", u.candidate},
                      {"scenario", space.ToJson(u.scenario)},
                      {"violations", u.violations},
                      {"samples", u.samples},
                      {"upper", u.upper}});
  }
  j["unsafe"] = unsafe;
  j["not_estimated"] = plan.not_estimated;
  j["notes"] = plan.notes;
  j["warnings"] = plan.warnings;
  if (!plan.previous.is_null()) j["previous"] = plan.previous;
  return j;
}

Plan PlanFromJson(const nlohmann::json& j, const ScenarioSpace& space, const std::string& file) {
  const JsonReader top(j, file, "");
  const std::string schema = top.String("schema");
  if (schema != kPlanSchema)
    ThrowExpected(top.Where("schema"), std::string("\"") + kPlanSchema + "\"",
                  "\"" + schema + "\"");
  Plan plan;
  plan.study = top.String("study");
  const nlohmann::json& seed = top.Raw("seed");
  if (!seed.is_number_unsigned() && !(seed.is_number_integer() && seed.get<long long>() >= 0))
    ThrowExpected(top.Where("seed"), "an integer >= 0", Describe(seed));
  plan.seed = seed.get<std::uint64_t>();

  for (const JsonReader& r : top.Objects("sessions")) {
    PlanSession s;
    s.robot = r.String("robot");
    s.start_s = NonNegative(r, "start_s");
    s.end_s = r.Number("end_s");
    if (s.end_s < s.start_s) ThrowExpected(r.Where("end_s"), ">= start_s", FormatNumber(s.end_s));
    s.setup_seconds = NonNegative(r, "setup_seconds");
    if (!r.Raw("items").is_array())
      ThrowExpected(r.Where("items"), "an array of item ids", Describe(r.Raw("items")));
    s.items = r.Strings("items");
    r.CheckAllRead();
    plan.sessions.push_back(std::move(s));
  }
  for (const JsonReader& r : top.Objects("items")) {
    PlanItem it;
    it.rank = r.Integer("rank");
    if (it.rank < 1) ThrowExpected(r.Where("rank"), "an integer >= 1", std::to_string(it.rank));
    it.item_id = r.String("item_id");
    if (r.Has("candidate")) it.candidate = CandidateIndex(r, "candidate", -1);
    it.scenario = space.FromJson(r.Raw("scenario"), r.Where("scenario"));
    it.repeats = r.Integer("repeats");
    if (it.repeats < 1)
      ThrowExpected(r.Where("repeats"), "an integer >= 1", std::to_string(it.repeats));
    it.score = r.Number("score");
    const JsonReader c = r.Object("components");
    it.components.coverage = c.Number("coverage");
    it.components.uncertainty = c.Number("uncertainty");
    it.components.information = c.Number("information");
    it.components.cost = NonNegative(c, "cost");
    if (c.Has("team")) it.components.team = NonNegative(c, "team");
    if (c.Has("discrepancy")) it.components.discrepancy = c.Number("discrepancy");
    if (c.Has("real_outcome")) it.components.real_outcome = c.Number("real_outcome");
    c.CheckAllRead();
    it.real = RealValuesFromJson(r, "real");
    it.informs = r.String("informs");
    it.reason = r.String("reason");
    it.session = r.Integer("session");
    if (it.session < -1 || it.session >= static_cast<int>(plan.sessions.size()))
      ThrowExpected(r.Where("session"),
                    "-1 or a session index below " + std::to_string(plan.sessions.size()),
                    std::to_string(it.session));
    it.est_seconds = NonNegative(r, "est_seconds");
    if (r.Has("simulated_success")) {
      it.simulated_success = r.Number("simulated_success");
      if (!(it.simulated_success >= 0.0 && it.simulated_success <= 1.0))
        ThrowExpected(r.Where("simulated_success"), "a rate in [0, 1]",
                      FormatNumber(it.simulated_success));
    }
    if (r.Has("real_evidence")) {
      it.real_evidence = r.String("real_evidence");
      RealEvidence e;
      if (!ParseRealEvidence(it.real_evidence, &e))
        ThrowExpected(r.Where("real_evidence"), "\"discrepancy\", \"real_outcome\" or \"none\"",
                      "\"" + it.real_evidence + "\"");
    }
    r.CheckAllRead();
    plan.items.push_back(std::move(it));
  }
  const JsonReader b = top.Object("budget");
  plan.budget.seconds = NonNegative(b, "seconds");
  plan.budget.used_seconds = NonNegative(b, "used_seconds");
  plan.budget.setup_seconds = NonNegative(b, "setup_seconds");
  b.CheckAllRead();
  const JsonReader e = top.Object("expected");
  plan.expected.coverage_before = e.Number("coverage_before");
  plan.expected.coverage_after = e.Number("coverage_after");
  plan.expected.std_before = ReadStdMap(e, "std_before");
  plan.expected.std_after = ReadStdMap(e, "std_after");
  if (!e.Raw("failure_modes").is_array())
    ThrowExpected(e.Where("failure_modes"), "an array of strings",
                  Describe(e.Raw("failure_modes")));
  plan.expected.failure_modes = e.Strings("failure_modes");
  e.CheckAllRead();
  plan.rule = top.Choice("rule", {"weighted", "failure", "information"}, "weighted");
  if (top.Has("candidates")) {
    plan.candidates = CandidateIndex(top, "candidates", 0);
  }
  if (top.Has("posterior_samples"))
    plan.posterior_samples = NonNegativeInteger(top, "posterior_samples");
  if (top.Has("weights")) {
    const JsonReader w = top.Object("weights");
    plan.weights.coverage = NonNegative(w, "coverage");
    plan.weights.uncertainty = NonNegative(w, "uncertainty");
    plan.weights.information = NonNegative(w, "information");
    plan.weights.cost = NonNegative(w, "cost");
    if (w.Has("team")) plan.weights.team = NonNegative(w, "team");
    if (w.Has("discrepancy")) plan.weights.discrepancy = NonNegative(w, "discrepancy");
    if (w.Has("real_outcome")) plan.weights.real_outcome = NonNegative(w, "real_outcome");
    w.CheckAllRead();
  }
  plan.real_model = RealModelFromJson(top, "real_model");
  if (top.Has("episodes")) {
    const JsonReader ep = top.Object("episodes");
    plan.episodes.total = NonNegativeInteger(ep, "total");
    plan.episodes.counted = NonNegativeInteger(ep, "counted");
    if (plan.episodes.counted > plan.episodes.total)
      ThrowExpected(ep.Where("counted"),
                    "at most total (" + std::to_string(plan.episodes.total) + ")",
                    std::to_string(plan.episodes.counted));
    for (const JsonReader& n : ep.Objects("not_counted")) {
      plan.episodes.not_counted.push_back({n.String("id"), n.String("reason")});
      n.CheckAllRead();
    }
    if (ep.Has("outcomes")) {
      for (const JsonReader& n : ep.Objects("outcomes")) {
        PlanEpisodes::RealOutcome o;
        o.id = n.String("id");
        o.counted = n.Bool("counted", false);
        const nlohmann::json& success = n.Raw("success");
        if (!success.is_null() && !success.is_boolean())
          ThrowExpected(n.Where("success"), "true, false or null", Describe(success));
        o.success = success.is_null() ? -1 : (success.get<bool>() ? 1 : 0);
        o.source = n.Choice("source", {"log", "label", ""}, "");
        o.note = n.String("note");
        if (n.Has("simulator")) {
          const JsonReader sim = n.Object("simulator");
          o.candidate = CandidateIndex(sim, "candidate", 0);
          o.distance = NonNegative(sim, "distance");
          o.simulated_success = NonNegative(sim, "success");
          o.rollouts = NonNegativeInteger(sim, "rollouts");
          o.contradicted = sim.Bool("contradicts", false);
          sim.CheckAllRead();
        }
        plan.episodes.outcomes.push_back(std::move(o));
        n.CheckAllRead();
      }
    }
    ep.CheckAllRead();
  }
  if (top.Has("unsafe")) {
    for (const JsonReader& u : top.Objects("unsafe")) {
      UnsafeCandidate c;
      c.candidate = CandidateIndex(u, "candidate", 0);
      c.scenario = space.FromJson(u.Raw("scenario"), u.Where("scenario"));
      c.samples = u.Integer("samples");
      if (c.samples < 1)
        ThrowExpected(u.Where("samples"), "an integer >= 1", std::to_string(c.samples));
      c.violations = u.Integer("violations");
      if (c.violations < 0 || c.violations > c.samples)
        ThrowExpected(u.Where("violations"), "0 .. samples", std::to_string(c.violations));
      c.upper = u.Number("upper");
      if (c.upper < 0.0 || c.upper > 1.0)
        ThrowExpected(u.Where("upper"), "a rate in [0, 1]", FormatNumber(c.upper));
      u.CheckAllRead();
      plan.unsafe.push_back(std::move(c));
    }
  }
  plan.not_estimated = OptionalStrings(top, "not_estimated");
  plan.notes = OptionalStrings(top, "notes");
  plan.warnings = OptionalStrings(top, "warnings");
  if (top.Has("previous")) {
    plan.previous = top.Raw("previous");
    if (!plan.previous.is_object())
      ThrowExpected(top.Where("previous"), "an object", Describe(plan.previous));
  }
  top.CheckAllRead();
  return plan;
}

namespace {

std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string PlanToCsv(const Plan& plan, const ScenarioSpace& space) {
  std::string out = "rank,item_id";
  for (const Factor& f : space.factors()) out += "," + Quoted(f.name);
  out +=
      ",repeats,score,coverage,uncertainty,information,cost,informs,session,robot,est_seconds,"
      "candidate,reason,discrepancy,real_outcome,real_evidence\n";
  for (const PlanItem& it : plan.items) {
    out += std::to_string(it.rank) + "," + it.item_id;
    for (int f = 0; f < space.dimension(); ++f) {
      const Factor& factor = space.factor(f);
      const double v = it.scenario.values[f];
      out += "," +
             (factor.numeric() ? FormatNumber(v) : Quoted(factor.levels[static_cast<int>(v)].name));
    }
    const std::string robot = it.session >= 0 ? plan.sessions[it.session].robot : "";
    out += "," + std::to_string(it.repeats) + "," + FormatNumber(it.score) + "," +
           FormatNumber(it.components.coverage) + "," + FormatNumber(it.components.uncertainty) +
           "," + FormatNumber(it.components.information) + "," + FormatNumber(it.components.cost) +
           "," + Quoted(it.informs) + "," + std::to_string(it.session) + "," + Quoted(robot) + "," +
           FormatNumber(it.est_seconds) + "," + std::to_string(it.candidate) + "," +
           Quoted(it.reason) + "," + FormatNumber(it.components.discrepancy) + "," +
           FormatNumber(it.components.real_outcome) + "," + it.real_evidence + "\n";
  }
  return out;
}

void WritePlan(const Plan& plan, const ScenarioSpace& space, const std::string& dir) {
  EnsureDirectory(dir);
  WriteFileAtomic(dir + "/plan.json", PlanToJson(plan, space).dump(2) + "\n");
  WriteFileAtomic(dir + "/plan.csv", PlanToCsv(plan, space));
}

Plan ReadPlan(const std::string& path, const ScenarioSpace& space) {
  const bool file = path.size() > 5 && path.compare(path.size() - 5, 5, ".json") == 0;
  const std::string name = file ? path : path + "/plan.json";
  return PlanFromJson(ReadJsonFile(name), space, name);
}

}  // namespace nextbatch
