// Progress of a long stage on stderr: "stage: i/n (eta 12 s)", rewritten in place a few times a
// second when stderr is a terminal; logs and pipes stay clean unless the environment asks for
// whole lines (NEXTBATCH_PROGRESS=lines: one line every 30 s and a last one, for batch jobs
// whose stderr is a file).
#ifndef NEXTBATCH_ENGINE_PROGRESS_H_
#define NEXTBATCH_ENGINE_PROGRESS_H_

#include <functional>
#include <iosfwd>
#include <mutex>
#include <string>

namespace nextbatch {

struct ProgressOptions {
  double min_interval = 0.25;     // seconds between two lines rewritten in place
  double line_interval = 30.0;    // seconds between two whole lines (mode 2)
  std::function<double()> clock;  // monotonic seconds; empty: std::chrono::steady_clock
  // -1: from the environment (ProgressModeFromEnvironment); 0: nothing; 1: one line rewritten
  // in place; 2: whole lines, at most one per line_interval, and the last one.
  int terminal = -1;
  std::ostream* out = nullptr;  // null: std::cerr

  std::string Validate() const;
};

// The mode of ProgressOptions::terminal = -1: NEXTBATCH_PROGRESS unset, empty or "auto": 1 when
// stderr is a terminal, else 0; "lines": 2; "off": 0. `value` is the variable's value (null:
// unset), `tty` whether stderr is a terminal. Any other value throws InputError naming the
// variable, what it may be and what it was.
int ProgressModeFromEnvironment(const char* value, bool tty);
// The same for this process: NEXTBATCH_PROGRESS and whether its stderr is a terminal.
int ProgressModeFromEnvironment();

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

  // Whether lines are written at all (the mode is 1 or 2).
  bool enabled() const { return enabled_; }

 private:
  double Now() const;

  std::string stage_;
  long total_;
  ProgressOptions options_;
  bool enabled_;
  bool lines_;  // mode 2: whole lines
  double start_;
  double last_ = -1e300;  // time of the last line
  bool open_ = false;     // a line is written and not yet ended
  bool finished_ = false;
  std::mutex mutex_;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_PROGRESS_H_
