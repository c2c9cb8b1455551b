#include "engine/json_reader.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "engine/atomic_file.h"
#include "engine/error.h"
#include "engine/resource_limits.h"

namespace nextbatch {

namespace {

// Objects being parsed, outermost first: the keys seen so far and the key being read, so that a
// key given twice (which nlohmann keeps silently, the last one winning) is refused by name.
struct OpenObject {
  std::set<std::string> keys;
  std::string current;
};

std::string KeyPath(const std::vector<OpenObject>& open) {
  std::string path;
  for (std::size_t i = 0; i + 1 < open.size(); ++i) {
    path += (path.empty() ? "" : ".") + open[i].current;
  }
  return path.empty() ? "(top level)" : path;
}

}  // namespace

constexpr int kMaxJsonDepth = 256;

nlohmann::json ParseJson(const std::string& text, const std::string& file) {
  std::vector<OpenObject> open;
  const nlohmann::json::parser_callback_t check_keys = [&](int depth,
                                                           nlohmann::json::parse_event_t event,
                                                           nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    // No file of nextbatch nests more than a few levels; thousands would only exhaust the stack
    // of whatever walks the document later.
    if (depth > kMaxJsonDepth) {
      ThrowExpected(file, "JSON nested at most " + std::to_string(kMaxJsonDepth) + " levels deep",
                    "deeper nesting");
    }
    if (event == Event::object_start) {
      open.emplace_back();
    } else if (event == Event::object_end) {
      if (!open.empty()) open.pop_back();
    } else if (event == Event::key && !open.empty()) {
      std::string key = parsed.get<std::string>();
      if (!open.back().keys.insert(key).second) {
        ThrowExpected(file + ": " + KeyPath(open), "each key once", "\"" + key + "\" twice");
      }
      open.back().current = std::move(key);
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text, check_keys);
  } catch (const nlohmann::json::parse_error& e) {
    // Turn the byte offset into a line and column a person can find.
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < text.size() && i + 1 < e.byte; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    // nlohmann: "[json.exception.parse_error.101] parse error at line L, column C: <reason>";
    // the reason may quote the text read, colons included.
    std::string what = e.what();
    const auto at = what.find("column ");
    const auto colon = what.find(": ", at == std::string::npos ? 0 : at);
    throw InputError(file + ": invalid JSON at line " + std::to_string(line) + ", column " +
                     std::to_string(column) + ": " +
                     (colon == std::string::npos ? what : what.substr(colon + 2)));
  } catch (const nlohmann::json::exception& e) {
    // A number beyond the range of a double ("1e309") is out_of_range, without a position.
    std::string what = e.what();
    auto bracket = what.find("] ");
    throw InputError(Expected(file, "valid JSON with numbers within +-1.8e308",
                              bracket == std::string::npos ? what : what.substr(bracket + 2)));
  }
}

nlohmann::json ReadJsonFile(const std::string& path, std::uint64_t max_bytes) {
  CheckInputFile(path, max_bytes, "a JSON file");
  return ParseJson(ReadFile(path), path);
}

std::string Describe(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case nlohmann::json::value_t::string: {
      std::string s = v.get<std::string>();
      if (s.size() > 40) s = s.substr(0, 37) + "...";
      return "the string \"" + s + "\"";
    }
    case nlohmann::json::value_t::array:
      return "an array of " + std::to_string(v.size());
    case nlohmann::json::value_t::object:
      return "an object";
    default: {
      std::string s = v.dump();
      if (s.size() > 40) s = s.substr(0, 40);
      return s;
    }
  }
}

JsonReader::JsonReader(const nlohmann::json& object, std::string file, std::string path)
    : object_(&object), file_(std::move(file)), path_(std::move(path)) {
  if (!object.is_object()) ThrowExpected(Where(), "an object", Describe(object));
}

std::string JsonReader::Where(const std::string& key) const {
  std::string p = path_;
  if (!key.empty()) p += (p.empty() ? "" : ".") + key;
  return file_ + ": " + (p.empty() ? "(top level)" : p);
}

bool JsonReader::Has(const std::string& key) const { return object_->contains(key); }

const nlohmann::json& JsonReader::Raw(const std::string& key) const {
  auto it = object_->find(key);
  if (it == object_->end()) ThrowExpected(Where(key), "a value (the field is required)", "none");
  read_.insert(key);
  return *it;
}

double JsonReader::Number(const std::string& key) const {
  const auto& v = Raw(key);
  if (!v.is_number()) ThrowExpected(Where(key), "a number", Describe(v));
  double x = v.get<double>();
  if (!std::isfinite(x)) ThrowExpected(Where(key), "a finite number", Describe(v));
  return x;
}

double JsonReader::Number(const std::string& key, double fallback) const {
  return Has(key) ? Number(key) : fallback;
}

int JsonReader::Integer(const std::string& key) const {
  const auto& v = Raw(key);
  if (!v.is_number_integer() || v.get<long long>() > std::numeric_limits<int>::max() ||
      v.get<long long>() < std::numeric_limits<int>::min()) {
    ThrowExpected(Where(key), "an integer", Describe(v));
  }
  return v.get<int>();
}

int JsonReader::Integer(const std::string& key, int fallback) const {
  return Has(key) ? Integer(key) : fallback;
}

bool JsonReader::Bool(const std::string& key, bool fallback) const {
  if (!Has(key)) return fallback;
  const auto& v = Raw(key);
  if (!v.is_boolean()) ThrowExpected(Where(key), "true or false", Describe(v));
  return v.get<bool>();
}

std::string JsonReader::String(const std::string& key) const {
  const auto& v = Raw(key);
  if (!v.is_string()) ThrowExpected(Where(key), "a string", Describe(v));
  return v.get<std::string>();
}

std::string JsonReader::String(const std::string& key, const std::string& fallback) const {
  return Has(key) ? String(key) : fallback;
}

std::string JsonReader::Choice(const std::string& key, const std::vector<std::string>& choices,
                               const std::string& fallback) const {
  if (!Has(key)) return fallback;
  std::string s = String(key);
  std::string list;
  for (const auto& c : choices) {
    if (c == s) return s;
    list += (list.empty() ? "" : ", ") + c;
  }
  ThrowExpected(Where(key), "one of " + list, "\"" + s + "\"");
}

std::vector<double> JsonReader::Numbers(const std::string& key) const {
  const auto& v = Raw(key);
  if (!v.is_array()) ThrowExpected(Where(key), "an array of numbers", Describe(v));
  std::vector<double> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number() || !std::isfinite(v[i].get<double>())) {
      ThrowExpected(Where(key) + "[" + std::to_string(i) + "]", "a finite number", Describe(v[i]));
    }
    out.push_back(v[i].get<double>());
  }
  return out;
}

std::vector<std::string> JsonReader::Strings(const std::string& key) const {
  const auto& v = Raw(key);
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) ThrowExpected(Where(key), "a string or an array of strings", Describe(v));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) {
      ThrowExpected(Where(key) + "[" + std::to_string(i) + "]", "a string", Describe(v[i]));
    }
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

JsonReader JsonReader::Object(const std::string& key) const {
  const auto& v = Raw(key);
  std::string p = path_.empty() ? key : path_ + "." + key;
  return JsonReader(v, file_, p);
}

std::vector<JsonReader> JsonReader::Objects(const std::string& key) const {
  const auto& v = Raw(key);
  if (!v.is_array()) ThrowExpected(Where(key), "an array of objects", Describe(v));
  std::vector<JsonReader> out;
  std::string p = path_.empty() ? key : path_ + "." + key;
  for (std::size_t i = 0; i < v.size(); ++i) {
    out.emplace_back(v[i], file_, p + "[" + std::to_string(i) + "]");
  }
  return out;
}

void JsonReader::CheckAllRead() const {
  for (auto it = object_->begin(); it != object_->end(); ++it) {
    if (!read_.count(it.key())) {
      throw InputError(Where(it.key()) + ": unknown key (a typo, or a field of another place?)");
    }
  }
}

void JsonReader::CheckKnownKeys(const std::vector<std::string>& known) const {
  for (auto it = object_->begin(); it != object_->end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    throw InputError(Where(it.key()) + ": unknown key (the known keys: " + list + ")");
  }
}

}  // namespace nextbatch
