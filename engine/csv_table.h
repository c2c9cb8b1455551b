// CSV text read one row at a time, for the importer and the native episode reader: fields are
// views into the text, so a large log costs its text plus the numbers taken from it. Plain CSV
// only: one delimiter character, no quoted fields holding the delimiter.
#ifndef NEXTBATCH_ENGINE_CSV_TABLE_H_
#define NEXTBATCH_ENGINE_CSV_TABLE_H_

#include <string>
#include <string_view>
#include <vector>

namespace nextbatch {

// Walks the rows of `text` (the content of `path`). Blank lines and lines starting with '#' are
// skipped; a UTF-8 byte order mark is ignored. The first line is the header, unless
// `has_header` is false: columns are then named by their 0-based index ("0", "1", ...). A row
// with a different field count is an error, except the last row with fewer fields (a logger
// killed mid-line), which is left out and flagged.
class CsvCursor {
 public:
  // Throws InputError when there is no header (or, without one, no row).
  CsvCursor(const std::string& text, std::string path, char delimiter = ',',
            bool has_header = true);

  const std::vector<std::string>& header() const { return header_; }
  // Moves to the next row; false at the end. Throws InputError for a row of the wrong length.
  bool Next();
  const std::vector<std::string_view>& fields() const { return fields_; }
  int line() const { return line_; }                       // 1-based line of the current row
  bool truncated_last() const { return truncated_last_; }  // known once Next() returned false
  int rows() const { return rows_; }                       // rows returned so far

 private:
  bool ReadLine(std::string_view* line);  // the next non-blank, non-comment line
  void Split(std::string_view line);

  const std::string& text_;
  std::string path_;
  char delimiter_;
  bool has_header_;
  std::size_t pos_ = 0;
  int line_no_ = 0;
  int line_ = 0;
  int rows_ = 0;
  bool pending_ = false;  // without a header the first row is already split
  bool truncated_last_ = false;
  std::vector<std::string> header_;
  std::vector<std::string_view> fields_;
};

// Parses one CSV field as a number: empty, "nan" -> NaN; "inf" -> inf. Returns false for text
// that is not a number.
bool ParseCsvNumber(std::string_view field, double* value);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_CSV_TABLE_H_
