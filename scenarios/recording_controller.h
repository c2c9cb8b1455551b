// A controller that passes another's commands on and keeps them, one row per call: how the
// simulate stage's information episodes and the campaign's hidden world log the commands a real
// log would hold.
#ifndef NEXTBATCH_SCENARIOS_RECORDING_CONTROLLER_H_
#define NEXTBATCH_SCENARIOS_RECORDING_CONTROLLER_H_

#include <mujoco/mujoco.h>

#include <algorithm>
#include <vector>

#include "engine/rollout.h"

namespace nextbatch {

// `inner` may be null: the commands are then zero.
class RecordingController : public Controller {
 public:
  RecordingController(Controller* inner, int nu) : inner_(inner), nu_(nu) {}
  void Reset(const mjModel* m, const mjData* d) override {
    if (inner_) inner_->Reset(m, d);
  }
  void Control(const mjModel* m, const mjData* d, double* ctrl) override {
    if (inner_) {
      inner_->Control(m, d, ctrl);
    } else {
      std::fill(ctrl, ctrl + nu_, 0.0);
    }
    commands_.insert(commands_.end(), ctrl, ctrl + nu_);
  }
  const std::vector<double>& commands() const { return commands_; }

 private:
  Controller* inner_;
  int nu_;
  std::vector<double> commands_;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_RECORDING_CONTROLLER_H_
