// Invariants the OTLP fuzz targets check after every decode (a violation aborts, so the fuzzer
// reports it and the corpus replay test fails):
// - a failed decode (Status::Invalid, never anything else) leaves no rows and no counts;
// - a successful one leaves every column with exactly num_rows values;
// - every typed-JSON column parses back and re-encodes to the same bytes (lossless round trip);
// - every attribute map has one valid type letter per entry (null value exactly for 'e'), no
//   duplicate key, and round-trips map -> typed JSON -> attributes -> the same map.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "otlake/otlp/attr_map.h"
#include "otlake/otlp/decode.h"
#include "otlake/otlp/typed_json.h"
#include "otlake/table/schema.h"

namespace otlake::fuzz {

[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "FUZZ INVARIANT VIOLATED: %s\n", what.c_str());
  std::abort();
}

inline bool IsAttrsColumn(std::string_view name) {
  return name.ends_with("attrs_json") || name == "metric_metadata_json";
}

// Row `row` of map column `c` (type letters in `types`): the checks in the header comment.
inline void CheckMap(std::string_view column, const table::Column& c, std::string_view types,
                     int64_t row) {
  table::AttrMap m;
  for (int64_t k = c.MapBegin(row); k < c.MapEnd(row); ++k) {
    const size_t i = static_cast<size_t>(k - c.MapBegin(row));
    if (i >= types.size()) Die(std::string(column) + ": fewer type letters than entries");
    if ((c.val_valid[k] == 0) != (types[i] == 'e')) Die(std::string(column) + ": null value vs letter");
    m.Add(c.MapKey(k), c.MapValue(k), types[i]);
  }
  if (m.types != types) Die(std::string(column) + ": more type letters than entries");
  for (size_t i = 0; i < m.size(); ++i) {
    for (size_t j = i + 1; j < m.size(); ++j) {
      if (m.key(i) == m.key(j)) Die(std::string(column) + ": duplicate key " + std::string(m.key(i)));
    }
  }
  auto attrs = otlp::AttrMapToAttributes(m);
  if (!attrs.ok()) Die(std::string(column) + " does not read back: " + attrs.status().ToString());
  table::AttrMap again;
  otlp::AttributesToAttrMap(*attrs, &again);
  if (again.keys != m.keys || again.values != m.values || again.types != m.types ||
      again.key_ends != m.key_ends || again.value_ends != m.value_ends) {
    Die(std::string(column) + " map round trip changed the map (letters " + m.types + " -> " +
        again.types + ")");
  }
}

inline void CheckRoundTrip(std::string_view column, std::string_view json, bool attributes) {
  std::string again;
  if (attributes) {
    auto back = otlp::DecodeTypedJsonAttributes(json);
    if (!back.ok()) Die(std::string(column) + " does not parse: " + back.status().ToString());
    otlp::EncodeTypedJsonAttributes(*back, &again);
  } else {
    auto back = otlp::DecodeTypedJson(json);
    if (!back.ok()) Die(std::string(column) + " does not parse: " + back.status().ToString());
    otlp::EncodeTypedJson(*back, &again);
  }
  if (again != json) {
    Die(std::string(column) + " round trip: " + std::string(json) + " -> " + again);
  }
}

inline void CheckResult(const Status& st, const otlp::DecodeResult& r) {
  if (!st.ok()) {
    if (!st.IsInvalid()) Die("non-Invalid error: " + st.ToString());
    if (r.batches.TotalRows() != 0 || r.accepted != 0 || r.rejected != 0 || !r.reasons.empty()) {
      Die("failed decode left rows or counts behind");
    }
    return;
  }
  int64_t reasons = 0;
  for (const auto& [reason, n] : r.reasons) reasons += n;
  if (reasons != r.rejected) Die("reason counts do not add up to rejected");
  for (table::TableId t : table::kAllTables) {
    const table::RowBatch* b = r.batches.Find(t);
    if (b == nullptr) continue;
    auto cols = table::Columns(t);
    for (int c = 0; c < b->num_columns(); ++c) {
      const table::Column& col = b->column(c);
      if (col.size() != b->num_rows()) Die(std::string("ragged column ") + cols[c].name);
      const std::string_view name = cols[c].name;
      if (cols[c].type == table::ColType::kMap) {
        for (int64_t row = 0; row < b->num_rows(); ++row) {
          CheckMap(name, col, b->column(c + 1).StringAt(row), row);
        }
        continue;
      }
      const bool attrs = IsAttrsColumn(name);
      const bool body = t == table::TableId::kLogs && name == "body";
      if (!attrs && !body && name != "user_roles_json") continue;
      for (int64_t row = 0; row < b->num_rows(); ++row) {
        if (body) {
          const std::string_view type =
              b->column(table::logs::kBodyType).StringAt(row);
          if (type == "string" || type == "empty") continue;
        }
        CheckRoundTrip(name, col.StringAt(row), attrs);
      }
    }
  }
}

}  // namespace otlake::fuzz
