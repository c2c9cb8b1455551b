#include "engine/csv_table.h"

#include <cstdlib>
#include <limits>

#include "engine/error.h"

namespace nextbatch {

bool ParseCsvNumber(const std::string& field, double* value) {
  std::size_t b = 0, e = field.size();
  while (b < e && (field[b] == ' ' || field[b] == '\t' || field[b] == '"')) ++b;
  while (e > b && (field[e - 1] == ' ' || field[e - 1] == '\t' || field[e - 1] == '\r' ||
                   field[e - 1] == '"'))
    --e;
  if (b == e) {
    *value = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  const std::string s = field.substr(b, e - b);
  char* end = nullptr;
  *value = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

CsvTable ParseCsv(const std::string& text, const std::string& path, char delimiter,
                  bool has_header) {
  CsvTable t;
  auto split = [delimiter](const std::string& line) {
    std::vector<std::string> f;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= line.size(); ++i) {
      if (i == line.size() || line[i] == delimiter) {
        f.push_back(line.substr(start, i - start));
        start = i + 1;
      }
    }
    return f;
  };
  // A UTF-8 byte order mark (spreadsheet exports) is not part of the first column's name.
  std::size_t pos = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  int line_no = 0;
  bool have_header = false;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#') continue;
    std::vector<std::string> f = split(line);
    if (!have_header && !has_header) {
      // Columns are known by their 0-based index only; the first line is a sample.
      for (std::size_t i = 0; i < f.size(); ++i) t.header.push_back(std::to_string(i));
      have_header = true;
    }
    if (!have_header) {
      for (auto& h : f) {
        while (!h.empty() && (h.front() == ' ' || h.front() == '"')) h.erase(h.begin());
        while (!h.empty() && (h.back() == ' ' || h.back() == '"')) h.pop_back();
      }
      t.header = f;
      have_header = true;
      continue;
    }
    if (f.size() != t.header.size()) {
      const bool last = text.find_first_not_of(" \t\r\n", pos) == std::string::npos;
      if (last && f.size() < t.header.size()) {
        t.truncated_last = true;
        break;
      }
      ThrowExpected(path + ": line " + std::to_string(line_no),
                    std::to_string(t.header.size()) +
                        (has_header ? " fields (as the header)" : " fields (as the first line)"),
                    std::to_string(f.size()));
    }
    t.rows.push_back(std::move(f));
    t.lines.push_back(line_no);
  }
  if (!have_header) {
    ThrowExpected(path, has_header ? "a header line and samples" : "samples", "an empty file");
  }
  return t;
}

}  // namespace nextbatch
