#include "engine/episode_selection.h"

#include <algorithm>
#include <set>

#include "engine/error.h"

namespace nextbatch {
namespace {

bool Scalar(const nlohmann::json& v) {
  return v.is_number() || v.is_string() || v.is_boolean() || v.is_null();
}

bool Same(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}

std::string Text(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string Join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + i;
  return s;
}

}  // namespace

EpisodeSelection ReadEpisodeSelection(const JsonReader& r, const std::string& key) {
  EpisodeSelection s;
  s.label = r.Where(key);
  const nlohmann::json& v = r.Raw(key);
  if (v.is_array()) {
    s.ids = r.Strings(key);
    // an empty list selecting everything would hide a slip; leave the key out for all
    if (s.ids.empty()) ThrowExpected(s.label, "at least one episode id", "[]");
  } else if (v.is_object()) {
    JsonReader o = r.Object(key);
    o.CheckKnownKeys({"ids", "where"});
    if (o.Has("ids")) s.ids = o.Strings("ids");
    if (o.Has("where")) {
      JsonReader w = o.Object("where");
      for (const auto& [name, value] : o.Raw("where").items()) {
        std::vector<nlohmann::json> values;
        if (value.is_array()) {
          values.assign(value.begin(), value.end());
        } else {
          values.push_back(value);
        }
        if (values.empty()) ThrowExpected(w.Where(name), "a value or a list of values", "[]");
        for (const auto& x : values) {
          if (!Scalar(x)) {
            ThrowExpected(w.Where(name), "a number, string, boolean or null (or a list of them)",
                          Describe(x));
          }
        }
        s.where.emplace_back(name, std::move(values));
        w.Raw(name);
      }
      w.CheckAllRead();
    }
    o.CheckAllRead();
    if (s.empty()) ThrowExpected(s.label, "ids or where", "an empty object");
  } else {
    ThrowExpected(s.label, "an array of episode ids or an object {\"where\": {key: values}}",
                  Describe(v));
  }
  for (const auto& id : s.ids) {
    if (id.empty()) ThrowExpected(s.label, "episode ids", "an empty id");
  }
  return s;
}

EpisodeSelection ParseEpisodeSelection(const std::vector<std::string>& items,
                                       const std::string& label) {
  EpisodeSelection s;
  s.label = label;
  for (const std::string& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      if (item.empty()) ThrowExpected(label, "episode ids or key=value conditions", "an empty id");
      s.ids.push_back(item);
      continue;
    }
    const std::string key = item.substr(0, eq), text = item.substr(eq + 1);
    if (key.empty() || text.empty()) {
      ThrowExpected(label, "key=value with a key and a value", "\"" + item + "\"");
    }
    nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
    if (value.is_discarded() || !Scalar(value) || value.is_string()) value = text;
    auto it =
        std::find_if(s.where.begin(), s.where.end(), [&](const auto& w) { return w.first == key; });
    if (it == s.where.end()) {
      s.where.push_back({key, {value}});
    } else {
      it->second.push_back(value);
    }
  }
  return s;
}

nlohmann::json EpisodeMetadata(const Episode& e, const std::string& key) {
  if (e.scenario.is_object() && e.scenario.contains(key)) return e.scenario.at(key);
  if (e.extra.is_object() && e.extra.contains(key)) return e.extra.at(key);
  if (key == "robot" && !e.robot.empty()) return e.robot;
  if (key == "site" && !e.site.empty()) return e.site;
  if (key == "date" && !e.date.empty()) return e.date;
  return nullptr;
}

void SelectEpisodes(Dataset* d, const EpisodeSelection& s) {
  if (s.empty()) return;
  // Every key must be metadata of some episode: a misspelt key would otherwise select nothing,
  // or (with other keys) be blamed on their values.
  for (const auto& [key, values] : s.where) {
    bool known = false;
    std::set<std::string> keys;
    for (const Episode& e : d->episodes) {
      known = known || !EpisodeMetadata(e, key).is_null();
      if (e.scenario.is_object()) {
        for (const auto& [k, v] : e.scenario.items()) keys.insert(k);
      }
      if (e.extra.is_object()) {
        for (const auto& [k, v] : e.extra.items()) keys.insert(k);
      }
      if (!e.robot.empty()) keys.insert("robot");
      if (!e.site.empty()) keys.insert("site");
      if (!e.date.empty()) keys.insert("date");
    }
    if (!known) {
      ThrowExpected(s.label + "." + key,
                    "a metadata key of the episodes (" +
                        (keys.empty() ? std::string("they have none")
                                      : Join(std::vector<std::string>(keys.begin(), keys.end()))) +
                        ")",
                    "\"" + key + "\"");
    }
  }
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < d->episodes.size(); ++i) {
    const Episode& e = d->episodes[i];
    bool match = true;
    for (const auto& [key, values] : s.where) {
      const nlohmann::json v = EpisodeMetadata(e, key);
      match = match && std::any_of(values.begin(), values.end(),
                                   [&](const nlohmann::json& x) { return Same(x, v); });
    }
    if (match) ids.push_back(e.id);
  }
  if (!s.ids.empty()) {
    // The ids must name episodes of the dataset; with conditions, both must hold.
    for (const auto& id : s.ids) {
      if (d->Find(id) >= 0) continue;
      std::vector<std::string> known;
      for (const Episode& e : d->episodes) known.push_back(e.id);
      ThrowExpected(s.label, "episode ids of the dataset (" + Join(known) + ")", "'" + id + "'");
    }
    std::vector<std::string> both;
    for (const auto& id : ids) {
      if (std::find(s.ids.begin(), s.ids.end(), id) != s.ids.end()) both.push_back(id);
    }
    ids = both;
  }
  if (ids.empty()) {
    std::string seen;
    for (const auto& [key, values] : s.where) {
      std::set<std::string> found;
      for (const Episode& e : d->episodes) found.insert(Text(EpisodeMetadata(e, key)));
      seen += std::string(seen.empty() ? "" : "; ") + key + ": " +
              Join(std::vector<std::string>(found.begin(), found.end()));
    }
    ThrowExpected(s.label, "at least one episode selected",
                  "none of " + std::to_string(d->episodes.size()) +
                      (seen.empty() ? std::string() : " (their values: " + seen + ")"));
  }
  KeepEpisodes(d, ids, s.label);
}

}  // namespace nextbatch
