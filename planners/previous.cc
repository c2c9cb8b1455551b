#include "planners/previous.h"

#include <cmath>
#include <cstdio>
#include <set>

#include "engine/error.h"

namespace nextbatch {
namespace {

nlohmann::json Number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); }

std::string Fmt(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, x);
  return buf;
}

}  // namespace

void CheckPreviousStudy(const Plan& previous, const std::string& study, const std::string& file) {
  if (previous.study != study)
    ThrowExpected(file + ": study", "a plan of study \"" + study + "\"",
                  "\"" + previous.study + "\"");
}

nlohmann::json CheckPrevious(const Plan& previous, const Plan& current,
                             const std::vector<CollectedEpisode>& episodes,
                             const FactorEmbedding& embedding, double radius) {
  nlohmann::json notes = nlohmann::json::array();
  // the episodes the earlier plan already knew were not collected for it
  std::set<std::string> known_before;
  for (const auto& o : previous.episodes.outcomes) known_before.insert(o.id);
  if (previous.episodes.outcomes.empty() && previous.episodes.total > 0)
    notes.push_back(
        "the earlier plan does not list its episodes: every episode is matched to its items");

  const int n = static_cast<int>(previous.items.size());
  std::vector<std::vector<std::string>> matched(n);
  std::vector<char> by_id(n, 0);
  std::vector<double> nearest(n, -1.0);
  std::vector<int> known(n, 0), successes(n, 0);
  int fresh = 0, unmatched = 0;
  for (const CollectedEpisode& e : episodes) {
    if (known_before.count(e.id)) continue;
    ++fresh;
    int item = -1;
    double distance = -1.0;
    if (!e.item_id.empty()) {
      for (int i = 0; i < n && item < 0; ++i)
        if (previous.items[i].item_id == e.item_id) item = i;
    }
    const bool id_match = item >= 0;
    if (!id_match && e.scenario) {
      double best = radius;
      for (int i = 0; i < n; ++i) {
        const double d = embedding.Distance(*e.scenario, previous.items[i].scenario);
        if (d < best) {
          best = d;
          item = i;
        }
      }
      if (item >= 0) distance = best;
    }
    if (item < 0) {
      ++unmatched;
      continue;
    }
    matched[item].push_back(e.id);
    by_id[item] = by_id[item] || id_match;
    if (distance >= 0.0 && (nearest[item] < 0.0 || distance < nearest[item]))
      nearest[item] = distance;
    if (e.success >= 0) {
      ++known[item];
      successes[item] += e.success;
    }
  }

  nlohmann::json each = nlohmann::json::array();
  int collected = 0, matched_episodes = 0, outcome_known = 0, outcome_successes = 0;
  int predicted_known = 0;
  double predicted = 0.0;
  for (int i = 0; i < n; ++i) {
    const PlanItem& it = previous.items[i];
    const bool got = !matched[i].empty();
    collected += got ? 1 : 0;
    matched_episodes += static_cast<int>(matched[i].size());
    outcome_known += known[i];
    outcome_successes += successes[i];
    if (it.simulated_success >= 0.0) {
      predicted += known[i] * it.simulated_success;
      predicted_known += known[i];
    }
    each.push_back(
        {{"item_id", it.item_id},
         {"rank", it.rank},
         {"repeats", it.repeats},
         {"collected", static_cast<int>(matched[i].size())},
         {"matched_by", !got ? "" : (by_id[i] ? "item_id" : "scenario")},
         {"episodes", matched[i]},
         {"distance", nearest[i] >= 0.0 ? nlohmann::json(nearest[i]) : nlohmann::json()},
         {"simulated_success",
          it.simulated_success >= 0.0 ? nlohmann::json(it.simulated_success) : nlohmann::json()},
         {"known", known[i]},
         {"successes", successes[i]}});
  }
  if (predicted_known < outcome_known)
    notes.push_back("the earlier plan does not record the simulated success of every item: " +
                    std::to_string(outcome_known - predicted_known) +
                    " known outcomes have no prediction");

  nlohmann::json stds = nlohmann::json::object();
  for (const auto& [name, expected] : previous.expected.std_after) {
    const auto now = current.expected.std_before.find(name);
    const double cur = now == current.expected.std_before.end() ? std::nan("") : now->second;
    const auto before = previous.expected.std_before.find(name);
    stds[name] = {{"before", Number(before == previous.expected.std_before.end() ? std::nan("")
                                                                                 : before->second)},
                  {"expected_after", Number(expected)},
                  {"current", Number(cur)},
                  {"ratio", Number(expected > 0.0 ? cur / expected : std::nan(""))}};
  }
  if (previous.expected.std_after.empty())
    notes.push_back("the earlier plan did not estimate stds after its batch: nothing to compare");

  return {{"study", previous.study},
          {"seed", previous.seed},
          {"items", n},
          {"collected", collected},
          {"new_episodes", fresh},
          {"matched_episodes", matched_episodes},
          {"unmatched_episodes", unmatched},
          {"each", each},
          {"coverage",
           {{"before", previous.expected.coverage_before},
            {"expected_after", previous.expected.coverage_after},
            {"achieved", current.expected.coverage_before}}},
          {"stds", stds},
          {"outcomes",
           {{"known", outcome_known},
            {"successes", outcome_successes},
            {"predicted_known", predicted_known},
            {"predicted_successes", predicted}}},
          {"notes", notes}};
}

std::string PreviousSummaryText(const nlohmann::json& p) {
  if (!p.is_object()) return "";
  std::string out = "previous plan: " + p.at("collected").dump() + " of " + p.at("items").dump() +
                    " items collected (" + p.at("matched_episodes").dump() + " of " +
                    p.at("new_episodes").dump() + " new episodes matched)\n";
  const auto& c = p.at("coverage");
  out += "previous plan: coverage expected " +
         Fmt("%.1f%%", 100.0 * c.at("expected_after").get<double>()) + " after its batch, " +
         Fmt("%.1f%%", 100.0 * c.at("achieved").get<double>()) + " achieved (" +
         Fmt("%.1f%%", 100.0 * c.at("before").get<double>()) + " before)\n";
  if (!p.at("stds").empty()) {
    out += "previous plan: stds expected -> now (ratio):";
    for (const auto& [name, s] : p.at("stds").items()) {
      auto g = [](const nlohmann::json& x) {
        return x.is_number() ? Fmt("%.3g", x.get<double>()) : std::string("-");
      };
      out += " " + name + " " + g(s.at("expected_after")) + " -> " + g(s.at("current")) + " (" +
             g(s.at("ratio")) + ");";
    }
    out.back() = '\n';
  }
  const auto& o = p.at("outcomes");
  out += "previous plan: outcomes " + o.at("successes").dump() + " successes of " +
         o.at("known").dump() + " known; predicted " +
         Fmt("%.2f", o.at("predicted_successes").get<double>()) + " of " +
         o.at("predicted_known").dump() + "\n";
  return out;
}

}  // namespace nextbatch
