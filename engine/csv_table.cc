#include "engine/csv_table.h"

#include <cstdlib>
#include <cstring>
#include <limits>

#include "engine/error.h"

namespace nextbatch {

bool ParseCsvNumber(std::string_view field, double* value) {
  std::size_t b = 0, e = field.size();
  while (b < e && (field[b] == ' ' || field[b] == '\t' || field[b] == '"')) ++b;
  while (e > b && (field[e - 1] == ' ' || field[e - 1] == '\t' || field[e - 1] == '\r' ||
                   field[e - 1] == '"'))
    --e;
  if (b == e) {
    *value = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  // strtod needs a terminated string; numbers are short, so a stack buffer nearly always does.
  char small[64];
  std::string large;
  const char* s;
  const std::size_t n = e - b;
  if (n < sizeof(small)) {
    std::memcpy(small, field.data() + b, n);
    small[n] = '\0';
    s = small;
  } else {
    large.assign(field.substr(b, n));
    s = large.c_str();
  }
  char* end = nullptr;
  *value = std::strtod(s, &end);
  return end == s + n;
}

CsvCursor::CsvCursor(const std::string& text, std::string path, char delimiter, bool has_header)
    : text_(text), path_(std::move(path)), delimiter_(delimiter), has_header_(has_header) {
  // A UTF-8 byte order mark (spreadsheet exports) is not part of the first column's name.
  if (text_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos_ = 3;
  std::string_view line;
  if (!ReadLine(&line)) {
    ThrowExpected(path_, has_header_ ? "a header line and samples" : "samples", "an empty file");
  }
  Split(line);
  if (has_header_) {
    for (std::string_view f : fields_) {
      while (!f.empty() && (f.front() == ' ' || f.front() == '"')) f.remove_prefix(1);
      while (!f.empty() && (f.back() == ' ' || f.back() == '"')) f.remove_suffix(1);
      header_.emplace_back(f);
    }
  } else {
    for (std::size_t i = 0; i < fields_.size(); ++i) header_.push_back(std::to_string(i));
    pending_ = true;
    line_ = line_no_;
  }
}

bool CsvCursor::ReadLine(std::string_view* line) {
  while (pos_ < text_.size()) {
    std::size_t nl = text_.find('\n', pos_);
    if (nl == std::string::npos) nl = text_.size();
    std::string_view l(text_.data() + pos_, nl - pos_);
    pos_ = nl + 1;
    ++line_no_;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.find_first_not_of(" \t") == std::string_view::npos || l[0] == '#') continue;
    *line = l;
    return true;
  }
  return false;
}

void CsvCursor::Split(std::string_view line) {
  fields_.clear();
  std::size_t start = 0;
  for (std::size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == delimiter_) {
      fields_.push_back(line.substr(start, i - start));
      start = i + 1;
    }
  }
}

bool CsvCursor::Next() {
  if (pending_) {
    pending_ = false;
  } else {
    std::string_view line;
    if (!ReadLine(&line)) return false;
    Split(line);
    line_ = line_no_;
  }
  if (fields_.size() != header_.size()) {
    const bool last =
        pos_ >= text_.size() || text_.find_first_not_of(" \t\r\n", pos_) == std::string::npos;
    if (last && fields_.size() < header_.size()) {
      truncated_last_ = true;
      return false;
    }
    ThrowExpected(path_ + ": line " + std::to_string(line_),
                  std::to_string(header_.size()) +
                      (has_header_ ? " fields (as the header)" : " fields (as the first line)"),
                  std::to_string(fields_.size()));
  }
  ++rows_;
  return true;
}

}  // namespace nextbatch
