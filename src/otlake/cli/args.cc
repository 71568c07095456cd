#include "otlake/cli/args.h"

#include <algorithm>

namespace otlake::cli {

bool Args::Parse(const std::vector<OptionSpec>& specs, int argc, char** argv, int first,
                 std::string* error) {
  for (const auto& s : specs) values_[s.long_name] = s.default_value;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() < 2 || a[0] != '-') {
      positional_.push_back(a);
      continue;
    }
    std::string name, value;
    bool has_value = false;
    const OptionSpec* spec = nullptr;
    if (a.rfind("--", 0) == 0) {
      name = a.substr(2);
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      for (const auto& s : specs) {
        if (s.long_name == name) spec = &s;
      }
    } else {
      name = a.substr(1);
      for (const auto& s : specs) {
        if (!s.short_name.empty() && s.short_name == name) spec = &s;
      }
    }
    if (!spec) {
      *error = "unknown option '" + a + "'";
      return false;
    }
    if (spec->value_name.empty()) {
      if (has_value) {
        *error = "option '--" + spec->long_name + "' takes no value";
        return false;
      }
      given_[spec->long_name] = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        *error = "option '" + a + "' needs a value (" + spec->value_name + ")";
        return false;
      }
      value = argv[++i];
    }
    values_[spec->long_name] = value;
    given_[spec->long_name] = true;
  }
  return true;
}

const std::string& Args::Get(const std::string& long_name) const {
  static const std::string kEmpty;
  auto it = values_.find(long_name);
  return it == values_.end() ? kEmpty : it->second;
}

std::string FormatHelp(const std::string& usage, const std::string& description,
                       const std::vector<OptionSpec>& specs) {
  std::string out = "Usage: " + usage + "\n\n" + description + "\n";
  if (specs.empty()) return out;
  out += "\nOptions:\n";
  std::vector<std::string> left;
  size_t width = 0;
  for (const auto& s : specs) {
    std::string l = s.short_name.empty() ? "    " : "-" + s.short_name + ", ";
    l += "--" + s.long_name;
    if (!s.value_name.empty()) l += " " + s.value_name;
    width = std::max(width, l.size());
    left.push_back(l);
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    out += "  " + left[i] + std::string(width - left[i].size() + 2, ' ') + specs[i].help;
    if (!specs[i].default_value.empty()) out += " [default: " + specs[i].default_value + "]";
    out += "\n";
  }
  out += "  -h, --help" + std::string(width > 10 ? width - 10 + 2 : 2, ' ') + "Show this help\n";
  return out;
}

}  // namespace otlake::cli
