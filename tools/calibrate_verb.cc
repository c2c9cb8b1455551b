#include <cstdio>

#include "tools/verbs.h"

namespace nextbatch::tools {

int RunCalibrate(const VerbArgs& args) {
  (void)args;
  std::fprintf(stderr, "nextbatch calibrate: not built yet\n");
  return 1;
}

}  // namespace nextbatch::tools
