#include "engine/model.h"

#include <cstring>
#include <filesystem>
#include <mutex>
#include <regex>
#include <vector>

#include "engine/atomic_file.h"
#include "engine/error.h"
#include "engine/resource_limits.h"

namespace nextbatch {
namespace {

// MuJoCo's XML parser keeps global state (the last parsed model): serialise every load.
std::mutex& LoaderMutex() {
  static std::mutex mutex;
  return mutex;
}

// Throwing from here unwinds through MuJoCo's C frames, which GCC builds with unwind tables on
// x86-64 and aarch64; the mjData in use is left with its stack marked and must be reset.
void ThrowOnMujocoError(const char* msg) { throw MujocoError(std::string("MuJoCo: ") + msg); }

// Warnings are counted in mjData::warning; printing them from worker threads helps nobody.
void IgnoreMujocoWarning(const char*) {}

struct VfsDeleter {
  void operator()(mjVFS* vfs) const {
    mj_deleteVFS(vfs);
    delete vfs;
  }
};

}  // namespace

void InstallMujocoHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    mju_user_error = ThrowOnMujocoError;
    mju_user_warning = IgnoreMujocoWarning;
  });
}

namespace {

ModelPtr LoadModelFileOnce(const std::string& path) {
  char error[1024] = "";
  mjModel* m = nullptr;
  {
    std::lock_guard<std::mutex> lock(LoaderMutex());
    try {
      m = mj_loadXML(path.c_str(), nullptr, error, sizeof(error));
    } catch (const MujocoError& e) {
      throw InputError(path + ": cannot load model: " + e.what());
    }
  }
  if (!m) {
    throw InputError(path + ": cannot load model: " + (error[0] ? error : "unknown MuJoCo error"));
  }
  return ModelPtr(m);
}

}  // namespace

namespace {

ModelPtr LoadModelFileWithKeyframeFix(const std::string& path) {
  try {
    return LoadModelFileOnce(path);
  } catch (const InputError& e) {
    const std::string what = e.what();
    // MuJoCo 2.2.2 wants every keyframe to cover the whole composed model, so a robot file
    // with its own keyframe (Menagerie's "home") fails once a scene that includes it adds
    // objects with joints; or the scene repeats the keyframe's name.
    const bool key_size = what.find("invalid qpos size") != std::string::npos;
    const bool key_name = what.find("repeated name in key") != std::string::npos;
    if (!key_size && !key_name) throw;
  }
  // Load again with the keyframes of the included files removed, through the virtual file
  // system: the files on disk stay untouched and the scene may declare its own keyframes.
  const std::string scene = ReadFile(path);
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::map<std::string, std::string> assets;  // MuJoCo's VFS finds files by name alone
  const std::regex include(R"re(<include\s+file\s*=\s*"([^"]+)")re");
  const std::regex keyframe(R"re(<keyframe>[\s\S]*?</keyframe>)re");
  for (auto it = std::sregex_iterator(scene.begin(), scene.end(), include);
       it != std::sregex_iterator(); ++it) {
    const std::string file = (*it)[1];
    const std::string text = ReadFile((dir / file).string());
    assets[std::filesystem::path(file).filename().string()] =
        std::regex_replace(text, keyframe, "");
  }
  if (assets.empty()) return LoadModelFileOnce(path);  // rethrows the original error
  return LoadModelString(scene, assets, path);
}

}  // namespace

void CheckModelTimestep(const mjModel* m, const std::string& name) {
  const double h = m->opt.timestep;
  if (!(h > 0) || h > kMaxModelTimestep) {
    ThrowExpected(name + ": option.timestep",
                  "a time step in (0, " + FormatNumber(kMaxModelTimestep) + "] s", FormatNumber(h));
  }
}

ModelPtr LoadModelFile(const std::string& path) {
  InstallMujocoHandlers();
  CheckInputFile(path, kMaxModelFileBytes, "an MJCF model");
  ModelPtr m = LoadModelFileWithKeyframeFix(path);
  CheckModelTimestep(m.get(), path);
  return m;
}

ModelPtr LoadModelString(const std::string& xml, const std::map<std::string, std::string>& assets,
                         const std::string& name) {
  InstallMujocoHandlers();
  // mjVFS holds 2000 file names of 1000 bytes: far too large for the stack.
  std::unique_ptr<mjVFS, VfsDeleter> vfs(new mjVFS);
  mj_defaultVFS(vfs.get());
  auto add = [&](const std::string& file, const std::string& bytes) {
    if (file.empty() || file.size() >= mjMAXVFSNAME) {
      throw InputError(name + ": asset name '" + file + "' is empty or too long");
    }
    int rc = mj_makeEmptyFileVFS(vfs.get(), file.c_str(), static_cast<int>(bytes.size()));
    if (rc != 0) {
      throw InputError(name + ": cannot add asset '" + file +
                       "' to MuJoCo's virtual file system (" +
                       (rc == 2 ? "repeated name" : "file system full") + ")");
    }
    int i = mj_findFileVFS(vfs.get(), file.c_str());
    std::memcpy(vfs->filedata[i], bytes.data(), bytes.size());
  };
  add(name, xml);
  for (const auto& [file, bytes] : assets) add(file, bytes);
  char error[1024] = "";
  mjModel* m = nullptr;
  {
    std::lock_guard<std::mutex> lock(LoaderMutex());
    try {
      m = mj_loadXML(name.c_str(), vfs.get(), error, sizeof(error));
    } catch (const MujocoError& e) {
      throw InputError(name + ": cannot load model: " + e.what());
    }
  }
  if (!m) {
    throw InputError(name + ": cannot load model: " + (error[0] ? error : "unknown MuJoCo error"));
  }
  return ModelPtr(m);
}

ModelPtr CopyModel(const mjModel* m) {
  InstallMujocoHandlers();
  mjModel* copy = mj_copyModel(nullptr, m);
  if (!copy) throw MujocoError("MuJoCo: cannot copy model");
  return ModelPtr(copy);
}

DataPtr MakeData(const mjModel* m) {
  InstallMujocoHandlers();
  mjData* d = mj_makeData(m);
  if (!d) throw MujocoError("MuJoCo: cannot allocate mjData");
  return DataPtr(d);
}

void SaveModelXml(const std::string& source_path, const mjModel* m, const std::string& path) {
  InstallMujocoHandlers();
  std::lock_guard<std::mutex> lock(LoaderMutex());
  char error[1024] = "";
  // Parse the source again so that the saved XML is this model's, whatever was loaded since.
  mjModel* fresh = mj_loadXML(source_path.c_str(), nullptr, error, sizeof(error));
  if (!fresh) throw RunError(source_path + ": cannot reload model to save it: " + error);
  mj_deleteModel(fresh);
  if (!mj_saveLastXML(path.c_str(), m, error, sizeof(error))) {
    throw RunError(path + ": cannot save model: " + error);
  }
}

std::string ElementName(const mjModel* m, mjtObj type, int id) {
  const char* name = mj_id2name(m, type, id);
  return name ? std::string(name) : std::string();
}

}  // namespace nextbatch
