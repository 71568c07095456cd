#include "otlake/lake/arrow_convert.h"

#include <arrow/api.h>
#include <arrow/compute/api_vector.h>
#include <arrow/compute/initialize.h>
#include <arrow/util/bit_util.h>

#include <mutex>

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
  }
  return arrow::utf8();
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
      (c.offsets.front() != 0 || static_cast<size_t>(c.offsets.back()) != c.chars.size())) {
    return Status::Invalid("column ", name, " has inconsistent string offsets");
  }
  return Status::OK();
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
  std::shared_ptr<arrow::ArrayData> data;
  switch (c.type) {
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

Result<std::shared_ptr<arrow::Table>> BorrowAsTable(const std::vector<const RowBatch*>& batches) {
  if (batches.empty()) return Status::Invalid("BorrowAsTable needs at least one batch");
  const table::TableId id = batches.front()->table();
  std::shared_ptr<arrow::Schema> schema = ArrowSchema(id);
  const auto defs = table::Columns(id);
  std::vector<arrow::ArrayVector> chunks(defs.size());
  for (const RowBatch* b : batches) {
    if (b->table() != id) return Status::Invalid("batches of different tables in one file");
    if (b->num_rows() == 0) continue;
    for (size_t i = 0; i < defs.size(); ++i) {
      const Column& c = b->column(static_cast<int>(i));
      OTLAKE_RETURN_NOT_OK(CheckColumn(c, b->num_rows(), defs[i].name));
      OTLAKE_ASSIGN_OR_RAISE(auto arr,
                             ToArray<false>(c, b->num_rows(), schema->field(i)->type()));
      chunks[i].push_back(std::move(arr));
    }
  }
  arrow::ChunkedArrayVector columns;
  for (size_t i = 0; i < defs.size(); ++i) {
    columns.push_back(
        std::make_shared<arrow::ChunkedArray>(std::move(chunks[i]), schema->field(i)->type()));
  }
  return arrow::Table::Make(schema, std::move(columns));
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
  OTLAKE_RETURN_NOT_OK(EnsureArrowComputeInitialized());
  std::vector<arrow::compute::SortKey> keys;
  for (const std::string& k : sort_key) keys.emplace_back(arrow::FieldRef(k));
  arrow::compute::SortOptions options(std::move(keys));
  OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Array> indices,
                         arrow::compute::SortIndices(arrow::Datum(table), options));
  OTLAKE_ASSIGN_OR_RAISE(arrow::Datum sorted,
                         arrow::compute::Take(arrow::Datum(table), arrow::Datum(indices)));
  return sorted.table();
}

}  // namespace otlake::lake
