// A stage's resumable state: `<root>/.<stage>.resume/`, beside the stage's staging folder but
// not removed with it, so that it survives a killed or interrupted run. It holds checkpoint.json
// (the digests of the stage's inputs, the version of nextbatch, and the stage's own progress
// record, rewritten atomically after each unit of work) and whatever files the stage keeps there.
// A run of the stage that publishes removes it; `--resume` continues from it when it was made
// from the same inputs. Only the holder of the stage's lock (an OutputSet) may touch it.
#ifndef NEXTBATCH_ENGINE_CHECKPOINT_H_
#define NEXTBATCH_ENGINE_CHECKPOINT_H_

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace nextbatch {

inline constexpr const char* kCheckpointSchema = "nextbatch.checkpoint/1";

struct Checkpoint {
  std::string stage;
  std::map<std::string, std::string> inputs;  // as in the stage's manifest
  std::string version;                        // of nextbatch
  nlohmann::json progress;                    // the stage's own record
};

// `<root>/.<stage>.resume`.
std::string CheckpointDir(const std::string& root, const std::string& stage);

// Reads `dir`/checkpoint.json: nullopt when there is none, or (with the reason in *why) when it
// cannot be read or belongs to another stage.
std::optional<Checkpoint> ReadCheckpoint(const std::string& dir, std::string* why);

// Writes `dir`/checkpoint.json atomically (the folder is created when missing).
void WriteCheckpoint(const std::string& dir, const Checkpoint& checkpoint);

// Removes the folder and everything in it; no error when it is not there.
void RemoveCheckpoint(const std::string& dir);

// Why a checkpoint cannot be continued by a run with `inputs` and `version`, in words ("study
// section 'simulate' changed"); "" when it can.
std::string CheckpointMismatch(const Checkpoint& checkpoint,
                               const std::map<std::string, std::string>& inputs,
                               const std::string& version);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_CHECKPOINT_H_
