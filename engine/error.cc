#include "engine/error.h"

namespace nextbatch {

std::string Expected(const std::string& where, const std::string& expected,
                     const std::string& got) {
  return where + ": expected " + expected + ", got " + got;
}

void ThrowExpected(const std::string& where, const std::string& expected, const std::string& got) {
  throw InputError(Expected(where, expected, got));
}

}  // namespace nextbatch
