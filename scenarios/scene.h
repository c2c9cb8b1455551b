// Loading a scene MJCF that includes a robot model from elsewhere. MuJoCo 2.2.2 requires every
// keyframe's qpos to cover the whole composed model, so a robot file with its own keyframe
// (the Menagerie arms' "home") fails to load once a scene adds objects with joints. The scene
// loader retries with the keyframes of the included files removed, through MuJoCo's virtual
// file system: the files on disk stay untouched and the scene may declare its own keyframes.
#ifndef NEXTBATCH_SCENARIOS_SCENE_H_
#define NEXTBATCH_SCENARIOS_SCENE_H_

#include <string>

#include "engine/model.h"

namespace nextbatch {

// Loads `path` as LoadModelFile does; when MuJoCo rejects a keyframe (its size, or a name that
// the scene repeats), loads it again
// with <keyframe> sections stripped from the files that `path` includes. Throws InputError.
ModelPtr LoadSceneFile(const std::string& path);

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_SCENE_H_
