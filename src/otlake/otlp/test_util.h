// Helpers for the otlp unit tests (header-only; included by *_test.cc only): read a cell of a
// decoded batch by column name, compare two decode results cell by cell, read test data files.
#pragma once

#include <gtest/gtest.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "otlake/otlp/attr_map.h"
#include "otlake/otlp/decode.h"
#include "otlake/table/row_batch.h"
#include "otlake/table/schema.h"

namespace otlake::otlp::testing {

/// The index of column `name`; "<level>_attrs_json" names the map column "<level>_attrs", whose
/// cells read as the typed JSON object schema 1 stored (what the read API answers).
inline int ColumnIndex(table::TableId t, std::string_view name) {
  auto cols = table::Columns(t);
  if (name.ends_with("_attrs_json")) name.remove_suffix(5);
  for (size_t i = 0; i < cols.size(); ++i) {
    if (name == cols[i].name) return static_cast<int>(i);
  }
  ADD_FAILURE() << "no column " << name << " in " << table::TableName(t);
  return 0;
}

/// The cell as text: strings as is, numbers in decimal (doubles shortest round trip), bools as
/// true/false, nulls as "NULL".
inline std::string CellText(const table::RowBatch& b, int col, int64_t row) {
  const table::Column& c = b.column(col);
  if (c.IsNull(row)) return "NULL";
  switch (c.type) {
    case table::ColType::kString: return std::string(c.StringAt(row));
    case table::ColType::kInt64: return std::to_string(c.ints[row]);
    case table::ColType::kDouble: {
      char buf[40];
      auto r = std::to_chars(buf, buf + sizeof(buf), c.doubles[row]);
      return std::string(buf, r.ptr);
    }
    case table::ColType::kBool: return c.bools[row] ? "true" : "false";
    case table::ColType::kMap: {
      std::vector<MapEntry> entries;
      for (int64_t k = c.MapBegin(row); k < c.MapEnd(row); ++k) {
        entries.push_back({c.MapKey(k), c.MapValue(k), c.val_valid[k] == 0});
      }
      std::string json;
      Status st = AppendAttrMapTypedJson(entries, b.column(col + 1).StringAt(row), &json);
      return st.ok() ? json : "<bad map: " + st.ToString() + ">";
    }
  }
  return "?";
}

/// The cell of column `name` in row `row` of table `t` ("<no batch>" / "<no row>" if missing).
inline std::string Cell(const DecodeResult& r, table::TableId t, std::string_view name,
                        int64_t row = 0) {
  const table::RowBatch* b = r.batches.Find(t);
  if (b == nullptr) return "<no batch>";
  if (row >= b->num_rows()) return "<no row>";
  return CellText(*b, ColumnIndex(t, name), row);
}

inline int64_t Rows(const DecodeResult& r, table::TableId t) {
  const table::RowBatch* b = r.batches.Find(t);
  return b == nullptr ? 0 : b->num_rows();
}

/// Expects the same rows in every table, cell by cell (an absent batch equals an empty one).
inline void ExpectSameRows(const DecodeResult& a, const DecodeResult& b) {
  for (table::TableId t : table::kAllTables) {
    ASSERT_EQ(Rows(a, t), Rows(b, t)) << table::TableName(t);
    if (Rows(a, t) == 0) continue;
    const table::RowBatch& ba = *a.batches.Find(t);
    const table::RowBatch& bb = *b.batches.Find(t);
    for (int c = 0; c < ba.num_columns(); ++c) {
      for (int64_t row = 0; row < ba.num_rows(); ++row) {
        EXPECT_EQ(CellText(ba, c, row), CellText(bb, c, row))
            << table::TableName(t) << "." << table::Columns(t)[c].name << " row " << row;
      }
    }
  }
  EXPECT_EQ(a.accepted, b.accepted);
  EXPECT_EQ(a.rejected, b.rejected);
  EXPECT_EQ(a.reasons, b.reasons);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The shared test data directory (/work/shared/testdata/otlp-examples unless overridden).
inline std::string ExamplesDir() {
  const char* env = std::getenv("OTLAKE_OTLP_EXAMPLES");
  return env != nullptr ? env : "/work/shared/testdata/otlp-examples";
}

}  // namespace otlake::otlp::testing
