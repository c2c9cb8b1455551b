// Output sets: each stage of a run writes its files into a private staging folder beside its
// final folder `<root>/<stage>/` and publishes them with one rename, so that a reader sees either
// the whole previous set or the whole new one, never a mix. Two runs writing the same stage of one
// root at once are refused (a lock per stage). A run that fails or is killed publishes nothing; the
// next run of the stage removes what a killed one left behind.
#ifndef NEXTBATCH_ENGINE_OUTPUT_SET_H_
#define NEXTBATCH_ENGINE_OUTPUT_SET_H_

#include <string>

#include "engine/manifest.h"

namespace nextbatch {

// `<root>/<stage>`: where a stage's published set lives.
std::string StageDir(const std::string& root, const std::string& stage);

class OutputSet {
 public:
  // Takes the stage's lock (`<root>/.<stage>.lock`), removes staging folders that killed runs
  // left and creates a fresh one. Throws InputError when another run holds the lock (naming its
  // process), RunError when the folder cannot be written.
  OutputSet(std::string root, std::string stage);
  // Without Publish: removes the staging folder (and the root, when this run created it and it
  // is empty), so a failed run leaves the previous set as it was. Releases the lock.
  ~OutputSet();
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;

  // A path inside the staging folder.
  std::string File(const std::string& name) const;
  const std::string& staging() const { return staging_; }
  const std::string& root() const { return root_; }
  std::string final_dir() const { return StageDir(root_, stage_); }

  // Records every staged file's digest in `manifest`, writes manifest.json into the set and
  // replaces `<root>/<stage>` with the staging folder in one step (an exchange of the two folders
  // where the file system allows it). Throws RunError on failure; the previous set then stays.
  void Publish(Manifest manifest);
  bool published() const { return published_; }

 private:
  std::string root_, stage_, staging_, lock_path_;
  int lock_fd_ = -1;
  bool created_root_ = false;
  bool published_ = false;
};

// Fault injection for the kill tests: when the environment variable NEXTBATCH_FAULT equals
// `name`, the process kills itself with SIGKILL here. Points: "<stage>.staged" (every file
// written, nothing published), "<stage>.exchanged" (the new set in place, the old one not yet
// removed), "<stage>.published"; the simulate stage adds "simulate.lines.<n>" (chunk n of the
// run written to its checkpoint's lines, its checkpoint not yet) and "simulate.chunk.<n>" (chunk
// n's checkpoint written).
void FaultPoint(const std::string& name);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_OUTPUT_SET_H_
