// URL parameters -> Query. Every rejection names the parameter (docs/http-api.md lists them).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "otlake/common/time_util.h"
#include "otlake/query/query.h"

namespace otlake::query {
namespace {

using table::ColType;
using table::TableId;

constexpr int64_t kDayMs = 86400000;

// A column by its API name (ApiColumnName; a map column also by its own name). The type-letter
// columns have none: the map's typed JSON carries the types.
int FindColumn(TableId t, std::string_view name) {
  auto cols = table::Columns(t);
  std::string_view map_name = name;
  if (map_name.ends_with("_attrs_json")) map_name.remove_suffix(5);
  for (size_t i = 0; i < cols.size(); ++i) {
    if (cols[i].type == ColType::kMap && map_name == cols[i].name) return static_cast<int>(i);
    if (table::IsAttrTypesColumn(t, static_cast<int>(i))) continue;
    if (name == cols[i].name) return static_cast<int>(i);
  }
  return -1;
}

// The attribute map `attr.` filters look in, per table.
const char* AttrColumn(TableId t) {
  switch (t) {
    case TableId::kSpans: return "span_attrs";
    case TableId::kSpanEvents: return "event_attrs";
    case TableId::kSpanLinks: return "link_attrs";
    case TableId::kLogs: return "log_attrs";
    case TableId::kMetricsPoints:
    case TableId::kMetricsHist: return "point_attrs";
  }
  return "";
}

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseDouble(std::string_view s, double* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(*out);
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Splits a trailing comparison from a key: "x>" (from "x>=v") -> (x, Ge), "x!" -> Ne, ...
std::pair<std::string, Op> SplitOp(const std::string& key, std::string* value) {
  if (key.size() > 1) {
    char last = key.back();
    std::string base = key.substr(0, key.size() - 1);
    if (last == '>') return {base, Op::kGe};
    if (last == '<') return {base, Op::kLe};
    if (last == '!') return {base, Op::kNe};
  }
  // "x>5" / "x<5" arrive as a key with no '=' (value empty): split at the operator.
  if (value->empty()) {
    size_t p = key.find_first_of("<>");
    if (p != std::string::npos && p > 0) {
      *value = key.substr(p + 1);
      return {key.substr(0, p), key[p] == '>' ? Op::kGt : Op::kLt};
    }
  }
  return {key, Op::kEq};
}

const char* OpText(Op op) {
  switch (op) {
    case Op::kEq: return "=";
    case Op::kNe: return "!=";
    case Op::kLt: return "<";
    case Op::kLe: return "<=";
    case Op::kGt: return ">";
    case Op::kGe: return ">=";
    case Op::kLike: return " like ";
    case Op::kContains: return " contains ";
  }
  return "?";
}

// Normalises and checks a filter value against its column's type.
Status CheckValue(TableId t, int col, Op op, std::string* value) {
  const table::ColumnDef& def = table::Columns(t)[col];
  const std::string_view name = def.name;
  if (def.type == ColType::kMap) {
    return Status::Invalid("parameter '", name, "_json': attributes are filtered one key at a "
                           "time: attr.<key>=<value>, resource.<key>=..., scope.<key>=...");
  }
  if (op == Op::kLike || op == Op::kContains) {
    if (def.type != ColType::kString) {
      return Status::Invalid("parameter '", name, "_like': column is not a string");
    }
    return Status::OK();
  }
  switch (def.type) {
    case ColType::kInt64: {
      int64_t v;
      if (!ParseInt(*value, &v)) {
        return Status::Invalid("parameter '", name, "' must be an integer, got '", *value, "'");
      }
      return Status::OK();
    }
    case ColType::kDouble: {
      double v;
      if (!ParseDouble(*value, &v)) {
        return Status::Invalid("parameter '", name, "' must be a number, got '", *value, "'");
      }
      return Status::OK();
    }
    case ColType::kBool:
      if (op != Op::kEq && op != Op::kNe) {
        return Status::Invalid("parameter '", name, "' is a boolean: use = or !=");
      }
      *value = Lower(*value);
      if (*value != "true" && *value != "false") {
        return Status::Invalid("parameter '", name, "' must be true or false");
      }
      return Status::OK();
    case ColType::kString:
    case ColType::kMap:
      break;
  }
  // IDs are stored as lowercase hex: accept what users paste.
  const bool trace_like = name == "trace_id" || name == "linked_trace_id";
  const bool span_like = name == "span_id" || name == "parent_span_id" || name == "linked_span_id";
  if ((trace_like || span_like) && (op == Op::kEq || op == Op::kNe) && !value->empty()) {
    const size_t len = trace_like ? 32 : 16;
    if (!IsHexId(*value, len)) {
      return Status::Invalid("parameter '", name, "' must be ", len, " hex characters, got '",
                             *value, "'");
    }
    *value = Lower(*value);
  }
  if (name == "kind" && op == Op::kEq) {
    *value = Upper(*value);
    if (value->rfind("SPAN_KIND_", 0) == 0) value->erase(0, 10);
  }
  if (name == "status_code" && op == Op::kEq) {
    *value = Upper(*value);
    if (value->rfind("STATUS_CODE_", 0) == 0) value->erase(0, 12);
  }
  return Status::OK();
}

Status ParseDay(const std::string& param, const std::string& v, int64_t* day) {
  if (!ParseDate(v, day)) {
    return Status::Invalid("parameter '", param, "' must be a date YYYY-MM-DD, got '", v, "'");
  }
  return Status::OK();
}

}  // namespace

std::string ApiColumnName(TableId t, int col) {
  const table::ColumnDef& def = table::Columns(t)[col];
  return def.type == ColType::kMap ? std::string(def.name) + "_json" : std::string(def.name);
}

bool IsHexId(std::string_view s, size_t length) {
  if (s.size() != length) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

Result<Query> ParseQuery(TableId t, const std::vector<std::pair<std::string, std::string>>& params,
                         int64_t now_ms, const QueryLimits& limits) {
  Query q;
  q.table = t;
  for (const auto& [raw_key, raw_value] : params) {
    std::string value = raw_value;
    auto [key, op] = SplitOp(raw_key, &value);
    auto plain = [&, key = key, op = op]() -> Status {
      if (op != Op::kEq) {
        return Status::Invalid("parameter '", key, "' does not take '", OpText(op), "'");
      }
      return Status::OK();
    };
    if (key == "date_from" || key == "date_to") {
      OTLAKE_RETURN_NOT_OK(plain());
      int64_t d;
      OTLAKE_RETURN_NOT_OK(ParseDay(key, value, &d));
      (key == "date_from" ? q.day_from : q.day_to) = d;
    } else if (key == "time_ms_from" || key == "time_ms_to") {
      OTLAKE_RETURN_NOT_OK(plain());
      int64_t v;
      if (!ParseInt(value, &v)) {
        return Status::Invalid("parameter '", key, "' must be epoch milliseconds, got '", value, "'");
      }
      (key == "time_ms_from" ? q.time_ms_from : q.time_ms_to) = v;
    } else if (key == "max_rows" || key == "limit") {
      OTLAKE_RETURN_NOT_OK(plain());
      if (!ParseInt(value, &q.max_rows) || q.max_rows < 1 || q.max_rows > limits.max_rows) {
        return Status::Invalid("parameter '", key, "' must be an integer from 1 to ",
                               limits.max_rows, ", got '", value, "'");
      }
    } else if (key == "cursor") {
      OTLAKE_RETURN_NOT_OK(plain());
      // "<event_ts>_<skip>" as written by the engine.
      size_t us = value.find('_');
      int64_t ts, skip;
      if (us == std::string::npos || !ParseInt(std::string_view(value).substr(0, us), &ts) ||
          !ParseInt(std::string_view(value).substr(us + 1), &skip) || skip < 0 || skip > 1000000000) {
        return Status::Invalid("parameter 'cursor' is not a cursor from a previous answer: '", value, "'");
      }
      q.after_ts = ts;
      q.after_skip = skip;
    } else if (key == "storage") {
      OTLAKE_RETURN_NOT_OK(plain());
      if (value == "auto") q.storage = Storage::kAuto;
      else if (value == "local") q.storage = Storage::kLocal;
      else if (value == "s3") q.storage = Storage::kS3;
      else return Status::Invalid("parameter 'storage' must be auto, local or s3, got '", value, "'");
    } else if (key == "order") {
      OTLAKE_RETURN_NOT_OK(plain());
      if (value == "asc") q.ascending = true;
      else if (value == "desc") q.ascending = false;
      else return Status::Invalid("parameter 'order' must be asc or desc, got '", value, "'");
    } else if (key == "select") {
      OTLAKE_RETURN_NOT_OK(plain());
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        std::string name = value.substr(start, comma - start);
        while (!name.empty() && name.front() == ' ') name.erase(0, 1);
        while (!name.empty() && name.back() == ' ') name.pop_back();
        if (!name.empty()) {
          int c = FindColumn(t, name);
          if (c < 0) {
            return Status::Invalid("parameter 'select': table ", table::TableName(t),
                                   " has no column '", name, "'");
          }
          if (std::find(q.select.begin(), q.select.end(), c) == q.select.end()) q.select.push_back(c);
        }
        start = comma + 1;
      }
    } else if (key == "severity_ge" && t == TableId::kLogs) {
      OTLAKE_RETURN_NOT_OK(plain());
      ColumnFilter f{FindColumn(t, "severity_number"), Op::kGe, value};
      int64_t v;
      if (!ParseInt(value, &v)) {
        return Status::Invalid("parameter 'severity_ge' must be an integer, got '", value, "'");
      }
      q.filters.push_back(std::move(f));
    } else if (key.size() > 5 && key.ends_with("_like") && FindColumn(t, key.substr(0, key.size() - 5)) >= 0) {
      OTLAKE_RETURN_NOT_OK(plain());
      int c = FindColumn(t, key.substr(0, key.size() - 5));
      Op like = value.find('%') != std::string::npos ? Op::kLike : Op::kContains;
      OTLAKE_RETURN_NOT_OK(CheckValue(t, c, like, &value));
      q.filters.push_back({c, like, value});
    } else if (key.rfind("attr.", 0) == 0 || key.rfind("resource.", 0) == 0 ||
               key.rfind("scope.", 0) == 0) {
      size_t dot = key.find('.');
      std::string prefix = key.substr(0, dot);
      std::string attr_key = key.substr(dot + 1);
      if (attr_key.empty()) return Status::Invalid("parameter '", key, "' names no attribute key");
      const char* col = prefix == "attr" ? AttrColumn(t)
                        : prefix == "resource" ? "resource_attrs" : "scope_attrs";
      if (op != Op::kEq && op != Op::kNe) {
        double d;
        if (!ParseDouble(value, &d)) {
          return Status::Invalid("parameter '", key, "': ", OpText(op),
                                 " compares numbers, got '", value, "'");
        }
      }
      q.attr_filters.push_back({FindColumn(t, col), std::move(attr_key), op, value});
    } else if (int c = FindColumn(t, key); c >= 0) {
      OTLAKE_RETURN_NOT_OK(CheckValue(t, c, op, &value));
      q.filters.push_back({c, op, std::move(value)});
    } else {
      return Status::Invalid("unknown parameter '", raw_key, "' for /api/", table::TableName(t),
                             " (see docs/http-api.md)");
    }
  }
  // Depths: one date bound alone means that day; reversed bounds are swapped.
  if (q.day_from && !q.day_to) q.day_to = q.day_from;
  if (q.day_to && !q.day_from) q.day_from = q.day_to;
  if (q.day_from && *q.day_from > *q.day_to) std::swap(q.day_from, q.day_to);
  if (q.time_ms_from && q.time_ms_to && *q.time_ms_from > *q.time_ms_to) {
    return Status::Invalid("parameter 'time_ms_from' is after 'time_ms_to'");
  }
  // No dates and no times: the last 24 hours of event time, in whichever days hold them.
  if (!q.day_from && !q.time_ms_from && !q.time_ms_to) q.time_ms_from = now_ms - kDayMs;
  return q;
}

}  // namespace otlake::query
