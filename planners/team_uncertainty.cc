#include "planners/team_uncertainty.h"

#include <cmath>
#include <string_view>

#include "engine/atomic_file.h"
#include "engine/csv_table.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace nextbatch {

TeamUncertainty ReadTeamUncertainty(const std::string& path, const ScenarioSpace& space) {
  TeamUncertainty team;
  team.file = path;
  const std::string text = ReadFile(path);
  CsvCursor csv(text, path);
  const std::vector<std::string>& header = csv.header();
  std::vector<int> column(space.dimension(), -1);
  int variance = -1;
  for (int c = 0; c < static_cast<int>(header.size()); ++c) {
    if (header[c] == "variance") {
      variance = c;
      continue;
    }
    const int f = space.Find(header[c]);
    if (f < 0)
      ThrowExpected(path + ": header", "factor columns and variance",
                    "the column \"" + header[c] + "\", which is neither");
    column[f] = c;
  }
  for (int f = 0; f < space.dimension(); ++f)
    if (column[f] < 0)
      ThrowExpected(path + ": header", "a column for every factor",
                    "none for \"" + space.factor(f).name + "\"");
  if (variance < 0) ThrowExpected(path + ": header", "a variance column", "none");
  while (csv.Next()) {
    const std::string where = path + ": line " + std::to_string(csv.line()) + ": ";
    const auto& fields = csv.fields();
    Scenario s;
    s.values.resize(space.dimension());
    for (int f = 0; f < space.dimension(); ++f) {
      const Factor& factor = space.factor(f);
      const std::string_view v = fields[column[f]];
      if (factor.numeric()) {
        double x = 0.0;
        if (!ParseCsvNumber(v, &x) || !std::isfinite(x))
          ThrowExpected(where + factor.name, "a number", "\"" + std::string(v) + "\"");
        s.values[f] = x;
      } else {
        const int level = factor.FindLevel(std::string(v));
        if (level < 0)
          ThrowExpected(where + factor.name, "one of its levels", "\"" + std::string(v) + "\"");
        s.values[f] = level;
      }
    }
    if (std::string bad = space.Check(s); !bad.empty())
      ThrowExpected(where.substr(0, where.size() - 2), "a scenario inside the space", bad);
    double x = 0.0;
    const std::string_view v = fields[variance];
    if (!ParseCsvNumber(v, &x) || !std::isfinite(x) || x < 0.0)
      ThrowExpected(where + "variance", "a number >= 0", "\"" + std::string(v) + "\"");
    team.points.push_back(std::move(s));
    team.variance.push_back(x);
  }
  if (csv.truncated_last())
    ThrowExpected(path + ": line " + std::to_string(csv.line()), "every field of a row",
                  "a row cut short");
  if (team.points.empty()) ThrowExpected(path, "at least one row", "none");
  return team;
}

std::vector<double> TeamVarianceAt(const TeamUncertainty& team, const FactorEmbedding& embedding,
                                   const std::vector<Scenario>& candidates, int num_threads) {
  const int n = static_cast<int>(candidates.size());
  std::vector<double> out(n, 0.0);
  if (team.points.empty()) return out;
  const PointIndex index(embedding.EmbedAll(team.points), embedding.width());
  ParallelFor(n, num_threads, [&](int i, int) {
    const std::vector<double> q = embedding.Embed(candidates[i]);
    // two nearest, so that a tie goes to the lower row whatever order the tree returns
    int rows[2] = {-1, -1};
    double d[2] = {0.0, 0.0};
    const int found = index.Nearest(q.data(), 2, rows, d);
    int best = rows[0];
    if (found == 2 && d[1] == d[0] && rows[1] < rows[0]) best = rows[1];
    out[i] = team.variance[best];
  });
  return out;
}

}  // namespace nextbatch
