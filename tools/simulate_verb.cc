#include <cstdio>

#include "tools/verbs.h"

namespace nextbatch::tools {

int RunSimulate(const VerbArgs& args) {
  (void)args;
  std::fprintf(stderr, "nextbatch simulate: not built yet\n");
  return 1;
}

}  // namespace nextbatch::tools
