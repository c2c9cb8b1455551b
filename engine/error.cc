#include "engine/error.h"

#include <sstream>

namespace nextbatch {

std::string Expected(const std::string& where, const std::string& expected,
                     const std::string& got) {
  return where + ": expected " + expected + ", got " + got;
}

std::string FormatNumber(double x) {
  std::ostringstream s;
  s.precision(12);
  s << x;
  return s.str();
}

void ThrowExpected(const std::string& where, const std::string& expected, const std::string& got) {
  throw InputError(Expected(where, expected, got));
}

}  // namespace nextbatch
