// Output written atomically: a temporary file beside the target, then rename, so that a killed
// run never leaves a half-written file under the final name.
#ifndef NEXTBATCH_ENGINE_ATOMIC_FILE_H_
#define NEXTBATCH_ENGINE_ATOMIC_FILE_H_

#include <string>

namespace nextbatch {

// Writes `content` to `path` atomically. Throws RunError naming the path on failure.
void WriteFileAtomic(const std::string& path, const std::string& content);

// Creates the directory (and parents) when missing. Throws RunError on failure.
void EnsureDirectory(const std::string& path);

// Reads a whole file. Throws InputError naming the path when it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_ATOMIC_FILE_H_
