// Candidates' scenarios drawn from a scenario space by its sampler, chunk by chunk.
#ifndef NEXTBATCH_SCENARIOS_SPACE_SOURCE_H_
#define NEXTBATCH_SCENARIOS_SPACE_SOURCE_H_

#include <vector>

#include "scenarios/candidates.h"
#include "scenarios/sampler.h"
#include "scenarios/scenario_binding.h"

namespace nextbatch {

class SpaceSource : public ScenarioSource {
 public:
  // Both must outlive the source.
  SpaceSource(const Sampler& sampler, const ScenarioBinding& binding)
      : sampler_(&sampler), binding_(&binding) {}

  int Draw(std::int64_t first, int count) override;
  void Apply(int i, Workspace& ws, State* initial) const override;
  nlohmann::json Values(int i) const override;

 private:
  const Sampler* sampler_;
  const ScenarioBinding* binding_;
  std::vector<Scenario> chunk_;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_SPACE_SOURCE_H_
