#include <cstdio>

#include "tools/verbs.h"

namespace nextbatch::tools {

int RunIngest(const VerbArgs& args) {
  (void)args;
  std::fprintf(stderr, "nextbatch ingest: not built yet\n");
  return 1;
}

}  // namespace nextbatch::tools
