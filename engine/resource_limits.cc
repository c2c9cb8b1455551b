#include "engine/resource_limits.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"

namespace nextbatch {
namespace {

// The first whitespace-separated number of a file ("max" and unreadable files give false).
bool ReadNumber(const std::string& path, std::uint64_t* value) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word.empty() || word.find_first_not_of("0123456789") != std::string::npos)
    return false;
  try {
    *value = std::stoull(word);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// Room left under a limit, when the limit is a real one (v1 reports "no limit" as ~2^63).
void TakeCgroup(const std::string& limit_file, const std::string& usage_file, std::uint64_t* best) {
  std::uint64_t limit = 0, usage = 0;
  if (!ReadNumber(limit_file, &limit) || limit >= (1ull << 60)) return;
  if (!ReadNumber(usage_file, &usage)) usage = 0;
  *best = std::min(*best, limit > usage ? limit - usage : 0);
}

}  // namespace

std::uint64_t UsableMemoryBytes(const std::string& meminfo, const std::string& cgroup_dir) {
  constexpr std::uint64_t kUnknown = ~0ull;
  std::uint64_t best = kUnknown;
  std::ifstream in(meminfo);
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (in >> key) {
    if (key == "MemAvailable:" && in >> kib) {
      best = kib * 1024;
      break;
    }
    std::getline(in, unit);
  }
  TakeCgroup(cgroup_dir + "/memory.max", cgroup_dir + "/memory.current", &best);
  TakeCgroup(cgroup_dir + "/memory/memory.limit_in_bytes",
             cgroup_dir + "/memory/memory.usage_in_bytes", &best);
  return best == kUnknown ? (4ull << 30) : best;
}

std::uint64_t DefaultWorkMemoryLimit() { return UsableMemoryBytes() / 4; }

std::string FormatBytes(std::uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double x = static_cast<double>(bytes);
  int u = 0;
  while (x >= 1024 && u < 6) {
    x /= 1024;
    ++u;
  }
  char buf[64];
  if (u == 0) {
    std::snprintf(buf, sizeof(buf), "%llu bytes", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof(buf), "%.3g %s", x, units[u]);
  }
  return buf;
}

void CheckInputFile(const std::string& path, std::uint64_t max_bytes, const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) ThrowExpected(path, "an existing file (" + what + ")", "none");
  if (!fs::is_regular_file(st)) {
    std::string kind = "not a regular file";
    if (fs::is_directory(st)) kind = "a directory";
    if (fs::is_fifo(st)) kind = "a pipe (FIFO)";
    if (fs::is_character_file(st) || fs::is_block_file(st)) kind = "a device";
    if (fs::is_socket(st)) kind = "a socket";
    ThrowExpected(path, "a regular file (" + what + ")", kind);
  }
  const std::uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > max_bytes) {
    ThrowExpected(path, what + " of at most " + FormatBytes(max_bytes),
                  FormatBytes(size) + " (is it the right file?)");
  }
}

std::uint64_t MaxLogFileBytes() {
  return std::max<std::uint64_t>(64ull << 20, DefaultWorkMemoryLimit() / 4);
}

}  // namespace nextbatch
