// CSV text split into a header and rows of fields, for the importer and the native episode
// reader. Plain CSV only: one delimiter character, no quoted fields holding the delimiter.
#ifndef NEXTBATCH_ENGINE_CSV_TABLE_H_
#define NEXTBATCH_ENGINE_CSV_TABLE_H_

#include <string>
#include <vector>

namespace nextbatch {

// A CSV file split into fields; used by the importer and the native CSV episode reader.
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> lines;       // 1-based line number of each row
  bool truncated_last = false;  // the last row had fewer fields and was left out
};

// Splits `text` (the content of `path`) into a header and rows. Blank lines and lines starting
// with '#' are skipped. A row with a different field count is an error, except the last row with
// fewer fields (a logger killed mid-line), which is left out and flagged. Without a header line
// the columns are named by their 0-based index ("0", "1", ...).
CsvTable ParseCsv(const std::string& text, const std::string& path, char delimiter = ',',
                  bool has_header = true);

// Parses one CSV field as a number: empty, "nan" -> NaN; "inf" -> inf. Returns false for text
// that is not a number.
bool ParseCsvNumber(const std::string& field, double* value);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_CSV_TABLE_H_
