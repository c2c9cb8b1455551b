#include "scenarios/space_source.h"

namespace nextbatch {

int SpaceSource::Draw(std::int64_t first, int count) {
  chunk_ = sampler_->Draw(static_cast<std::uint64_t>(first), count);
  return static_cast<int>(chunk_.size());
}

void SpaceSource::Apply(int i, Workspace& ws, State* initial) const {
  binding_->Apply(chunk_[i], ws, initial);
}

nlohmann::json SpaceSource::Values(int i) const { return binding_->space().ToJson(chunk_[i]); }

}  // namespace nextbatch
