// A small, strict command-line parser: declared options only, `-X value`, `--long value`,
// `--long=value`, boolean flags; unknown options and missing values are usage errors (exit 2).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace otlake::cli {

struct OptionSpec {
  std::string short_name;  ///< "I" (may be empty)
  std::string long_name;   ///< "instance-id"
  std::string value_name;  ///< "ID"; empty for a boolean flag
  std::string default_value;
  std::string help;
};

class Args {
 public:
  /// Parses argv[first..] against `specs`. On error returns false and sets *error.
  bool Parse(const std::vector<OptionSpec>& specs, int argc, char** argv, int first,
             std::string* error);
  /// The value of --long_name (or its default).
  const std::string& Get(const std::string& long_name) const;
  bool Has(const std::string& long_name) const { return given_.count(long_name) > 0; }
  bool Flag(const std::string& long_name) const { return Has(long_name); }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> given_;
  std::vector<std::string> positional_;
};

/// A byte count for people: "512 B", "3.4 KiB", "12.0 MiB", "1.25 GiB".
std::string HumanBytes(int64_t bytes);

/// `s` padded with spaces to `w` columns (on the left when `right`).
std::string Pad(const std::string& s, size_t w, bool right = false);

/// Prints rows as an aligned table (two spaces between columns) to stdout. Columns whose
/// `right_aligned` entry is true are right-aligned; without `right_aligned`, numeric-looking
/// cells (and "-") of every column but the first are.
void PrintTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                const std::vector<bool>& right_aligned = {});

/// Renders the help text of a command: usage line, description, options table.
std::string FormatHelp(const std::string& usage, const std::string& description,
                       const std::vector<OptionSpec>& specs);

}  // namespace otlake::cli
