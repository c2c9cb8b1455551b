#include "calibration/calibrated_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>

#include "engine/error.h"
#include "engine/model.h"
#include "engine/svg_plot.h"

namespace nextbatch {

std::string InertialElement(const PhysicalInertial& p) {
  char text[512];
  const auto& i = p.inertia;
  std::snprintf(text, sizeof(text),
                "<inertial pos=\"%.17g %.17g %.17g\" mass=\"%.17g\" "
                "fullinertia=\"%.17g %.17g %.17g %.17g %.17g %.17g\"/>",
                p.com[0], p.com[1], p.com[2], p.mass, i[0], i[1], i[2], i[3], i[4], i[5]);
  return text;
}

std::string WithInertialElement(const std::string& xml, const std::string& body,
                                const PhysicalInertial& p) {
  const std::string open = "<body name=\"" + XmlEscape(body) + "\"";
  std::size_t at = 0;
  while ((at = xml.find(open, at)) != std::string::npos) {
    const char next = at + open.size() < xml.size() ? xml[at + open.size()] : '\0';
    if (next == ' ' || next == '>' || next == '/' || next == '\n' || next == '\t') break;
    at += open.size();
  }
  if (at == std::string::npos) throw RunError("saved model: no element for body '" + body + "'");
  // the end of the start tag ('>' outside attribute values)
  std::size_t end = at;
  bool quoted = false;
  for (; end < xml.size(); ++end) {
    if (xml[end] == '"') quoted = !quoted;
    if (!quoted && xml[end] == '>') break;
  }
  if (end == xml.size()) throw RunError("saved model: body '" + body + "' is not closed");
  const std::size_t line = xml.rfind('\n', at);
  const std::string indent = xml.substr(line == std::string::npos ? 0 : line + 1,
                                        at - (line == std::string::npos ? 0 : line + 1)) +
                             "  ";
  const std::string element = InertialElement(p);
  if (xml[end - 1] == '/') {  // <body .../>: give it the inertial as its one child
    return xml.substr(0, end - 1) + ">\n" + indent + element + "\n" +
           indent.substr(0, indent.size() - 2) + "</body>" + xml.substr(end + 1);
  }
  std::size_t child = xml.find_first_not_of(" \t\r\n", end + 1);
  if (child != std::string::npos && xml.compare(child, 9, "<inertial") == 0 &&
      (xml[child + 9] == ' ' || xml[child + 9] == '/')) {
    const std::size_t close = xml.find("/>", child);
    if (close == std::string::npos) throw RunError("saved model: an inertial is not closed");
    return xml.substr(0, child) + element + xml.substr(close + 2);
  }
  return xml.substr(0, end + 1) + "\n" + indent + element + xml.substr(end + 1);
}

SavedModelReport SaveCalibratedModel(const std::string& model_path, const ParameterBinding& binding,
                                     const Eigen::VectorXd& values, const std::string& out_path) {
  SavedModelReport report;
  const std::string tmp = out_path + ".tmp";
  try {
    ModelPtr model = LoadModelFile(model_path);
    ModelPtr fitted = CopyModel(model.get());
    DataPtr data = MakeData(fitted.get());
    Effects effects = Effects::Identity(fitted.get());
    binding.Apply(values, fitted.get(), data.get(), &effects);
    SaveModelXml(model_path, fitted.get(), tmp);
    // MuJoCo's writer keeps an inertial only where the source stated one, and as principal
    // moments: a grouped inertial is written as the body's full inertia tensor.
    const std::vector<int> groups = InertialGroupStarts(binding.specs());
    if (!groups.empty()) {
      std::ifstream in(tmp, std::ios::binary);
      std::string xml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      in.close();
      for (int first : groups) {
        xml = WithInertialElement(xml, binding.spec(first).group->body,
                                  InertialFromCoordinates(values.segment<kInertialSize>(first)));
      }
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << xml;
      out.close();
      if (!out) throw RunError(tmp + ": cannot write");
    }
    ModelPtr saved = LoadModelFile(tmp);
    const Eigen::VectorXd back = binding.Read(saved.get(), Effects::Identity(saved.get()));
    for (int j = 0; j < binding.size(); ++j) {
      bool model_field = true;
      for (const auto& t :
           binding.spec(j).group ? std::vector<std::string>{} : binding.spec(j).targets) {
        for (const auto& f : ResolveTarget(saved.get(), t)) {
          model_field = model_field && (f.where == FieldRef::Where::kModelArray ||
                                        f.where == FieldRef::Where::kOption);
        }
      }
      const double v = values[j];
      if (!model_field) {
        report.effects_only.push_back(binding.spec(j).name);
      } else if (!(std::abs(back[j] - v) <= 1e-5 * std::max(1.0, std::abs(v)))) {
        report.not_kept.push_back({binding.spec(j).name, v, back[j]});
      }
    }
    if (std::rename(tmp.c_str(), out_path.c_str()) != 0) {
      throw std::runtime_error(out_path + ": cannot write");
    }
    report.saved = true;
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    report.saved = false;
    report.error = e.what();
    report.not_kept.clear();
    report.effects_only.clear();
  }
  return report;
}

}  // namespace nextbatch
