#include "engine/progress.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "engine/error.h"

namespace nextbatch {

std::string ProgressOptions::Validate() const {
  if (!(min_interval >= 0) || !std::isfinite(min_interval)) {
    return Expected("progress.min_interval", "a finite number >= 0", std::to_string(min_interval));
  }
  if (!(line_interval >= 0) || !std::isfinite(line_interval)) {
    return Expected("progress.line_interval", "a finite number >= 0",
                    std::to_string(line_interval));
  }
  if (terminal < -1 || terminal > 2) {
    return Expected("progress.terminal", "-1, 0, 1 or 2", std::to_string(terminal));
  }
  return "";
}

int ProgressModeFromEnvironment(const char* value, bool tty) {
  const std::string v = value ? value : "";
  if (v.empty() || v == "auto") return tty ? 1 : 0;
  if (v == "lines") return 2;
  if (v == "off") return 0;
  throw InputError(Expected("environment variable NEXTBATCH_PROGRESS",
                            "\"auto\", \"lines\" or \"off\"", "\"" + v + "\""));
}

int ProgressModeFromEnvironment() {
  return ProgressModeFromEnvironment(std::getenv("NEXTBATCH_PROGRESS"), isatty(STDERR_FILENO) == 1);
}

std::string FormatDuration(double seconds) {
  const long s = seconds > 0 ? static_cast<long>(std::ceil(seconds)) : 0;
  char buf[64];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%ld s", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%ldm %02lds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ldh %02ldm", s / 3600, (s % 3600) / 60);
  }
  return buf;
}

std::string FormatProgress(const std::string& stage, long done, long total, double elapsed,
                           const std::string& detail) {
  std::string line = stage + ": " + std::to_string(done) + "/" + std::to_string(total) + " (";
  if (done >= total) {
    line += "took " + FormatDuration(elapsed) + ")";
  } else if (done <= 0 || !(elapsed > 0)) {
    line += "eta ?)";
  } else {
    line += "eta " + FormatDuration(elapsed * (total - done) / done) + ")";
  }
  return detail.empty() ? line : line + " " + detail;
}

Progress::Progress(std::string stage, long total, ProgressOptions options)
    : stage_(std::move(stage)), total_(total), options_(std::move(options)) {
  const std::string error = options_.Validate();
  if (!error.empty()) throw InputError(error);
  if (total_ < 0) ThrowExpected("progress: " + stage_ + ": total", ">= 0", std::to_string(total));
  if (!options_.out) options_.out = &std::cerr;
  const int mode = options_.terminal == -1 ? ProgressModeFromEnvironment() : options_.terminal;
  enabled_ = mode != 0;
  lines_ = mode == 2;
  start_ = Now();
}

Progress::~Progress() {
  if (open_) *options_.out << "\n" << std::flush;
}

double Progress::Now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void Progress::Update(long done) { Update(done, ""); }

void Progress::Update(long done, const std::string& detail) {
  NB_CHECK(done >= 0 && done <= total_);
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  const double now = Now();
  const bool last = done == total_;
  if (!last && now - last_ < (lines_ ? options_.line_interval : options_.min_interval)) return;
  last_ = now;
  if (lines_) {
    *options_.out << FormatProgress(stage_, done, total_, now - start_, detail) << "\n";
    if (last) finished_ = true;
    options_.out->flush();
    return;
  }
  // \r and "erase to end of line" rewrite the one line in place.
  *options_.out << "\r" << FormatProgress(stage_, done, total_, now - start_, detail) << "\033[K";
  if (last) {
    *options_.out << "\n";
    finished_ = true;
    open_ = false;
  } else {
    open_ = true;
  }
  options_.out->flush();
}

}  // namespace nextbatch
