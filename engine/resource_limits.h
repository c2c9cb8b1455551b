// Limits on the work and the files a run accepts, so that a bad input is refused up front with
// the size it would have needed instead of running out of memory or reading forever.
#ifndef NEXTBATCH_ENGINE_RESOURCE_LIMITS_H_
#define NEXTBATCH_ENGINE_RESOURCE_LIMITS_H_

#include <cstdint>
#include <string>

namespace nextbatch {

// Bytes this process may still allocate: the smaller of MemAvailable (/proc/meminfo) and the
// room left under its cgroup's memory limit (v2 memory.max - memory.current, or v1
// memory.limit_in_bytes - memory.usage_in_bytes). Parsed from the given files so that tests can
// hand in their own; a file that is absent or unreadable is ignored. When nothing can be read:
// 4 GiB, a guess that refuses little.
std::uint64_t UsableMemoryBytes(const std::string& meminfo = "/proc/meminfo",
                                const std::string& cgroup_dir = "/sys/fs/cgroup");

// The default limit of one sized piece of work (e.g. a resampling grid): a quarter of
// UsableMemoryBytes(), leaving room for everything else the run holds at the same time.
std::uint64_t DefaultWorkMemoryLimit();

// "1.5 GiB", "12 MiB", "512 bytes": sizes in messages.
std::string FormatBytes(std::uint64_t bytes);

// Largest JSON document read whole (a study, an episode sidecar, a calibration): far above any
// real one, low enough that a wrong file is refused at once.
constexpr std::uint64_t kMaxJsonDocumentBytes = 64ull << 20;
// Largest MJCF file (meshes are loaded by MuJoCo from their own files).
constexpr std::uint64_t kMaxModelFileBytes = 64ull << 20;

// Checks that `path` is a regular file (not a directory, FIFO, device or socket: those could be
// read forever) of at most `max_bytes`. Throws InputError "path: expected <what> ..., got ...".
void CheckInputFile(const std::string& path, std::uint64_t max_bytes, const std::string& what);

// The largest log file read whole: a share of the usable memory (a parsed log takes several
// times its text), at least 64 MiB.
std::uint64_t MaxLogFileBytes();

// Bounds on a logged value once converted to SI units. No joint position, velocity, command or
// sensor reading of a robot reaches 1e9 (rad, m, rad/s, N m, ...); such a value is a corrupt field,
// an overflowed register or a missing unit conversion, and accepting it would only move the
// failure into the fit. Timestamps get room for epoch clocks (1.7e9 s today): 1e12 s.
constexpr double kMaxLoggedMagnitude = 1e9;
constexpr double kMaxLoggedTime = 1e12;

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_RESOURCE_LIMITS_H_
