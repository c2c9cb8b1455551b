#include "engine/output_set.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "engine/atomic_file.h"
#include "engine/error.h"

namespace nextbatch {
namespace fs = std::filesystem;
namespace {

std::string Errno() { return std::strerror(errno); }

// Syncs a folder so that a rename inside it survives a power cut.
void SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Swaps two paths in one step; false when the file system cannot (the caller falls back).
bool Exchange(const std::string& a, const std::string& b) {
#ifdef RENAME_EXCHANGE
  if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0) return true;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) {
    throw RunError(b + ": cannot publish: " + Errno());
  }
#else
  (void)a;
  (void)b;
#endif
  return false;
}

}  // namespace

std::string StageDir(const std::string& root, const std::string& stage) {
  return (fs::path(root) / stage).string();
}

void FaultPoint(const std::string& name) {
  const char* fault = std::getenv("NEXTBATCH_FAULT");
  if (fault && name == fault) std::raise(SIGKILL);
}

OutputSet::OutputSet(std::string root, std::string stage)
    : root_(std::move(root)), stage_(std::move(stage)) {
  if (root_.empty()) ThrowExpected("-o", "an output folder", "an empty path");
  std::error_code ec;
  if (fs::exists(root_, ec) && !fs::is_directory(root_, ec)) {
    ThrowExpected(root_, "an output folder", "a file that is not a folder");
  }
  // the stage's folder is replaced when the set is published: never a user's file or folder
  // that is not a set (a set has its manifest)
  if (fs::exists(final_dir(), ec)) {
    if (!fs::is_directory(final_dir(), ec)) {
      ThrowExpected(final_dir(), "the stage's output folder (replaced by this run)",
                    "a file that is not a folder; move it or write to another output folder");
    }
    if (!fs::exists(fs::path(final_dir()) / kManifestFile, ec) && !fs::is_empty(final_dir(), ec)) {
      ThrowExpected(final_dir(), "the stage's output folder (replaced by this run)",
                    "a folder with files but no " + std::string(kManifestFile) +
                        " (not an output set); move it or write to another output folder");
    }
  }
  created_root_ = !fs::exists(root_, ec);
  EnsureDirectory(root_);
  // The lock: flock on a file that this run removes when it ends. A run that finds the file
  // replaced under it (the holder removed it between our open and flock) tries again.
  lock_path_ = (fs::path(root_) / ("." + stage_ + ".lock")).string();
  for (int attempt = 0; attempt < 100 && lock_fd_ < 0; ++attempt) {
    const int fd = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw RunError(lock_path_ + ": cannot create the stage's lock: " + Errno());
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      char pid[32] = {0};
      const ssize_t n = ::pread(fd, pid, sizeof(pid) - 1, 0);
      ::close(fd);
      if (created_root_) fs::remove(root_, ec);
      throw InputError(final_dir() + ": another nextbatch run is writing this stage" +
                       (n > 0 ? " (process " + std::string(pid, n) + ")" : std::string()) +
                       "; wait for it to finish or write to another output folder");
    }
    struct stat held {
    }, now{};
    if (::fstat(fd, &held) == 0 && ::stat(lock_path_.c_str(), &now) == 0 &&
        held.st_ino == now.st_ino && held.st_dev == now.st_dev) {
      lock_fd_ = fd;
    } else {
      ::close(fd);
    }
  }
  if (lock_fd_ < 0) throw RunError(lock_path_ + ": cannot take the stage's lock");
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    // the pid is only for messages
  }
  // What killed runs of this stage left: staging folders and replaced sets.
  const std::string prefix = "." + stage_ + ".staging.";
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) fs::remove_all(entry.path(), ec);
  }
  staging_ = (fs::path(root_) / (prefix + pid)).string();
  fs::create_directory(staging_, ec);
  if (ec) {
    const std::string why = ec.message();
    ::unlink(lock_path_.c_str());
    ::close(lock_fd_);
    throw RunError(staging_ + ": cannot create: " + why);
  }
}

OutputSet::~OutputSet() {
  std::error_code ec;
  if (!published_) fs::remove_all(staging_, ec);
  if (lock_fd_ >= 0) {
    ::unlink(lock_path_.c_str());
    ::close(lock_fd_);
  }
  if (created_root_ && !published_ && fs::is_empty(root_, ec)) fs::remove(root_, ec);
}

std::string OutputSet::File(const std::string& name) const {
  return (fs::path(staging_) / name).string();
}

void OutputSet::Publish(Manifest manifest) {
  NB_CHECK(!published_);
  manifest.stage = stage_;
  manifest.files = DigestFiles(staging_);
  WriteFileAtomic(File(kManifestFile), ManifestToJson(manifest).dump(1) + "\n");
  SyncDirectory(staging_);
  FaultPoint(stage_ + ".staged");
  const std::string dest = final_dir();
  std::error_code ec;
  if (!fs::exists(dest, ec)) {
    if (std::rename(staging_.c_str(), dest.c_str()) != 0) {
      throw RunError(dest + ": cannot publish: " + Errno());
    }
  } else if (Exchange(staging_, dest)) {
    // the previous set now sits under the staging name
    FaultPoint(stage_ + ".exchanged");
    fs::remove_all(staging_, ec);
  } else {
    // no atomic exchange on this file system: move the old set aside first
    const std::string old = staging_ + ".old";
    if (std::rename(dest.c_str(), old.c_str()) != 0 ||
        std::rename(staging_.c_str(), dest.c_str()) != 0) {
      throw RunError(dest + ": cannot publish: " + Errno());
    }
    FaultPoint(stage_ + ".exchanged");
    fs::remove_all(old, ec);
  }
  SyncDirectory(root_);
  published_ = true;
  FaultPoint(stage_ + ".published");
}

}  // namespace nextbatch
