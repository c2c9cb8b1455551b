#include "scenarios/scene.h"

#include <filesystem>
#include <map>
#include <regex>

#include "engine/atomic_file.h"
#include "engine/error.h"

namespace nextbatch {

ModelPtr LoadSceneFile(const std::string& path) {
  try {
    return LoadModelFile(path);
  } catch (const InputError& e) {
    const std::string what = e.what();
    // a keyframe too short for the scene, or one named twice (the scene's own "home")
    const bool key_size = what.find("invalid qpos size") != std::string::npos;
    const bool key_name = what.find("repeated name in key") != std::string::npos;
    if (!key_size && !key_name) {
      throw;
    }
  }
  const std::string scene = ReadFile(path);
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  // MuJoCo's VFS finds files by their name without directories.
  std::map<std::string, std::string> assets;
  const std::regex include(R"re(<include\s+file\s*=\s*"([^"]+)")re");
  const std::regex keyframe(R"re(<keyframe>[\s\S]*?</keyframe>)re");
  for (auto it = std::sregex_iterator(scene.begin(), scene.end(), include);
       it != std::sregex_iterator(); ++it) {
    const std::string file = (*it)[1];
    const std::string text = ReadFile((dir / file).string());
    assets[std::filesystem::path(file).filename().string()] =
        std::regex_replace(text, keyframe, "");
  }
  if (assets.empty()) return LoadModelFile(path);  // rethrows the original error
  return LoadModelString(scene, assets, path);
}

}  // namespace nextbatch
