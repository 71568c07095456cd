#include "otlake/table/row_batch.h"

#include <cassert>

namespace otlake::table {

bool IsDictColumn(int col) {
  switch (col) {
    case kProjectId:
    case kServiceName:
    case kServiceNamespace:
    case kServiceInstanceId:
    case kServiceVersion:
    case kDeploymentEnv:
    case kResourceAttrsJson:
    case kResourceSchemaUrl:
    case kScopeName:
    case kScopeVersion:
    case kScopeAttrsJson:
    case kScopeSchemaUrl:
    case kEventDate: return true;
    default: return false;
  }
}

int64_t Column::size() const {
  switch (type) {
    case ColType::kString:
      return dict ? static_cast<int64_t>(codes.size()) : static_cast<int64_t>(offsets.size()) - 1;
    case ColType::kInt64: return static_cast<int64_t>(ints.size());
    case ColType::kDouble: return static_cast<int64_t>(doubles.size());
    case ColType::kBool: return static_cast<int64_t>(bools.size());
  }
  return 0;
}

RowBatch::RowBatch(TableId table) : table_(table) {
  auto defs = Columns(table);
  columns_.resize(defs.size());
  for (size_t i = 0; i < defs.size(); ++i) {
    columns_[i].type = defs[i].type;
    columns_[i].nullable = defs[i].nullable;
    columns_[i].dict = defs[i].type == ColType::kString && !defs[i].nullable &&
                       IsDictColumn(static_cast<int>(i));
    if (defs[i].type == ColType::kString) columns_[i].offsets.push_back(0);
  }
}

void RowBatch::AppendNull(int col) {
  Column& c = columns_[col];
  switch (c.type) {
    case ColType::kString:
      if (c.dict) {
        AppendDictString(c, {});
      } else {
        c.offsets.push_back(static_cast<int32_t>(c.chars.size()));
      }
      break;
    case ColType::kInt64: c.ints.push_back(0); break;
    case ColType::kDouble: c.doubles.push_back(0); break;
    case ColType::kBool: c.bools.push_back(0); break;
  }
  if (c.nullable) c.valid.push_back(0);
}

void RowBatch::ReserveRows(int64_t rows) {
  if (rows <= 0) return;
  const size_t n = static_cast<size_t>(rows);
  for (Column& c : columns_) {
    switch (c.type) {
      case ColType::kString:
        if (c.dict) {
          c.codes.reserve(c.codes.size() + n);
        } else {
          c.offsets.reserve(c.offsets.size() + n);
        }
        break;
      case ColType::kInt64: c.ints.reserve(c.ints.size() + n); break;
      case ColType::kDouble: c.doubles.reserve(c.doubles.size() + n); break;
      case ColType::kBool: c.bools.reserve(c.bools.size() + n); break;
    }
    if (c.nullable) c.valid.reserve(c.valid.size() + n);
  }
}

void RowBatch::FinishRow() {
  ++num_rows_;
#ifndef NDEBUG
  for (size_t i = 0; i < columns_.size(); ++i) {
    assert(columns_[i].size() == num_rows_ && "column missed or repeated a value in this row");
  }
#endif
}

void RowBatch::Truncate(int64_t rows) {
  for (Column& c : columns_) {
    switch (c.type) {
      case ColType::kString:
        if (c.dict) {
          // Entries past the last kept row's stay: unreferenced, harmless, dropped per file.
          if (c.size() > rows) c.codes.resize(rows);
        } else if (c.size() > rows) {
          c.offsets.resize(rows + 1);
          c.chars.resize(c.offsets.back());
        }
        break;
      case ColType::kInt64:
        if (c.size() > rows) c.ints.resize(rows);
        break;
      case ColType::kDouble:
        if (c.size() > rows) c.doubles.resize(rows);
        break;
      case ColType::kBool:
        if (c.size() > rows) c.bools.resize(rows);
        break;
    }
    if (c.nullable && static_cast<int64_t>(c.valid.size()) > rows) c.valid.resize(rows);
  }
  if (num_rows_ > rows) num_rows_ = rows;
}

void RowBatch::AppendBatch(const RowBatch& other) {
  assert(other.table_ == table_);
  for (size_t i = 0; i < columns_.size(); ++i) {
    Column& c = columns_[i];
    const Column& o = other.columns_[i];
    switch (c.type) {
      case ColType::kString: {
        const int32_t base = static_cast<int32_t>(c.chars.size());
        const int32_t first_entry = static_cast<int32_t>(c.offsets.size()) - 1;
        c.chars.append(o.chars);
        c.offsets.reserve(c.offsets.size() + o.offsets.size() - 1);
        for (size_t k = 1; k < o.offsets.size(); ++k) c.offsets.push_back(base + o.offsets[k]);
        if (c.dict) {
          c.codes.reserve(c.codes.size() + o.codes.size());
          for (int32_t code : o.codes) c.codes.push_back(first_entry + code);
        }
        break;
      }
      case ColType::kInt64: c.ints.insert(c.ints.end(), o.ints.begin(), o.ints.end()); break;
      case ColType::kDouble:
        c.doubles.insert(c.doubles.end(), o.doubles.begin(), o.doubles.end());
        break;
      case ColType::kBool: c.bools.insert(c.bools.end(), o.bools.begin(), o.bools.end()); break;
    }
    if (c.nullable) c.valid.insert(c.valid.end(), o.valid.begin(), o.valid.end());
  }
  num_rows_ += other.num_rows_;
}

int64_t RowBatch::ByteSize() const {
  int64_t n = 0;
  for (const Column& c : columns_) {
    n += static_cast<int64_t>(c.ints.size() * 8 + c.doubles.size() * 8 + c.bools.size() +
                              c.offsets.size() * 4 + c.chars.size() + c.codes.size() * 4 +
                              c.valid.size());
  }
  return n;
}

RowBatch& TableBatches::Get(TableId t) {
  auto& b = batches_[static_cast<int>(t)];
  if (!b) b = std::make_unique<RowBatch>(t);
  return *b;
}

int64_t TableBatches::TotalRows() const {
  int64_t n = 0;
  for (const auto& b : batches_) n += b ? b->num_rows() : 0;
  return n;
}

int64_t TableBatches::ByteSize() const {
  int64_t n = 0;
  for (const auto& b : batches_) n += b ? b->ByteSize() : 0;
  return n;
}

}  // namespace otlake::table
