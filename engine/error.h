// Errors of nextbatch: the three tiers of DESIGN.md.
//  - a bug: assert / NB_CHECK (aborts in debug builds, throws LogicError otherwise);
//  - bad input: InputError, "where: expected X, got Y"; the command exits 2;
//  - numerical outcomes: a status in the result, never an exception.
#ifndef NEXTBATCH_ENGINE_ERROR_H_
#define NEXTBATCH_ENGINE_ERROR_H_

#include <stdexcept>
#include <string>

namespace nextbatch {

// Bad input: a file, a field or a value that the user has to fix.
class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

// A failure while running that is not the user's input (I/O failure, solver breakdown).
class RunError : public std::runtime_error {
 public:
  explicit RunError(const std::string& message) : std::runtime_error(message) {}
};

// MuJoCo raised an error (mju_error) inside a call; the mjData it worked on is suspect.
class MujocoError : public std::runtime_error {
 public:
  explicit MujocoError(const std::string& message) : std::runtime_error(message) {}
};

// A broken internal invariant: a bug in nextbatch.
class LogicError : public std::logic_error {
 public:
  explicit LogicError(const std::string& message) : std::logic_error(message) {}
};

// "where: expected X, got Y", the one shape of every input message.
std::string Expected(const std::string& where, const std::string& expected, const std::string& got);

// A number for messages: up to 12 significant digits, no trailing zeros ("0.25", "1e-09").
std::string FormatNumber(double x);

// Throws InputError(Expected(where, expected, got)).
[[noreturn]] void ThrowExpected(const std::string& where, const std::string& expected,
                                const std::string& got);

}  // namespace nextbatch

#define NB_CHECK(cond)                                                                       \
  do {                                                                                       \
    if (!(cond))                                                                             \
      throw ::nextbatch::LogicError(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                                    ": check failed: " #cond);                               \
  } while (0)

#endif  // NEXTBATCH_ENGINE_ERROR_H_
