// Stopping a run cleanly on SIGINT or SIGTERM: a handler records the signal (nothing else: it
// runs inside whatever the process was doing), and the stages look at it where stopping leaves
// a clean state: the simulate stage after each chunk it saved, the calibrate stage through a
// Ceres callback, every stage before it publishes. What stops throws Interrupted; the command
// reports it and exits 128 + the signal (130 for SIGINT, 143 for SIGTERM).
#ifndef NEXTBATCH_ENGINE_INTERRUPT_H_
#define NEXTBATCH_ENGINE_INTERRUPT_H_

#include <stdexcept>
#include <string>

namespace nextbatch {

// Thrown where a stage stops for a signal. what(): what the stage finished, in words.
class Interrupted : public std::runtime_error {
 public:
  Interrupted(int signal, const std::string& message)
      : std::runtime_error(message), signal_(signal) {}
  int signal() const { return signal_; }
  // 128 + the signal, as shells report a process ended by it.
  int exit_code() const { return 128 + signal_; }

 private:
  int signal_;
};

// Installs the handlers for SIGINT and SIGTERM (the command calls it; library users who handle
// signals themselves call RequestInterrupt instead). A second signal while the first is being
// honoured ends the process at once, as if no handler were installed.
void InstallInterruptHandlers();

// The signal asked for (SIGINT, SIGTERM), 0 when none.
int InterruptSignal();

// Asks the running stage to stop as a signal would (tests, embedding programs).
void RequestInterrupt(int signal);
// Forgets a request (tests).
void ClearInterrupt();

// Throws Interrupted with "<what>" when a stop was asked for.
void ThrowIfInterrupted(const std::string& what);

// "SIGINT", "SIGTERM", else "signal N".
std::string SignalName(int signal);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_INTERRUPT_H_
