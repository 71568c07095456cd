// ResultSet -> JSON rows and terminal tables.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

#include "otlake/query/query.h"

namespace otlake::query {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteCell(const Cell& c, CellKind kind, Writer* w) {
  if (std::holds_alternative<std::monostate>(c)) {
    w->Null();
  } else if (const auto* i = std::get_if<int64_t>(&c)) {
    w->Int64(*i);
  } else if (const auto* d = std::get_if<double>(&c)) {
    if (std::isfinite(*d)) {
      w->Double(*d);
    } else {
      w->String(std::isnan(*d) ? "NaN" : *d > 0 ? "Infinity" : "-Infinity");
    }
  } else if (const auto* b = std::get_if<bool>(&c)) {
    w->Bool(*b);
  } else {
    const std::string& s = std::get<std::string>(c);
    if (kind == CellKind::kJson) {
      // Attribute columns hold JSON text: embed it as a value. Text that does not parse (not
      // written by otlake) is returned as a string rather than breaking the answer.
      rapidjson::Document d;
      if (!s.empty() && !d.Parse(s.data(), s.size()).HasParseError()) {
        w->RawValue(s.data(), s.size(), d.GetType());
        return;
      }
    }
    w->String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
}

// Display width of UTF-8 text, in code points (good enough for aligned columns).
size_t Width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Longest prefix of `s` that is at most `width` code points.
std::string Cut(const std::string& s, size_t width) {
  if (Width(s) <= width) return s;
  if (width == 0) return "";
  size_t n = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (n == width - 1) break;
      ++n;
    }
  }
  return s.substr(0, i) + "\u2026";
}

std::string CellText(const Cell& c) {
  if (std::holds_alternative<std::monostate>(c)) return "";
  if (const auto* i = std::get_if<int64_t>(&c)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&c)) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", *d);
    return buf;
  }
  if (const auto* b = std::get_if<bool>(&c)) return *b ? "true" : "false";
  std::string s = std::get<std::string>(c);
  for (char& ch : s) {
    if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
  }
  return s;
}

}  // namespace

void AppendRowJson(const ResultSet& rs, size_t row, std::string* out) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  for (size_t j = 0; j < rs.columns.size(); ++j) {
    w.Key(rs.columns[j].data(), static_cast<rapidjson::SizeType>(rs.columns[j].size()));
    WriteCell(rs.rows[row][j], rs.kinds[j], &w);
  }
  w.EndObject();
  out->append(sb.GetString(), sb.GetSize());
}

int64_t AppendRowsJson(const ResultSet& rs, size_t first, size_t count, int64_t max_bytes,
                       std::string* out) {
  const size_t start = out->size();
  out->push_back('[');
  int64_t written = 0;
  for (size_t r = first; r < first + count && r < rs.rows.size(); ++r) {
    const size_t before = out->size();
    if (written > 0) out->push_back(',');
    AppendRowJson(rs, r, out);
    if (static_cast<int64_t>(out->size() - start) > max_bytes) {
      out->resize(before);
      break;
    }
    ++written;
  }
  out->push_back(']');
  return written;
}

std::string FormatTable(const ResultSet& rs, int width) {
  const size_t ncol = rs.columns.size();
  std::vector<std::vector<std::string>> text(rs.rows.size(), std::vector<std::string>(ncol));
  std::vector<size_t> w(ncol);
  for (size_t j = 0; j < ncol; ++j) w[j] = Width(rs.columns[j]);
  for (size_t r = 0; r < rs.rows.size(); ++r) {
    for (size_t j = 0; j < ncol; ++j) {
      text[r][j] = CellText(rs.rows[r][j]);
      w[j] = std::max(w[j], Width(text[r][j]));
    }
  }
  constexpr size_t kMaxCol = 48, kMinCol = 6;
  for (size_t& x : w) x = std::min(x, kMaxCol);
  if (width > 0) {
    // Shrink the widest columns until the line fits (or every column is at the minimum).
    auto total = [&] {
      size_t t = 0;
      for (size_t x : w) t += x + 2;
      return t;
    };
    while (total() > static_cast<size_t>(width)) {
      auto widest = std::max_element(w.begin(), w.end());
      if (widest == w.end() || *widest <= kMinCol) break;
      --*widest;
    }
  }
  auto line = [&](const std::vector<std::string>& cells, const std::vector<bool>* right) {
    std::string s;
    for (size_t j = 0; j < ncol; ++j) {
      std::string c = Cut(cells[j], w[j]);
      std::string pad(w[j] - Width(c), ' ');
      s += (right && (*right)[j]) ? pad + c : c + pad;
      if (j + 1 < ncol) s += "  ";
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::vector<bool> right(ncol);
  for (size_t j = 0; j < ncol; ++j) right[j] = rs.kinds[j] == CellKind::kInt64 || rs.kinds[j] == CellKind::kDouble;
  std::string out = line(rs.columns, nullptr);
  std::vector<std::string> rule(ncol);
  for (size_t j = 0; j < ncol; ++j) rule[j] = std::string(w[j], '-');
  out += line(rule, nullptr);
  for (const auto& row : text) out += line(row, &right);
  return out;
}

}  // namespace otlake::query
