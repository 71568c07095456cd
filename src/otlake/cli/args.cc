#include "otlake/cli/args.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>

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

std::string Pad(const std::string& s, size_t w, bool right) {
  if (s.size() >= w) return s;
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

void PrintTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                const std::vector<bool>& right_aligned) {
  std::vector<size_t> w(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    w[c] = header[c].size();
    for (const auto& r : rows) w[c] = std::max(w[c], r[c].size());
  }
  auto line = [&](const std::vector<std::string>& r) {
    std::string s;
    for (size_t c = 0; c < r.size(); ++c) {
      const bool right =
          c < right_aligned.size()
              ? right_aligned[c]
              : right_aligned.empty() && c > 0 && !r[c].empty() &&
                    (std::isdigit(static_cast<unsigned char>(r[c][0])) || r[c] == "-");
      s += (c ? "  " : "") + Pad(r[c], w[c], right);
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    std::cout << s << "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
}

std::string HumanBytes(int64_t b) {
  char buf[32];
  if (b < 1024) std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  else if (b < (1 << 20)) std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else if (b < (1ll << 30)) std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
  else std::snprintf(buf, sizeof buf, "%.2f GiB", b / 1073741824.0);
  return buf;
}

}  // namespace otlake::cli
