#include "otlake/lake/arrow_convert.h"

#include <arrow/api.h>
#include <arrow/compute/api_vector.h>
#include <arrow/compute/initialize.h>
#include <arrow/util/bit_util.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace otlake::lake {
namespace {

using table::ColType;
using table::Column;
using table::RowBatch;

std::shared_ptr<arrow::DataType> ArrowType(ColType t) {
  switch (t) {
    case ColType::kString: return arrow::utf8();
    case ColType::kInt64: return arrow::int64();
    case ColType::kDouble: return arrow::float64();
    case ColType::kBool: return arrow::boolean();
    case ColType::kMap: return AttrMapType();
  }
  return arrow::utf8();
}

bool Monotonic(const std::vector<int32_t>& v, size_t bytes) {
  if (v.empty() || v.front() != 0 || static_cast<size_t>(v.back()) != bytes) return false;
  for (size_t k = 1; k < v.size(); ++k) {
    if (v[k] < v[k - 1]) return false;
  }
  return true;
}

// Packs 0/1 bytes into an Arrow bitmap; counts zero bytes into *zeros.
Result<std::shared_ptr<arrow::Buffer>> PackBits(const std::vector<uint8_t>& bytes, int64_t n,
                                                int64_t* zeros) {
  OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> bits, arrow::AllocateEmptyBitmap(n));
  uint8_t* out = bits->mutable_data();
  int64_t z = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (bytes[i]) {
      arrow::bit_util::SetBit(out, i);
    } else {
      ++z;
    }
  }
  *zeros = z;
  return bits;
}

// Checks that a column holds exactly `rows` values (a malformed batch must not read out of
// bounds).
Status CheckColumn(const Column& c, int64_t rows, const char* name) {
  if (c.size() != rows || (c.nullable && static_cast<int64_t>(c.valid.size()) != rows)) {
    return Status::Invalid("column ", name, " has ", c.size(), " values for ", rows, " rows");
  }
  if (c.type == ColType::kString &&
      (c.offsets.empty() || c.offsets.front() != 0 ||
       static_cast<size_t>(c.offsets.back()) != c.chars.size())) {
    return Status::Invalid("column ", name, " has inconsistent string offsets");
  }
  if (c.type == ColType::kMap) {
    const size_t entries = c.val_valid.size();
    if (!Monotonic(c.offsets, entries) || !Monotonic(c.key_offsets, c.key_chars.size()) ||
        !Monotonic(c.val_offsets, c.val_chars.size()) || c.key_codes.size() != entries ||
        c.val_offsets.size() != entries + 1) {
      return Status::Invalid("column ", name, " has inconsistent map offsets");
    }
    const int64_t keys = c.num_keys();
    for (int32_t code : c.key_codes) {
      if (code < 0 || code >= keys) return Status::Invalid("column ", name, " has a map key code out of range");
    }
  }
  if (c.dict) {
    for (size_t k = 1; k < c.offsets.size(); ++k) {
      if (c.offsets[k] < c.offsets[k - 1]) {
        return Status::Invalid("column ", name, " has inconsistent string offsets");
      }
    }
    const int64_t entries = c.num_entries();
    for (int32_t code : c.codes) {
      if (code < 0 || code >= entries) {
        return Status::Invalid("column ", name, " has a dictionary code out of range");
      }
    }
  }
  return Status::OK();
}

std::shared_ptr<arrow::Array> Utf8Array(std::vector<int32_t> offsets, std::string chars) {
  const int64_t n = static_cast<int64_t>(offsets.size()) - 1;
  return arrow::MakeArray(arrow::ArrayData::Make(
      arrow::utf8(), n, {nullptr, arrow::Buffer::FromVector(std::move(offsets)), arrow::Buffer::FromString(std::move(chars))},
      0));
}

// Distinct strings in order of first appearance, each with its index: the dictionaries the
// writer is handed (UnifiedDictionary, UnifyKeys). Views point into the batches.
struct DictionaryBuilder {
  std::unordered_map<std::string_view, int32_t> index;
  std::vector<int32_t> offsets = {0};
  std::string chars;

  int32_t Add(std::string_view v) {
    auto [it, added] = index.try_emplace(v, static_cast<int32_t>(offsets.size() - 1));
    if (added) {
      chars.append(v);
      offsets.push_back(static_cast<int32_t>(chars.size()));
    }
    return it->second;
  }
  std::shared_ptr<arrow::Array> Finish() { return Utf8Array(std::move(offsets), std::move(chars)); }
};

// A dictionary column of several batches as one Arrow dictionary array (int32 indices into one
// dictionary of the distinct values, in order of first appearance): the batches' entries are
// unified, their codes remapped. The result owns its buffers.
Result<std::shared_ptr<arrow::Array>> UnifiedDictionary(const std::vector<const RowBatch*>& batches,
                                                        int col, int64_t rows) {
  DictionaryBuilder dict;
  OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> indices,
                         arrow::AllocateBuffer(rows * static_cast<int64_t>(sizeof(int32_t))));
  auto* out = reinterpret_cast<int32_t*>(indices->mutable_data());
  std::vector<int32_t> remap;
  for (const RowBatch* b : batches) {
    if (b->num_rows() == 0) continue;
    const Column& c = b->column(col);
    remap.resize(static_cast<size_t>(c.num_entries()));
    for (int64_t k = 0; k < c.num_entries(); ++k) remap[k] = dict.Add(c.Entry(k));
    for (int32_t code : c.codes) *out++ = remap[code];
  }
  auto dictionary = dict.Finish();
  auto idx = arrow::MakeArray(arrow::ArrayData::Make(arrow::int32(), rows, {nullptr, indices}, 0));
  return std::make_shared<arrow::DictionaryArray>(arrow::dictionary(arrow::int32(), arrow::utf8()),
                                                  idx, dictionary);
}

// A dictionary column's values as a plain utf8 array (copies).
Result<std::shared_ptr<arrow::Array>> DenseStrings(const Column& c, int64_t rows) {
  std::vector<int32_t> offsets;
  offsets.reserve(static_cast<size_t>(rows) + 1);
  offsets.push_back(0);
  std::string chars;
  for (int64_t r = 0; r < rows; ++r) {
    chars.append(c.StringAt(r));
    offsets.push_back(static_cast<int32_t>(chars.size()));
  }
  return Utf8Array(std::move(offsets), std::move(chars));
}

// Bounds on a map column's unified dictionaries for handing its strings to the writer as codes.
constexpr int64_t kMaxMapDictionary = 4096;
constexpr int64_t kMaxMapDictionaryBytes = 256 << 10;

// The distinct keys of map column `col` over several batches as one dictionary (in order of
// first appearance) and, per batch, where each of its key codes went in it. For a column of
// distinct maps (c.dict: resource and scope attributes, the same few maps on every row) the
// values likewise: per batch, each entry's value's index in one dictionary of the values (-1:
// a null value).
struct UnifiedKeys {
  std::shared_ptr<arrow::Array> dictionary;         // utf8
  std::vector<std::vector<int32_t>> remap;          // per batch: its key code -> dictionary index
  std::shared_ptr<arrow::Array> value_dictionary;   // utf8; c.dict columns only
  std::vector<std::vector<int32_t>> value_codes;    // per batch, per entry; c.dict columns only
};

UnifiedKeys UnifyKeys(const std::vector<const RowBatch*>& batches, int col) {
  UnifiedKeys u;
  DictionaryBuilder keys, values;
  const bool dict_values = !batches.empty() && batches.front()->column(col).dict;
  u.remap.resize(batches.size());
  if (dict_values) u.value_codes.resize(batches.size());
  for (size_t b = 0; b < batches.size(); ++b) {
    const Column& c = batches[b]->column(col);
    std::vector<int32_t>& remap = u.remap[b];
    remap.resize(static_cast<size_t>(c.num_keys()));
    for (int64_t k = 0; k < c.num_keys(); ++k) remap[static_cast<size_t>(k)] = keys.Add(c.Key(k));
    if (!dict_values) continue;
    std::vector<int32_t>& codes = u.value_codes[b];
    codes.resize(c.val_valid.size());
    for (size_t e = 0; e < codes.size(); ++e) {
      codes[e] = c.val_valid[e] ? values.Add(c.MapValue(static_cast<int64_t>(e))) : -1;
    }
  }
  u.dictionary = keys.Finish();
  if (dict_values) u.value_dictionary = values.Finish();
  return u;
}

// A map column's rows as a MapArray of `type` whose keys are codes into u.dictionary (`remap`
// taking the column's key codes there): map<dictionary<int32, utf8>, utf8> borrowing the
// batch's offsets and values, or for a column of distinct maps (c.dict: one per row through
// `codes`) map<dictionary<int32, utf8>, dictionary<int32, utf8>> expanded row by row, its values
// codes into u.value_dictionary as well.
Result<std::shared_ptr<arrow::Array>> DictKeyMap(const Column& c, int64_t rows, const UnifiedKeys& u, size_t batch,
                                                 const std::shared_ptr<arrow::DataType>& type) {
  const auto& map_type = static_cast<const arrow::MapType&>(*type);
  const std::vector<int32_t>& remap = u.remap[batch];
  auto codes_array = [](const std::shared_ptr<arrow::DataType>& t, std::shared_ptr<arrow::Buffer> codes,
                        std::shared_ptr<arrow::Buffer> validity, int64_t n, int64_t nulls,
                        const std::shared_ptr<arrow::Array>& dictionary) {
    auto idx = arrow::MakeArray(
        arrow::ArrayData::Make(arrow::int32(), n, {nulls > 0 ? std::move(validity) : nullptr, std::move(codes)}, nulls));
    return std::make_shared<arrow::DictionaryArray>(t, idx, dictionary);
  };
  if (c.dict) {
    const std::vector<int32_t>& value_codes = u.value_codes[batch];
    std::vector<int32_t> offsets = {0}, codes, vcodes;
    std::vector<uint8_t> valid;
    offsets.reserve(static_cast<size_t>(rows) + 1);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = c.MapBegin(r); k < c.MapEnd(r); ++k) {
        codes.push_back(remap[static_cast<size_t>(c.key_codes[k])]);
        const int32_t v = value_codes[static_cast<size_t>(k)];
        vcodes.push_back(v < 0 ? 0 : v);
        valid.push_back(v < 0 ? 0 : 1);
      }
      offsets.push_back(static_cast<int32_t>(codes.size()));
    }
    const auto entries = static_cast<int64_t>(codes.size());
    int64_t nulls = 0;
    OTLAKE_ASSIGN_OR_RAISE(auto validity, PackBits(valid, entries, &nulls));
    return std::make_shared<arrow::MapArray>(
        type, rows, arrow::Buffer::FromVector(std::move(offsets)),
        codes_array(map_type.key_type(), arrow::Buffer::FromVector(std::move(codes)), nullptr, entries, 0, u.dictionary),
        codes_array(map_type.item_type(), arrow::Buffer::FromVector(std::move(vcodes)), validity, entries, nulls,
                    u.value_dictionary));
  }
  const auto entries = static_cast<int64_t>(c.val_valid.size());
  std::vector<int32_t> codes(c.key_codes.size());
  for (size_t e = 0; e < codes.size(); ++e) codes[e] = remap[static_cast<size_t>(c.key_codes[e])];
  int64_t nulls = 0;
  OTLAKE_ASSIGN_OR_RAISE(auto vvalid, PackBits(c.val_valid, entries, &nulls));
  auto val_arr = arrow::MakeArray(arrow::ArrayData::Make(
      arrow::utf8(), entries,
      {nulls > 0 ? vvalid : nullptr, arrow::Buffer::Wrap(c.val_offsets),
       std::make_shared<arrow::Buffer>(reinterpret_cast<const uint8_t*>(c.val_chars.data()),
                                       static_cast<int64_t>(c.val_chars.size()))},
      nulls));
  return std::make_shared<arrow::MapArray>(
      type, rows, arrow::Buffer::Wrap(c.offsets),
      codes_array(map_type.key_type(), arrow::Buffer::FromVector(std::move(codes)), nullptr, entries, 0, u.dictionary),
      val_arr);
}

// A map column's rows with plain utf8 keys and values (copies).
Result<std::shared_ptr<arrow::Array>> PlainMap(const Column& c, int64_t rows) {
  std::vector<int32_t> offsets = {0}, key_offsets = {0}, val_offsets = {0};
  std::string keys, vals;
  std::vector<uint8_t> valid;
  offsets.reserve(static_cast<size_t>(rows) + 1);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = c.MapBegin(r); k < c.MapEnd(r); ++k) {
      keys.append(c.MapKey(k));
      key_offsets.push_back(static_cast<int32_t>(keys.size()));
      vals.append(c.MapValue(k));
      val_offsets.push_back(static_cast<int32_t>(vals.size()));
      valid.push_back(c.val_valid[k]);
    }
    offsets.push_back(static_cast<int32_t>(valid.size()));
  }
  const int64_t entries = static_cast<int64_t>(valid.size());
  int64_t nulls = 0;
  OTLAKE_ASSIGN_OR_RAISE(auto validity, PackBits(valid, entries, &nulls));
  auto key_arr = Utf8Array(std::move(key_offsets), std::move(keys));
  auto val_arr = arrow::MakeArray(arrow::ArrayData::Make(
      arrow::utf8(), entries,
      {nulls > 0 ? validity : nullptr, arrow::Buffer::FromVector(std::move(val_offsets)),
       arrow::Buffer::FromString(std::move(vals))},
      nulls));
  return std::make_shared<arrow::MapArray>(AttrMapType(), rows,
                                           arrow::Buffer::FromVector(std::move(offsets)), key_arr,
                                           val_arr);
}

// Builds one array. `own` decides between borrowing (Wrap) and taking ownership (FromVector).
template <bool kOwn, typename ColumnRef>
Result<std::shared_ptr<arrow::Array>> ToArray(ColumnRef&& c, int64_t rows,
                                              const std::shared_ptr<arrow::DataType>& type) {
  std::shared_ptr<arrow::Buffer> validity;
  int64_t null_count = 0;
  if (c.nullable) {
    OTLAKE_ASSIGN_OR_RAISE(validity, PackBits(c.valid, rows, &null_count));
    if (null_count == 0) validity = nullptr;
  }
  auto hold = [](auto& vec) -> std::shared_ptr<arrow::Buffer> {
    if constexpr (kOwn) {
      return arrow::Buffer::FromVector(std::move(vec));
    } else {
      return arrow::Buffer::Wrap(vec);
    }
  };
  if (c.type == ColType::kMap) return PlainMap(c, rows);  // BorrowAsTable has its own (DictKeyMap)
  if (c.dict) return DenseStrings(c, rows);
  std::shared_ptr<arrow::ArrayData> data;
  switch (c.type) {
    case ColType::kMap: break;  // above
    case ColType::kInt64:
      data = arrow::ArrayData::Make(type, rows, {validity, hold(c.ints)}, null_count);
      break;
    case ColType::kDouble:
      data = arrow::ArrayData::Make(type, rows, {validity, hold(c.doubles)}, null_count);
      break;
    case ColType::kBool: {
      int64_t unused = 0;
      OTLAKE_ASSIGN_OR_RAISE(auto values, PackBits(c.bools, rows, &unused));
      data = arrow::ArrayData::Make(type, rows, {validity, values}, null_count);
      break;
    }
    case ColType::kString: {
      std::shared_ptr<arrow::Buffer> chars;
      if constexpr (kOwn) {
        chars = arrow::Buffer::FromString(std::move(c.chars));
      } else {
        chars = std::make_shared<arrow::Buffer>(reinterpret_cast<const uint8_t*>(c.chars.data()),
                                                static_cast<int64_t>(c.chars.size()));
      }
      data = arrow::ArrayData::Make(type, rows, {validity, hold(c.offsets), chars}, null_count);
      break;
    }
  }
  return arrow::MakeArray(data);
}

}  // namespace

std::shared_ptr<arrow::DataType> AttrMapType() {
  static const std::shared_ptr<arrow::DataType> type = std::make_shared<arrow::MapType>(
      arrow::field("key", arrow::utf8(), false), arrow::field("value", arrow::utf8(), true));
  return type;
}

std::shared_ptr<arrow::DataType> AttrMapDictKeyType(bool dict_values) {
  static const std::shared_ptr<arrow::DataType> keys = std::make_shared<arrow::MapType>(
      arrow::field("key", arrow::dictionary(arrow::int32(), arrow::utf8()), false),
      arrow::field("value", arrow::utf8(), true));
  static const std::shared_ptr<arrow::DataType> both = std::make_shared<arrow::MapType>(
      arrow::field("key", arrow::dictionary(arrow::int32(), arrow::utf8()), false),
      arrow::field("value", arrow::dictionary(arrow::int32(), arrow::utf8()), true));
  return dict_values ? both : keys;
}

Status EnsureArrowComputeInitialized() {
  static std::once_flag once;
  static Status status;
  std::call_once(once, [] { status = arrow::compute::Initialize(); });
  return status;
}

std::shared_ptr<arrow::Schema> ArrowSchema(table::TableId id) {
  arrow::FieldVector fields;
  for (const table::ColumnDef& c : table::Columns(id)) {
    fields.push_back(arrow::field(c.name, ArrowType(c.type), c.nullable));
  }
  return arrow::schema(std::move(fields));
}

Result<std::shared_ptr<arrow::Table>> BorrowAsTable(const std::vector<const RowBatch*>& batches,
                                                    const std::vector<std::string>& dense_columns) {
  if (batches.empty()) return Status::Invalid("BorrowAsTable needs at least one batch");
  const table::TableId id = batches.front()->table();
  const auto defs = table::Columns(id);
  int64_t rows = 0;
  for (const RowBatch* b : batches) {
    if (b->table() != id) return Status::Invalid("batches of different tables in one file");
    rows += b->num_rows();
  }
  arrow::FieldVector fields;
  arrow::ChunkedArrayVector columns;
  for (size_t i = 0; i < defs.size(); ++i) {
    const bool dense = std::find(dense_columns.begin(), dense_columns.end(), defs[i].name) !=
                       dense_columns.end();
    const bool dict = batches.front()->column(static_cast<int>(i)).dict &&
                      defs[i].type == ColType::kString && !dense;
    for (const RowBatch* b : batches) {
      if (b->num_rows() > 0) {
        OTLAKE_RETURN_NOT_OK(CheckColumn(b->column(static_cast<int>(i)), b->num_rows(), defs[i].name));
      }
    }
    const bool map = defs[i].type == ColType::kMap;
    std::shared_ptr<arrow::DataType> type = dict ? arrow::dictionary(arrow::int32(), arrow::utf8()) : ArrowType(defs[i].type);
    arrow::ArrayVector chunks;
    if (dict) {
      if (rows > 0) {
        OTLAKE_ASSIGN_OR_RAISE(auto arr, UnifiedDictionary(batches, static_cast<int>(i), rows));
        chunks.push_back(std::move(arr));
      }
    } else if (map) {
      // One key dictionary for the whole table: the Parquet writer then takes the keys as codes
      // (no hashing of each key again) and every row group has the same dictionary. Every row
      // group's dictionary page holds all of it, so past kMaxMapDictionary keys (or values) the
      // maps go as strings and the writer builds (and gives up) its dictionaries itself.
      const UnifiedKeys keys = UnifyKeys(batches, static_cast<int>(i));
      auto small = [](const std::shared_ptr<arrow::Array>& d) {
        return d == nullptr || (d->length() <= kMaxMapDictionary &&
                                static_cast<const arrow::StringArray&>(*d).total_values_length() <= kMaxMapDictionaryBytes);
      };
      const bool codes = small(keys.dictionary) && small(keys.value_dictionary);
      if (codes) type = AttrMapDictKeyType(keys.value_dictionary != nullptr);
      for (size_t b = 0; b < batches.size(); ++b) {
        if (batches[b]->num_rows() == 0) continue;
        const Column& c = batches[b]->column(static_cast<int>(i));
        OTLAKE_ASSIGN_OR_RAISE(auto arr, codes ? DictKeyMap(c, batches[b]->num_rows(), keys, b, type)
                                               : PlainMap(c, batches[b]->num_rows()));
        chunks.push_back(std::move(arr));
      }
    } else {
      for (const RowBatch* b : batches) {
        if (b->num_rows() == 0) continue;
        OTLAKE_ASSIGN_OR_RAISE(auto arr, ToArray<false>(b->column(static_cast<int>(i)),
                                                        b->num_rows(), type));
        chunks.push_back(std::move(arr));
      }
    }
    fields.push_back(arrow::field(defs[i].name, type, defs[i].nullable));
    columns.push_back(std::make_shared<arrow::ChunkedArray>(std::move(chunks), type));
  }
  return arrow::Table::Make(arrow::schema(std::move(fields)), std::move(columns), rows);
}

Result<std::shared_ptr<arrow::Table>> MoveToTable(RowBatch&& batch) {
  const table::TableId id = batch.table();
  std::shared_ptr<arrow::Schema> schema = ArrowSchema(id);
  const auto defs = table::Columns(id);
  const int64_t rows = batch.num_rows();
  arrow::ArrayVector arrays;
  for (size_t i = 0; i < defs.size(); ++i) {
    Column& c = batch.mutable_column(static_cast<int>(i));
    OTLAKE_RETURN_NOT_OK(CheckColumn(c, rows, defs[i].name));
    OTLAKE_ASSIGN_OR_RAISE(auto arr, ToArray<true>(c, rows, schema->field(i)->type()));
    arrays.push_back(std::move(arr));
  }
  return arrow::Table::Make(schema, std::move(arrays), rows);
}

Result<std::shared_ptr<arrow::Table>> SortTable(const std::shared_ptr<arrow::Table>& table,
                                                const std::vector<std::string>& sort_key) {
  OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Array> indices, SortIndicesOf(table, sort_key));
  OTLAKE_ASSIGN_OR_RAISE(arrow::Datum sorted,
                         arrow::compute::Take(arrow::Datum(table), arrow::Datum(indices)));
  return sorted.table();
}

Result<std::shared_ptr<arrow::Array>> SortIndicesOf(const std::shared_ptr<arrow::Table>& table,
                                                    const std::vector<std::string>& sort_key) {
  OTLAKE_RETURN_NOT_OK(EnsureArrowComputeInitialized());
  std::vector<arrow::compute::SortKey> keys;
  for (const std::string& k : sort_key) keys.emplace_back(arrow::FieldRef(k));
  arrow::compute::SortOptions options(std::move(keys));
  return arrow::compute::SortIndices(arrow::Datum(table), options);
}

struct RowGatherer::Col {
  std::vector<const arrow::ArrayData*> chunks;  // borrowed from table_
  int layout = 0;
  bool any_nulls = false;
  // Output buffers, reused while no earlier result holds them.
  std::shared_ptr<arrow::ResizableBuffer> validity, values, chars;
};

namespace {

// `*buf` with room for `bytes`: the previous buffer if nothing else holds it and it is large
// enough, else a new one (never a reallocation that would copy stale contents).
Status Reserve(std::shared_ptr<arrow::ResizableBuffer>* buf, int64_t bytes,
               arrow::MemoryPool* pool) {
  if (*buf != nullptr && buf->use_count() == 1 && (*buf)->capacity() >= bytes) {
    return (*buf)->Resize(bytes, /*shrink_to_fit=*/false);
  }
  OTLAKE_ASSIGN_OR_RAISE(std::unique_ptr<arrow::ResizableBuffer> b,
                         arrow::AllocateResizableBuffer(bytes, pool));
  *buf = std::move(b);
  return Status::OK();
}

template <typename T>
void GatherFixed(const std::vector<const arrow::ArrayData*>& chunks, const int32_t* chunk,
                 const int64_t* local, int64_t n, int value_buffer, uint8_t* out_bytes) {
  auto* out = reinterpret_cast<T*>(out_bytes);
  for (int64_t i = 0; i < n; ++i) out[i] = chunks[chunk[i]]->GetValues<T>(value_buffer)[local[i]];
}

}  // namespace

RowGatherer::RowGatherer(std::shared_ptr<arrow::Table> table, arrow::MemoryPool* pool)
    : table_(std::move(table)), pool_(pool) {}

RowGatherer::~RowGatherer() = default;

Result<std::unique_ptr<RowGatherer>> RowGatherer::Make(std::shared_ptr<arrow::Table> table,
                                                       arrow::MemoryPool* pool) {
  std::unique_ptr<RowGatherer> g(new RowGatherer(std::move(table), pool));
  const arrow::Schema& schema = *g->table_->schema();
  g->cols_.resize(static_cast<size_t>(schema.num_fields()));
  for (int i = 0; i < schema.num_fields(); ++i) {
    const arrow::DataType& type = *schema.field(i)->type();
    const arrow::ChunkedArray& values = *g->table_->column(i);
    switch (type.id()) {
      case arrow::Type::INT32:
      case arrow::Type::INT64:
      case arrow::Type::DOUBLE:
      case arrow::Type::BOOL:
      case arrow::Type::STRING: break;
      case arrow::Type::MAP: {
        const auto& m = static_cast<const arrow::MapType&>(type);
        const auto utf8_dict = arrow::dictionary(arrow::int32(), arrow::utf8());
        for (int child = 0; child < 2; ++child) {
          const auto& t = child == 0 ? m.key_type() : m.item_type();
          if (t->id() == arrow::Type::STRING) continue;
          if (!t->Equals(utf8_dict)) return Status::NotImplemented("RowGatherer: map type ", type);
          auto dict_of = [child](const arrow::Array& a) { return a.data()->child_data[0]->child_data[child]->dictionary; };
          for (const auto& c : values.chunks()) {
            if (dict_of(*c) != dict_of(*values.chunk(0))) {
              return Status::NotImplemented("RowGatherer: map chunks with different dictionaries");
            }
          }
        }
        break;
      }
      case arrow::Type::DICTIONARY: {
        const auto& d = static_cast<const arrow::DictionaryType&>(type);
        if (d.index_type()->id() != arrow::Type::INT32) {
          return Status::NotImplemented("RowGatherer: dictionary index type ", *d.index_type());
        }
        for (const auto& c : values.chunks()) {
          if (c->data()->dictionary != values.chunk(0)->data()->dictionary) {
            return Status::NotImplemented("RowGatherer: chunks with different dictionaries");
          }
        }
        break;
      }
      default: return Status::NotImplemented("RowGatherer: column type ", type);
    }
    Col& col = g->cols_[static_cast<size_t>(i)];
    std::vector<int64_t> starts = {0};
    for (const auto& c : values.chunks()) {
      col.chunks.push_back(c->data().get());
      col.any_nulls = col.any_nulls || c->null_count() > 0;
      starts.push_back(starts.back() + c->length());
    }
    auto it = std::find(g->layouts_.begin(), g->layouts_.end(), starts);
    col.layout = static_cast<int>(it - g->layouts_.begin());
    if (it == g->layouts_.end()) g->layouts_.push_back(std::move(starts));
  }
  g->chunk_.resize(g->layouts_.size());
  g->local_.resize(g->layouts_.size());
  return g;
}

Result<std::shared_ptr<arrow::Table>> RowGatherer::Gather(const uint64_t* rows, int64_t n) {
  const int64_t total = table_->num_rows();
  for (int64_t i = 0; i < n; ++i) {
    if (rows[i] >= static_cast<uint64_t>(total)) {
      return Status::IndexError("RowGatherer: row ", rows[i], " of ", total);
    }
  }
  // Resolve each row once per chunk layout (one per batch chunking, not per column).
  for (size_t l = 0; l < layouts_.size(); ++l) {
    const std::vector<int64_t>& starts = layouts_[l];
    chunk_[l].resize(static_cast<size_t>(n));
    local_[l].resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const auto r = static_cast<int64_t>(rows[i]);
      const auto c = std::upper_bound(starts.begin() + 1, starts.end(), r) - starts.begin() - 1;
      chunk_[l][i] = static_cast<int32_t>(c);
      local_[l][i] = r - starts[static_cast<size_t>(c)];
    }
  }
  arrow::ArrayVector arrays;
  for (size_t ci = 0; ci < cols_.size(); ++ci) {
    Col& col = cols_[ci];
    const std::shared_ptr<arrow::DataType>& type = table_->schema()->field(static_cast<int>(ci))->type();
    const int32_t* chunk = chunk_[col.layout].data();
    const int64_t* local = local_[col.layout].data();
    std::shared_ptr<arrow::Buffer> validity;
    int64_t nulls = 0;
    if (col.any_nulls) {
      OTLAKE_RETURN_NOT_OK(Reserve(&col.validity, arrow::bit_util::BytesForBits(n), pool_));
      uint8_t* bits = col.validity->mutable_data();
      std::memset(bits, 0, static_cast<size_t>(col.validity->size()));
      for (int64_t i = 0; i < n; ++i) {
        const arrow::ArrayData& d = *col.chunks[chunk[i]];
        if (d.buffers[0] == nullptr || arrow::bit_util::GetBit(d.buffers[0]->data(), d.offset + local[i])) {
          arrow::bit_util::SetBit(bits, i);
        } else {
          ++nulls;
        }
      }
      if (nulls > 0) validity = col.validity;
    }
    std::shared_ptr<arrow::ArrayData> out;
    switch (type->id()) {
      case arrow::Type::INT32:
      case arrow::Type::DICTIONARY:
        OTLAKE_RETURN_NOT_OK(Reserve(&col.values, n * 4, pool_));
        GatherFixed<int32_t>(col.chunks, chunk, local, n, 1, col.values->mutable_data());
        out = arrow::ArrayData::Make(type, n, {validity, col.values}, nulls);
        if (type->id() == arrow::Type::DICTIONARY) out->dictionary = col.chunks[0]->dictionary;
        break;
      case arrow::Type::INT64:
      case arrow::Type::DOUBLE:
        OTLAKE_RETURN_NOT_OK(Reserve(&col.values, n * 8, pool_));
        GatherFixed<uint64_t>(col.chunks, chunk, local, n, 1, col.values->mutable_data());
        out = arrow::ArrayData::Make(type, n, {validity, col.values}, nulls);
        break;
      case arrow::Type::BOOL: {
        OTLAKE_RETURN_NOT_OK(Reserve(&col.values, arrow::bit_util::BytesForBits(n), pool_));
        uint8_t* bits = col.values->mutable_data();
        std::memset(bits, 0, static_cast<size_t>(col.values->size()));
        for (int64_t i = 0; i < n; ++i) {
          const arrow::ArrayData& d = *col.chunks[chunk[i]];
          if (arrow::bit_util::GetBit(d.buffers[1]->data(), d.offset + local[i])) {
            arrow::bit_util::SetBit(bits, i);
          }
        }
        out = arrow::ArrayData::Make(type, n, {validity, col.values}, nulls);
        break;
      }
      case arrow::Type::STRING: {
        OTLAKE_RETURN_NOT_OK(Reserve(&col.values, (n + 1) * 4, pool_));
        auto* offsets = reinterpret_cast<int32_t*>(col.values->mutable_data());
        int64_t bytes = 0;
        offsets[0] = 0;
        for (int64_t i = 0; i < n; ++i) {
          const int32_t* o = col.chunks[chunk[i]]->GetValues<int32_t>(1) + local[i];
          bytes += o[1] - o[0];
          if (bytes > INT32_MAX) return Status::CapacityError("RowGatherer: utf8 column over 2 GiB");
          offsets[i + 1] = static_cast<int32_t>(bytes);
        }
        OTLAKE_RETURN_NOT_OK(Reserve(&col.chars, bytes, pool_));
        uint8_t* chars = col.chars->mutable_data();
        for (int64_t i = 0; i < n; ++i) {
          const arrow::ArrayData& d = *col.chunks[chunk[i]];
          const int32_t* o = d.GetValues<int32_t>(1) + local[i];
          std::memcpy(chars + offsets[i], d.buffers[2]->data() + o[0],
                      static_cast<size_t>(o[1] - o[0]));
        }
        out = arrow::ArrayData::Make(type, n, {validity, col.values, col.chars}, nulls);
        break;
      }
      case arrow::Type::MAP: {
        // Entry offsets, then the keys' (codes, or offsets and bytes) and values' offsets and
        // bytes, then value validity.
        const bool dict_keys = static_cast<const arrow::MapType&>(*type).key_type()->id() == arrow::Type::DICTIONARY;
        const bool dict_vals = static_cast<const arrow::MapType&>(*type).item_type()->id() == arrow::Type::DICTIONARY;
        OTLAKE_RETURN_NOT_OK(Reserve(&col.values, (n + 1) * 4, pool_));
        auto* offsets = reinterpret_cast<int32_t*>(col.values->mutable_data());
        int64_t entries = 0, key_bytes = 0, val_bytes = 0;
        offsets[0] = 0;
        auto parts = [&](int64_t i, const arrow::ArrayData** keys, const arrow::ArrayData** vals,
                         int64_t* first, int64_t* count) {
          const arrow::ArrayData& d = *col.chunks[chunk[i]];
          const int32_t* o = d.GetValues<int32_t>(1) + local[i];
          const arrow::ArrayData& st = *d.child_data[0];
          *keys = st.child_data[0].get();
          *vals = st.child_data[1].get();
          *first = st.offset + o[0];
          *count = o[1] - o[0];
        };
        for (int64_t i = 0; i < n; ++i) {
          const arrow::ArrayData *keys, *vals;
          int64_t first, count;
          parts(i, &keys, &vals, &first, &count);
          entries += count;
          if (count > 0) {
            if (!dict_keys) {
              const int32_t* ko = keys->GetValues<int32_t>(1) + first;
              key_bytes += ko[count] - ko[0];
            }
            if (!dict_vals) {
              const int32_t* vo = vals->GetValues<int32_t>(1) + first;
              val_bytes += vo[count] - vo[0];
            }
          }
          if (entries > INT32_MAX || key_bytes > INT32_MAX || val_bytes > INT32_MAX) {
            return Status::CapacityError("RowGatherer: map column over 2 GiB");
          }
          offsets[i + 1] = static_cast<int32_t>(entries);
        }
        OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> ko_buf,
                               arrow::AllocateBuffer((entries + 1) * 4, pool_));
        OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> vo_buf,
                               arrow::AllocateBuffer((entries + 1) * 4, pool_));
        OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> kc_buf, arrow::AllocateBuffer(key_bytes, pool_));
        OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> vc_buf, arrow::AllocateBuffer(val_bytes, pool_));
        OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> vv_buf,
                               arrow::AllocateEmptyBitmap(std::max<int64_t>(entries, 1), pool_));
        auto* ko_out = reinterpret_cast<int32_t*>(ko_buf->mutable_data());
        auto* vo_out = reinterpret_cast<int32_t*>(vo_buf->mutable_data());
        uint8_t* kc = kc_buf->mutable_data();
        uint8_t* vc = vc_buf->mutable_data();
        uint8_t* vv = vv_buf->mutable_data();
        int64_t e = 0, kpos = 0, vpos = 0, val_nulls = 0;
        if (!dict_keys) ko_out[0] = 0;
        if (!dict_vals) vo_out[0] = 0;
        for (int64_t i = 0; i < n; ++i) {
          const arrow::ArrayData *keys, *vals;
          int64_t first, count;
          parts(i, &keys, &vals, &first, &count);
          const int32_t* ko = keys->GetValues<int32_t>(1) + first;  // dict_keys: the codes
          const int32_t* vo = vals->GetValues<int32_t>(1) + first;  // dict_vals: the codes
          const uint8_t* kdata = !dict_keys && keys->buffers[2] ? keys->buffers[2]->data() : nullptr;
          const uint8_t* vdata = !dict_vals && vals->buffers[2] ? vals->buffers[2]->data() : nullptr;
          const uint8_t* vbits = vals->buffers[0] ? vals->buffers[0]->data() : nullptr;
          if (dict_keys && count > 0) std::memcpy(ko_out + e, ko, static_cast<size_t>(count) * 4);
          if (dict_vals && count > 0) std::memcpy(vo_out + e, vo, static_cast<size_t>(count) * 4);
          for (int64_t k = 0; k < count; ++k, ++e) {
            if (!dict_keys) {
              const int32_t kl = ko[k + 1] - ko[k];
              if (kl > 0) std::memcpy(kc + kpos, kdata + ko[k], static_cast<size_t>(kl));
              kpos += kl;
              ko_out[e + 1] = static_cast<int32_t>(kpos);
            }
            if (!dict_vals) {
              const int32_t vl = vo[k + 1] - vo[k];
              if (vl > 0) std::memcpy(vc + vpos, vdata + vo[k], static_cast<size_t>(vl));
              vpos += vl;
              vo_out[e + 1] = static_cast<int32_t>(vpos);
            }
            if (vbits == nullptr || arrow::bit_util::GetBit(vbits, vals->offset + first + k)) {
              arrow::bit_util::SetBit(vv, e);
            } else {
              ++val_nulls;
            }
          }
        }
        const auto& mt = static_cast<const arrow::MapType&>(*type);
        auto key_data = dict_keys ? arrow::ArrayData::Make(mt.key_type(), entries, {nullptr, ko_buf}, 0)
                                  : arrow::ArrayData::Make(mt.key_type(), entries, {nullptr, ko_buf, kc_buf}, 0);
        if (dict_keys) key_data->dictionary = col.chunks[0]->child_data[0]->child_data[0]->dictionary;
        auto val_data = dict_vals ? arrow::ArrayData::Make(mt.item_type(), entries,
                                                           {val_nulls > 0 ? vv_buf : nullptr, vo_buf}, val_nulls)
                                  : arrow::ArrayData::Make(mt.item_type(), entries,
                                                           {val_nulls > 0 ? vv_buf : nullptr, vo_buf, vc_buf}, val_nulls);
        if (dict_vals) val_data->dictionary = col.chunks[0]->child_data[0]->child_data[1]->dictionary;
        auto struct_data = arrow::ArrayData::Make(mt.value_type(), entries, {nullptr}, 0);
        struct_data->child_data = {key_data, val_data};
        out = arrow::ArrayData::Make(type, n, {validity, col.values}, nulls);
        out->child_data = {struct_data};
        break;
      }
      default: return Status::NotImplemented("RowGatherer: column type ", *type);
    }
    arrays.push_back(arrow::MakeArray(std::move(out)));
  }
  return arrow::Table::Make(table_->schema(), std::move(arrays), n);
}

}  // namespace otlake::lake
