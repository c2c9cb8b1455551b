// The verbs of the nextbatch command. Each reads the study, calls the library, writes into the
// output folder and returns the exit code (0 done, 1 failed while running, 2 bad input).
// InputError thrown from a verb is turned into exit code 2 by main.
#ifndef NEXTBATCH_TOOLS_VERBS_H_
#define NEXTBATCH_TOOLS_VERBS_H_

#include <string>

namespace nextbatch::tools {

struct VerbArgs {
  std::string study;  // path of the study file
  std::string out = "out";
  int threads = -1;  // -1: as the study says
  bool quiet = false;
  std::string episodes;  // calibrate: comma-separated episode ids to fit ("" = all)
};

int RunIngest(const VerbArgs& args);
int RunCalibrate(const VerbArgs& args);
int RunSimulate(const VerbArgs& args);

}  // namespace nextbatch::tools

#endif  // NEXTBATCH_TOOLS_VERBS_H_
