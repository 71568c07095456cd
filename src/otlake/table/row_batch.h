// RowBatch: rows of one table held column by column in plain vectors, with no Arrow dependency.
//
// Decoders append straight into these columns (one Append* per column, then FinishRow); the lake
// module turns a batch into Arrow arrays by moving the vectors into Arrow buffers. A batch is
// single-threaded; hand it between threads by unique_ptr.
//
// Request-level string columns (resource, scope, project, event date: IsDictColumn) are held as a
// dictionary: `offsets`/`chars` hold the distinct values appended in a row (an entry per change
// of value), `codes` one entry index per row. A request's 512 spans then store its resource JSON
// once instead of 512 times; the lake writer turns the codes into Arrow dictionary indices.
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/table/schema.h"

namespace otlake::table {

/// True if column `col` (of any table) is stored as a dictionary: the shared string and map
/// columns whose value comes from the request, resource or scope (project_id, service_*,
/// deployment_env, resource_attrs(_types), resource_schema_url, scope_*, event_date). None of them
/// is nullable.
bool IsDictColumn(int col);

/// One attribute list as the map columns store it (docs/attributes.md): entries in order, each a
/// key, a value text and a type letter (s i d b y a k e; 'e' = empty value, stored as null). Plain
/// data, reused by decoders as scratch.
struct AttrMap {
  std::string keys, values;             ///< concatenated key / value bytes
  std::vector<int32_t> key_ends, value_ends;  ///< per entry: end offset in keys / values
  std::string types;                    ///< one letter per entry

  size_t size() const { return types.size(); }
  bool empty() const { return types.empty(); }
  std::string_view key(size_t i) const {
    const int32_t b = i == 0 ? 0 : key_ends[i - 1];
    return std::string_view(keys).substr(b, key_ends[i] - b);
  }
  std::string_view value(size_t i) const {
    const int32_t b = i == 0 ? 0 : value_ends[i - 1];
    return std::string_view(values).substr(b, value_ends[i] - b);
  }
  bool is_null(size_t i) const { return types[i] == 'e'; }
  void clear() {
    keys.clear();
    values.clear();
    key_ends.clear();
    value_ends.clear();
    types.clear();
  }
  /// Appends an entry; `value` is ignored for type 'e'.
  void Add(std::string_view k, std::string_view v, char type) {
    keys.append(k.data(), k.size());
    key_ends.push_back(static_cast<int32_t>(keys.size()));
    if (type != 'e') values.append(v.data(), v.size());
    value_ends.push_back(static_cast<int32_t>(values.size()));
    types.push_back(type);
  }
  /// Starts an entry with key `k`: append its value text to `values` (nothing for type 'e'),
  /// then call EndEntry. The decoders' way to write values in place.
  std::string* BeginEntry(std::string_view k) {
    keys.append(k.data(), k.size());
    key_ends.push_back(static_cast<int32_t>(keys.size()));
    return &values;
  }
  void EndEntry(char type) {
    value_ends.push_back(static_cast<int32_t>(values.size()));
    types.push_back(type);
  }
  /// True if some key appears more than once (one hash per key; what DropDuplicateKeys would
  /// remove something for).
  bool HasDuplicateKeys() const;
  /// Removes every entry whose key appears again later in the list (the last value of a key
  /// wins, at its position); returns how many were removed. OTLP forbids duplicate keys, and a
  /// map with repeated keys breaks DuckDB and Spark.
  int64_t DropDuplicateKeys();
};

/// One column's values. Only the vectors that match `type` are used.
struct Column {
  ColType type = ColType::kString;
  bool nullable = false;
  bool dict = false;              ///< kString held as codes into offsets/chars (IsDictColumn)
  std::vector<int64_t> ints;      ///< kInt64
  std::vector<double> doubles;    ///< kDouble
  std::vector<uint8_t> bools;     ///< kBool, 0 or 1
  std::vector<int32_t> offsets;   ///< kString: num_rows + 1 entries (dict: entries + 1), from 0
  std::string chars;              ///< kString: concatenated UTF-8 values (dict: the entries)
  std::vector<int32_t> codes;     ///< dict only: per row, the index of its entry
  std::vector<uint8_t> valid;     ///< nullable columns only: 1 = value present
  // kMap: `offsets` holds entry offsets (num_rows + 1 entries, dict: one per map + 1, from 0).
  // The column's distinct keys are held once, in order of first appearance (key k is
  // key_chars[key_offsets[k], key_offsets[k+1])); entry e's key is key key_codes[e]. Entry e's
  // value is val_chars[val_offsets[e], val_offsets[e+1]), val_valid[e] == 0 for a null value.
  std::vector<int32_t> key_offsets;  ///< kMap: distinct keys + 1, from 0
  std::string key_chars;             ///< kMap: the distinct keys' bytes
  std::vector<int32_t> key_codes;    ///< kMap: per entry, the index of its key
  std::vector<int32_t> key_index;    ///< kMap: hash table of the keys (code + 1; 0: free slot)
  std::vector<uint32_t> key_seen;    ///< kMap: per key, the last AppendMapUnique call that met it
  uint32_t key_pass = 0;             ///< kMap: AppendMapUnique calls so far
  std::vector<int32_t> val_offsets;  ///< kMap: entries + 1, from 0
  std::string val_chars;             ///< kMap
  std::vector<uint8_t> val_valid;    ///< kMap: per entry

  /// Number of values appended so far.
  int64_t size() const;
  /// Dictionary entries (dict) or values (otherwise) held in offsets/chars.
  int64_t num_entries() const { return static_cast<int64_t>(offsets.size()) - 1; }
  /// Entry `k` of offsets/chars: the value of row k for a plain string column.
  std::string_view Entry(int64_t k) const {
    return std::string_view(chars).substr(offsets[k], offsets[k + 1] - offsets[k]);
  }
  /// The string at `row` (kString only).
  std::string_view StringAt(int64_t row) const { return Entry(dict ? codes[row] : row); }
  bool IsNull(int64_t row) const { return nullable && valid[row] == 0; }
  /// kMap: the entries of row `row` are [MapBegin(row), MapEnd(row)).
  int64_t MapBegin(int64_t row) const { return offsets[dict ? codes[row] : row]; }
  int64_t MapEnd(int64_t row) const { return offsets[(dict ? codes[row] : row) + 1]; }
  /// kMap: the number of distinct keys, and key `code`.
  int64_t num_keys() const { return static_cast<int64_t>(key_offsets.size()) - 1; }
  std::string_view Key(int64_t code) const {
    return std::string_view(key_chars).substr(key_offsets[code], key_offsets[code + 1] - key_offsets[code]);
  }
  /// kMap: the code of `key`, added to the distinct keys if new.
  int32_t InternKey(std::string_view key);
  std::string_view MapKey(int64_t k) const { return Key(key_codes[k]); }
  std::string_view MapValue(int64_t k) const {
    return std::string_view(val_chars).substr(val_offsets[k], val_offsets[k + 1] - val_offsets[k]);
  }
};

class RowBatch {
 public:
  explicit RowBatch(TableId table);

  TableId table() const { return table_; }
  int64_t num_rows() const { return num_rows_; }
  int num_columns() const { return static_cast<int>(columns_.size()); }
  const Column& column(int i) const { return columns_[i]; }
  Column& mutable_column(int i) { return columns_[i]; }

  void AppendString(int col, std::string_view v) {
    Column& c = columns_[col];
    if (c.dict) return AppendDictString(c, v);
    c.chars.append(v.data(), v.size());
    c.offsets.push_back(static_cast<int32_t>(c.chars.size()));
    if (c.nullable) c.valid.push_back(1);
  }
  /// Appends the string that `fill(std::string* chars)` appends to the column's bytes, written
  /// in place instead of through a scratch copy (not for dictionary columns).
  template <typename Fill>
  void AppendStringInPlace(int col, Fill&& fill) {
    Column& c = columns_[col];
    assert(!c.dict);
    fill(&c.chars);
    c.offsets.push_back(static_cast<int32_t>(c.chars.size()));
    if (c.nullable) c.valid.push_back(1);
  }
  void AppendInt(int col, int64_t v) {
    Column& c = columns_[col];
    c.ints.push_back(v);
    if (c.nullable) c.valid.push_back(1);
  }
  void AppendDouble(int col, double v) {
    Column& c = columns_[col];
    c.doubles.push_back(v);
    if (c.nullable) c.valid.push_back(1);
  }
  void AppendBool(int col, bool v) {
    Column& c = columns_[col];
    c.bools.push_back(v ? 1 : 0);
    if (c.nullable) c.valid.push_back(1);
  }
  /// Appends attribute list `m` to map column `col` (its entries only: the type letters go to
  /// the `_types` column after it, by AppendString).
  void AppendMap(int col, const AttrMap& m) { (void)AppendMapImpl(col, m, /*unique_only=*/false); }
  /// AppendMap if no key of `m` repeats; false (and nothing appended) if one does. Cheaper than
  /// AttrMap::HasDuplicateKeys first: the keys' codes are looked up anyway.
  bool AppendMapUnique(int col, const AttrMap& m) { return AppendMapImpl(col, m, /*unique_only=*/true); }
  /// Appends a null to a nullable column (a zero value to a non-nullable one; an empty map).
  void AppendNull(int col);
  /// Appends to dictionary column `col` the value of the row before (which must exist): the
  /// emitter's shortcut for a request-level value that is known not to have changed.
  void RepeatDict(int col) {
    Column& c = columns_[col];
    c.codes.push_back(c.codes.back());
  }

  /// Makes room for `rows` more rows in every column's per-row vectors (values, offsets, codes,
  /// validity), so appending them does not regrow them step by step; string bytes still grow.
  void ReserveRows(int64_t rows);

  /// Ends the current row. Every column must have received exactly one value since the last
  /// FinishRow (checked in debug builds).
  void FinishRow();

  /// Drops rows at index `rows` and beyond (and any unfinished row).
  void Truncate(int64_t rows);

  /// Appends all rows of `other` (same table) to this batch.
  void AppendBatch(const RowBatch& other);

  /// Approximate heap bytes held, for memory accounting and flush-by-size.
  int64_t ByteSize() const;

 private:
  bool AppendMapImpl(int col, const AttrMap& m, bool unique_only);
  // A dict column's row: the last entry again when the value repeats (every row of a resource),
  // else a new entry. Entries may repeat (A, B, A): the lake writer unifies them per file.
  static void AppendDictString(Column& c, std::string_view v) {
    const size_t n = c.offsets.size();
    if (n > 1 && static_cast<size_t>(c.offsets[n - 1] - c.offsets[n - 2]) == v.size() &&
        std::string_view(c.chars).substr(c.offsets[n - 2]) == v) {
      c.codes.push_back(static_cast<int32_t>(n - 2));
      return;
    }
    c.chars.append(v.data(), v.size());
    c.offsets.push_back(static_cast<int32_t>(c.chars.size()));
    c.codes.push_back(static_cast<int32_t>(n - 1));
  }

  TableId table_;
  int64_t num_rows_ = 0;
  std::vector<Column> columns_;
};

/// Up to one RowBatch per table: what one request (or one open batch) holds.
class TableBatches {
 public:
  /// The batch for `t`, created empty on first use.
  RowBatch& Get(TableId t);
  /// The batch for `t`, or nullptr if none was created.
  const RowBatch* Find(TableId t) const { return batches_[static_cast<int>(t)].get(); }
  /// Moves out the batch for `t` (nullptr if none).
  std::unique_ptr<RowBatch> Release(TableId t) { return std::move(batches_[static_cast<int>(t)]); }
  int64_t TotalRows() const;
  int64_t ByteSize() const;

 private:
  std::array<std::unique_ptr<RowBatch>, kNumTables> batches_;
};

}  // namespace otlake::table
