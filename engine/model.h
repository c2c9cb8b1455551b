// MuJoCo model and data handles, and loading MJCF with errors turned into exceptions.
#ifndef NEXTBATCH_ENGINE_MODEL_H_
#define NEXTBATCH_ENGINE_MODEL_H_

#include <mujoco/mujoco.h>

#include <map>
#include <memory>
#include <string>

namespace nextbatch {

struct ModelDeleter {
  void operator()(mjModel* m) const { mj_deleteModel(m); }
};
struct DataDeleter {
  void operator()(mjData* d) const { mj_deleteData(d); }
};
using ModelPtr = std::unique_ptr<mjModel, ModelDeleter>;
using DataPtr = std::unique_ptr<mjData, DataDeleter>;

// Installs MuJoCo's error and warning handlers once per process: errors become MujocoError
// exceptions (MuJoCo 2.2.2's default handler exits the process), warnings are counted in
// mjData::warning and not printed. Every loader and workspace calls it; calling it again is free.
void InstallMujocoHandlers();

// The longest model time step accepted (s). MuJoCo's default is 0.002 s; a step above 0.1 s
// cannot resolve the dynamics of any robot a log comes from (contacts, servo loops at 10 Hz and
// faster), and resampling logs onto it would throw their content away. Such a step is a unit
// slip (ms written as s), not a choice.
constexpr double kMaxModelTimestep = 0.1;

// Throws InputError "name: option.timestep: expected a time step in (0, 0.1] s, got X".
void CheckModelTimestep(const mjModel* m, const std::string& name);

// Loads an MJCF (or URDF) file: a regular file of at most 64 MiB, its time step checked by
// CheckModelTimestep. Throws InputError naming the file and MuJoCo's message. A scene
// whose included robot file carries keyframes that no longer fit the composed model (MuJoCo
// 2.2.2 refuses those) is loaded again with the included files' keyframes removed.
ModelPtr LoadModelFile(const std::string& path);

// Compiles MJCF text through MuJoCo's virtual file system. `assets` maps file names that the XML
// refers to (meshes, included files) to their bytes. `name` labels error messages.
ModelPtr LoadModelString(const std::string& xml,
                         const std::map<std::string, std::string>& assets = {},
                         const std::string& name = "model.xml");

// Deep copy of a compiled model (for a thread that changes parameters).
ModelPtr CopyModel(const mjModel* m);

// Fresh data for a model; throws MujocoError when MuJoCo cannot allocate it.
DataPtr MakeData(const mjModel* m);

// Saves `m` as MJCF at `path`: the model must be the one most recently loaded by this process
// from XML, as MuJoCo 2.2.2 keeps only the last parsed XML; the values in `m` (e.g. fitted
// parameters) are written into it. Throws RunError on failure.
void SaveModelXml(const std::string& source_path, const mjModel* m, const std::string& path);

// Name of element `id` of type `type` ("" when unnamed).
std::string ElementName(const mjModel* m, mjtObj type, int id);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_MODEL_H_
