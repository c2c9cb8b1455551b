// Ingest throughput: importing and cleaning the DFKI gravity compensation log (30000 samples,
// 1 kHz), beside a reference measured in the same run: the bare cost of reading the file and
// converting every field with strtod. Prints samples per second and the ratio to the reference.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/atomic_file.h"
#include "engine/cleaning.h"
#include "engine/importer.h"

namespace {

double Seconds(const std::chrono::steady_clock::time_point& t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nextbatch;
  const std::string path =
      argc > 1 ? argv[1]
               : std::string(NEXTBATCH_SHARED_DIR) +
                     "/realdata/dfki_simple_pendulum/results/control_method_gravity_compensation/"
                     "data_measured.csv";
  if (!std::filesystem::exists(path)) {
    std::printf("skipped: %s is absent\n", path.c_str());
    return 0;
  }
  const nlohmann::json doc = nlohmann::json::parse(R"({"time": {"column": "time", "unit": "s"},
      "qpos": [{"column": "position", "joint": "shoulder", "unit": "rad"}],
      "qvel": [{"column": "velocity", "joint": "shoulder", "unit": "rad/s"}],
      "ctrl": [{"column": "torque", "actuator": "motor", "unit": "Nm"}]})");
  const ImporterSpec spec = ReadImporterSpec(JsonReader(doc, "bench", "importer"));
  const int repeats = 5;

  auto t0 = std::chrono::steady_clock::now();
  double checksum = 0;
  long fields = 0;
  for (int r = 0; r < repeats; ++r) {
    const std::string text = ReadFile(path);
    const char* p = text.c_str();
    while (*p && *p != '\n') ++p;  // header
    while (*p) {
      char* end;
      checksum += std::strtod(p, &end);
      ++fields;
      p = end;
      while (*p == ',' || *p == '\n' || *p == '\r') ++p;
    }
  }
  const double reference = Seconds(t0) / repeats;

  t0 = std::chrono::steady_clock::now();
  int samples = 0;
  for (int r = 0; r < repeats; ++r) samples = ImportFile(spec, path).samples_read;
  const double import = Seconds(t0) / repeats;

  const RawEpisode raw = ImportFile(spec, path);
  CleaningOptions options;  // logged velocity; checks, then resampled at 1 kHz
  t0 = std::chrono::steady_clock::now();
  int out = 0;
  for (int r = 0; r < repeats; ++r) out = CleanEpisode(raw, options, 0.001).quality[0].samples_out;
  const double clean = Seconds(t0) / repeats;

  std::printf("file: %s (%d samples, %ld fields; checksum %.3f)\n", path.c_str(), samples,
              fields / repeats, checksum / repeats);
  std::printf("reference (read + strtod every field): %8.2f ms  %10.0f samples/s\n",
              1e3 * reference, samples / reference);
  std::printf("import (CSV, mapping, SI):             %8.2f ms  %10.0f samples/s  ratio %.2f\n",
              1e3 * import, samples / import, import / reference);
  std::printf(
      "clean (checks, resample at 1 kHz):    %8.2f ms  %10.0f samples/s  ratio %.2f  "
      "(%d samples out)\n",
      1e3 * clean, samples / clean, clean / reference, out);
  return 0;
}
