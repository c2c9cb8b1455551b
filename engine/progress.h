// Progress of a long stage on stderr: "stage: i/n (eta 12 s)", rewritten in place a few times a
// second, and only when stderr is a terminal (logs and pipes stay clean).
#ifndef NEXTBATCH_ENGINE_PROGRESS_H_
#define NEXTBATCH_ENGINE_PROGRESS_H_

#include <functional>
#include <iosfwd>
#include <mutex>
#include <string>

namespace nextbatch {

struct ProgressOptions {
  double min_interval = 0.25;     // seconds between two lines
  std::function<double()> clock;  // monotonic seconds; empty: std::chrono::steady_clock
  int terminal = -1;              // -1: isatty(stderr); 0 or 1: as given (tests)
  std::ostream* out = nullptr;    // null: std::cerr

  std::string Validate() const;
};

// "12 s", "3m 05s", "2h 07m": whole seconds, rounded up so that a nearly done stage is not "0 s".
std::string FormatDuration(double seconds);

// "stage: done/total (eta 12 s)" while running; "stage: total/total (took 12 s)" when done;
// "(eta ?)" before anything is done or while no time has passed. A non-empty `detail` follows
// after a space (e.g. an iteration's cost and step).
std::string FormatProgress(const std::string& stage, long done, long total, double elapsed,
                           const std::string& detail = "");

class Progress {
 public:
  // Throws InputError when the options are invalid or total < 0.
  Progress(std::string stage, long total, ProgressOptions options = {});
  // Ends a line left open (a stage that stopped early) so that later output starts afresh.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Reports that `done` of the items are done (0 <= done <= total; calls may repeat a count).
  // Writes a line when min_interval has passed since the last one, or when done == total.
  // Thread-safe; cheap when nothing is written.
  void Update(long done);
  // The same with a detail after the count (FormatProgress).
  void Update(long done, const std::string& detail);

  // Whether lines are written at all (stderr is a terminal, or options.terminal == 1).
  bool enabled() const { return enabled_; }

 private:
  double Now() const;

  std::string stage_;
  long total_;
  ProgressOptions options_;
  bool enabled_;
  double start_;
  double last_ = -1e300;  // time of the last line
  bool open_ = false;     // a line is written and not yet ended
  bool finished_ = false;
  std::mutex mutex_;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_PROGRESS_H_
