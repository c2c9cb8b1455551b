#include "planners/team_uncertainty.h"

#include <doctest/doctest.h>

#include <cmath>

#include "engine/random.h"
#include "tests/fixtures/errors.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

ScenarioSpace Space() {
  Factor x;
  x.name = "x";
  x.lower = 0.0;
  x.upper = 2.0;
  Factor obj;
  obj.name = "obj";
  obj.kind = FactorKind::kCategorical;
  for (const char* l : {"box", "can"}) {
    Level level;
    level.name = l;
    obj.levels.push_back(level);
  }
  return ScenarioSpace({x, obj});
}

TEST_CASE("team uncertainty: read, and each candidate takes the nearest row's variance") {
  testing::TempDir dir("team_uncertainty");
  const ScenarioSpace space = Space();
  const std::string file = dir.Write("team.csv",
                                     "variance,obj,x\n"
                                     "0.5,box,0.2\n"
                                     "2,box,1.8\n"
                                     "0,can,1.0\n");
  const TeamUncertainty team = ReadTeamUncertainty(file, space);
  REQUIRE(team.points.size() == 3);
  CHECK(team.points[1].values == std::vector<double>{1.8, 0});
  CHECK(team.variance == std::vector<double>{0.5, 2.0, 0.0});
  // brute force on random candidates: the nearest row in the normalised space
  const FactorEmbedding embedding(space, 1.0);
  RandomStream random(3, Stage::kTest, 0);
  std::vector<Scenario> cand(200);
  for (Scenario& s : cand)
    s.values = {random.Uniform(0.0, 2.0), random.Uniform() < 0.5 ? 0.0 : 1.0};
  const std::vector<double> at = TeamVarianceAt(team, embedding, cand, 1);
  CHECK(TeamVarianceAt(team, embedding, cand, 2) == at);
  for (std::size_t i = 0; i < cand.size(); ++i) {
    int best = 0;
    for (int r = 1; r < 3; ++r)
      if (embedding.Distance(cand[i], team.points[r]) <
          embedding.Distance(cand[i], team.points[best]))
        best = r;
    CHECK(at[i] == team.variance[best]);
  }
}

TEST_CASE("team uncertainty: malformed tables refused naming file, line and column") {
  testing::TempDir dir("team_uncertainty_bad");
  const ScenarioSpace space = Space();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"x,variance\n1,0.5\n",
       "team.csv: header: expected a column for every factor, got none for "
       "\"obj\""},
      {"x,obj\n1,box\n", "header: expected a variance column, got none"},
      {"x,obj,variance,extra\n1,box,0.5,3\n", "the column \"extra\", which is neither"},
      {"x,obj,variance\nwide,box,0.5\n", "team.csv: line 2: x: expected a number, got \"wide\""},
      {"x,obj,variance\n1,cup,0.5\n", "line 2: obj: expected one of its levels, got \"cup\""},
      {"x,obj,variance\n1,box,-0.5\n", "line 2: variance: expected a number >= 0, got \"-0.5\""},
      {"x,obj,variance\n1,box,nan\n", "line 2: variance: expected a number >= 0"},
      {"x,obj,variance\n1,box,high\n", "line 2: variance: expected a number >= 0, got \"high\""},
      {"x,obj,variance\n3,box,0.5\n", "line 2: expected a scenario inside the space"},
      {"x,obj,variance\n", "team.csv: expected at least one row, got none"},
  };
  for (const auto& entry : cases) {
    // named: a lambda (doctest's INFO) cannot capture a structured binding before C++20
    const auto& text = entry.first;
    const auto& message = entry.second;
    CAPTURE(text);
    const std::string file = dir.Write("team.csv", text);
    testing::CheckError([&] { ReadTeamUncertainty(file, space); }, {message});
  }
  testing::CheckError([&] { ReadTeamUncertainty(dir.File("missing.csv"), space); },
                      {"missing.csv"});
}

}  // namespace
}  // namespace nextbatch
