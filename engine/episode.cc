#include "engine/episode.h"

namespace nextbatch {

int Channels::Find(const std::string& name) const {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace nextbatch
