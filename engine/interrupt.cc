#include "engine/interrupt.h"

#include <atomic>
#include <csignal>

namespace nextbatch {
namespace {

// Lock-free, so that the handler may store into it (async-signal-safe).
std::atomic<int> requested{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void OnSignal(int signal) {
  int none = 0;
  if (!requested.compare_exchange_strong(none, signal)) {
    // asked twice: the user wants out now (signal and raise are async-signal-safe)
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
}

}  // namespace

void InstallInterruptHandlers() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // reads and writes in flight carry on; the stages poll the flag
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int InterruptSignal() { return requested.load(); }

void RequestInterrupt(int signal) { requested.store(signal); }

void ClearInterrupt() { requested.store(0); }

void ThrowIfInterrupted(const std::string& what) {
  const int signal = requested.load();
  if (signal != 0) throw Interrupted(signal, what);
}

std::string SignalName(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal);
}

}  // namespace nextbatch
