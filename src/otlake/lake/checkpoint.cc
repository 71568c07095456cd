#include "otlake/lake/checkpoint.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <arrow/io/memory.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>

#include "otlake/lake/fs_util.h"

namespace otlake::lake {
namespace {

using arrow::field;

std::shared_ptr<arrow::DataType> StrMapType() { return arrow::map(arrow::utf8(), arrow::utf8()); }

std::shared_ptr<arrow::Schema> CheckpointSchema() {
  auto txn = arrow::struct_({field("appId", arrow::utf8()), field("version", arrow::int64()),
                             field("lastUpdated", arrow::int64())});
  auto add = arrow::struct_({field("path", arrow::utf8()), field("partitionValues", StrMapType()),
                             field("size", arrow::int64()),
                             field("modificationTime", arrow::int64()),
                             field("dataChange", arrow::boolean()),
                             field("stats", arrow::utf8())});
  auto remove = arrow::struct_({field("path", arrow::utf8()),
                                field("deletionTimestamp", arrow::int64()),
                                field("dataChange", arrow::boolean())});
  auto format = arrow::struct_({field("provider", arrow::utf8()), field("options", StrMapType())});
  auto metadata = arrow::struct_(
      {field("id", arrow::utf8()), field("name", arrow::utf8()),
       field("description", arrow::utf8()), field("format", format),
       field("schemaString", arrow::utf8()), field("partitionColumns", arrow::list(arrow::utf8())),
       field("configuration", StrMapType()), field("createdTime", arrow::int64())});
  auto protocol = arrow::struct_({field("minReaderVersion", arrow::int32()),
                                  field("minWriterVersion", arrow::int32())});
  return arrow::schema({field("txn", txn), field("add", add), field("remove", remove),
                        field("metaData", metadata), field("protocol", protocol)});
}

// ---- writing ----

template <typename B>
B* Child(arrow::StructBuilder* s, int i) {
  return static_cast<B*>(s->field_builder(i));
}

Status AppendStr(arrow::ArrayBuilder* b, const std::string& v) {
  return static_cast<arrow::StringBuilder*>(b)->Append(v);
}
Status AppendOptStr(arrow::ArrayBuilder* b, const std::optional<std::string>& v) {
  auto* sb = static_cast<arrow::StringBuilder*>(b);
  return v ? sb->Append(*v) : sb->AppendNull();
}
Status AppendInt(arrow::ArrayBuilder* b, int64_t v) {
  return static_cast<arrow::Int64Builder*>(b)->Append(v);
}
Status AppendOptInt(arrow::ArrayBuilder* b, const std::optional<int64_t>& v) {
  auto* ib = static_cast<arrow::Int64Builder*>(b);
  return v ? ib->Append(*v) : ib->AppendNull();
}
Status AppendMap(arrow::ArrayBuilder* b, const std::map<std::string, std::string>& m) {
  auto* mb = static_cast<arrow::MapBuilder*>(b);
  OTLAKE_RETURN_NOT_OK(mb->Append());
  for (const auto& [k, v] : m) {
    OTLAKE_RETURN_NOT_OK(static_cast<arrow::StringBuilder*>(mb->key_builder())->Append(k));
    OTLAKE_RETURN_NOT_OK(static_cast<arrow::StringBuilder*>(mb->item_builder())->Append(v));
  }
  return Status::OK();
}

// One builder per top-level column; each action appends to its own column and nulls elsewhere.
struct Builders {
  enum Col { kTxn, kAdd, kRemove, kMetadata, kProtocol, kNumCols };
  std::unique_ptr<arrow::StructBuilder> cols[kNumCols];

  Status Init(const arrow::Schema& schema) {
    for (int i = 0; i < kNumCols; ++i) {
      std::unique_ptr<arrow::ArrayBuilder> b;
      OTLAKE_ASSIGN_OR_RAISE(b, arrow::MakeBuilder(schema.field(i)->type()));
      cols[i].reset(static_cast<arrow::StructBuilder*>(b.release()));
    }
    return Status::OK();
  }
  // Starts a row whose action lives in column `c`; returns that column's builder.
  Result<arrow::StructBuilder*> Row(Col c) {
    for (int i = 0; i < kNumCols; ++i) {
      if (i != c) OTLAKE_RETURN_NOT_OK(cols[i]->AppendNull());
    }
    OTLAKE_RETURN_NOT_OK(cols[c]->Append());
    return cols[c].get();
  }
};

Status BuildRows(const TableState& s, Builders* b) {
  {
    OTLAKE_ASSIGN_OR_RAISE(auto* p, b->Row(Builders::kProtocol));
    OTLAKE_RETURN_NOT_OK(
        Child<arrow::Int32Builder>(p, 0)->Append(s.protocol.min_reader_version));
    OTLAKE_RETURN_NOT_OK(
        Child<arrow::Int32Builder>(p, 1)->Append(s.protocol.min_writer_version));
  }
  {
    const Metadata& m = s.metadata;
    OTLAKE_ASSIGN_OR_RAISE(auto* md, b->Row(Builders::kMetadata));
    OTLAKE_RETURN_NOT_OK(AppendStr(md->field_builder(0), m.id));
    OTLAKE_RETURN_NOT_OK(AppendOptStr(md->field_builder(1), m.name));
    OTLAKE_RETURN_NOT_OK(AppendOptStr(md->field_builder(2), m.description));
    auto* fmt = Child<arrow::StructBuilder>(md, 3);
    OTLAKE_RETURN_NOT_OK(fmt->Append());
    OTLAKE_RETURN_NOT_OK(AppendStr(fmt->field_builder(0), m.format_provider));
    OTLAKE_RETURN_NOT_OK(AppendMap(fmt->field_builder(1), m.format_options));
    OTLAKE_RETURN_NOT_OK(AppendStr(md->field_builder(4), m.schema_string));
    auto* pcols = Child<arrow::ListBuilder>(md, 5);
    OTLAKE_RETURN_NOT_OK(pcols->Append());
    for (const std::string& c : m.partition_columns) {
      OTLAKE_RETURN_NOT_OK(AppendStr(pcols->value_builder(), c));
    }
    OTLAKE_RETURN_NOT_OK(AppendMap(md->field_builder(6), m.configuration));
    OTLAKE_RETURN_NOT_OK(AppendOptInt(md->field_builder(7), m.created_time));
  }
  for (const auto& [app, t] : s.txns) {
    OTLAKE_ASSIGN_OR_RAISE(auto* tb, b->Row(Builders::kTxn));
    OTLAKE_RETURN_NOT_OK(AppendStr(tb->field_builder(0), t.app_id));
    OTLAKE_RETURN_NOT_OK(AppendInt(tb->field_builder(1), t.version));
    OTLAKE_RETURN_NOT_OK(AppendOptInt(tb->field_builder(2), t.last_updated));
  }
  for (const auto& [path, a] : s.adds) {
    OTLAKE_ASSIGN_OR_RAISE(auto* ab, b->Row(Builders::kAdd));
    OTLAKE_RETURN_NOT_OK(AppendStr(ab->field_builder(0), a.path));
    OTLAKE_RETURN_NOT_OK(AppendMap(ab->field_builder(1), a.partition_values));
    OTLAKE_RETURN_NOT_OK(AppendInt(ab->field_builder(2), a.size));
    OTLAKE_RETURN_NOT_OK(AppendInt(ab->field_builder(3), a.modification_time));
    OTLAKE_RETURN_NOT_OK(Child<arrow::BooleanBuilder>(ab, 4)->Append(a.data_change));
    OTLAKE_RETURN_NOT_OK(a.stats.empty() ? ab->field_builder(5)->AppendNull()
                                         : AppendStr(ab->field_builder(5), a.stats));
  }
  for (const auto& [path, r] : s.removes) {
    OTLAKE_ASSIGN_OR_RAISE(auto* rb, b->Row(Builders::kRemove));
    OTLAKE_RETURN_NOT_OK(AppendStr(rb->field_builder(0), r.path));
    OTLAKE_RETURN_NOT_OK(AppendInt(rb->field_builder(1), r.deletion_timestamp));
    OTLAKE_RETURN_NOT_OK(Child<arrow::BooleanBuilder>(rb, 2)->Append(r.data_change));
  }
  return Status::OK();
}

// ---- reading ----

// Typed access to one struct column of the checkpoint, by field name (order may differ in files
// written by other engines; missing fields read as absent).
class StructView {
 public:
  explicit StructView(std::shared_ptr<arrow::Array> a)
      : s_(std::static_pointer_cast<arrow::StructArray>(std::move(a))) {}
  bool IsValid(int64_t i) const { return s_->IsValid(i); }
  std::shared_ptr<arrow::Array> Field(const char* name) const { return s_->GetFieldByName(name); }
  std::optional<std::string> Str(const char* name, int64_t i) const {
    auto f = Field(name);
    if (!f || f->IsNull(i) || f->type_id() != arrow::Type::STRING) return std::nullopt;
    return static_cast<const arrow::StringArray&>(*f).GetString(i);
  }
  std::optional<int64_t> Int(const char* name, int64_t i) const {
    auto f = Field(name);
    if (!f || f->IsNull(i)) return std::nullopt;
    if (f->type_id() == arrow::Type::INT64) {
      return static_cast<const arrow::Int64Array&>(*f).Value(i);
    }
    if (f->type_id() == arrow::Type::INT32) {
      return static_cast<const arrow::Int32Array&>(*f).Value(i);
    }
    return std::nullopt;
  }
  std::optional<bool> Bool(const char* name, int64_t i) const {
    auto f = Field(name);
    if (!f || f->IsNull(i) || f->type_id() != arrow::Type::BOOL) return std::nullopt;
    return static_cast<const arrow::BooleanArray&>(*f).Value(i);
  }
  std::map<std::string, std::string> Map(const char* name, int64_t i) const {
    return MapAt(Field(name), i);
  }
  static std::map<std::string, std::string> MapAt(const std::shared_ptr<arrow::Array>& f,
                                                  int64_t i) {
    std::map<std::string, std::string> m;
    if (!f || f->IsNull(i) || f->type_id() != arrow::Type::MAP) return m;
    const auto& ma = static_cast<const arrow::MapArray&>(*f);
    const auto& keys = static_cast<const arrow::StringArray&>(*ma.keys());
    const auto& items = static_cast<const arrow::StringArray&>(*ma.items());
    for (int64_t k = ma.value_offset(i); k < ma.value_offset(i) + ma.value_length(i); ++k) {
      m.emplace(keys.GetString(k), items.IsNull(k) ? std::string() : items.GetString(k));
    }
    return m;
  }

 private:
  std::shared_ptr<arrow::StructArray> s_;
};

Status ReadRows(const arrow::RecordBatch& batch, TableState* s) {
  auto column = [&](const char* name) -> std::optional<StructView> {
    auto c = batch.GetColumnByName(name);
    if (!c || c->type_id() != arrow::Type::STRUCT) return std::nullopt;
    return StructView(c);
  };
  const auto txn = column("txn");
  const auto add = column("add");
  const auto remove = column("remove");
  const auto metadata = column("metaData");
  const auto protocol = column("protocol");
  for (int64_t i = 0; i < batch.num_rows(); ++i) {
    if (add && add->IsValid(i)) {
      AddFile a;
      a.path = add->Str("path", i).value_or("");
      if (a.path.empty()) return Status::Invalid("checkpoint add without path");
      a.partition_values = add->Map("partitionValues", i);
      a.size = add->Int("size", i).value_or(0);
      a.modification_time = add->Int("modificationTime", i).value_or(0);
      a.data_change = add->Bool("dataChange", i).value_or(true);
      a.stats = add->Str("stats", i).value_or("");
      ApplyAdd(std::move(a), s);
    } else if (remove && remove->IsValid(i)) {
      RemoveFile r;
      r.path = remove->Str("path", i).value_or("");
      r.deletion_timestamp = remove->Int("deletionTimestamp", i).value_or(0);
      r.data_change = remove->Bool("dataChange", i).value_or(true);
      ApplyRemove(std::move(r), s);
    } else if (txn && txn->IsValid(i)) {
      Txn t;
      t.app_id = txn->Str("appId", i).value_or("");
      t.version = txn->Int("version", i).value_or(-1);
      t.last_updated = txn->Int("lastUpdated", i);
      std::string app = t.app_id;
      s->txns.insert_or_assign(std::move(app), std::move(t));
    } else if (metadata && metadata->IsValid(i)) {
      Metadata m;
      m.id = metadata->Str("id", i).value_or("");
      m.name = metadata->Str("name", i);
      m.description = metadata->Str("description", i);
      auto fmt = metadata->Field("format");
      if (fmt && fmt->type_id() == arrow::Type::STRUCT && fmt->IsValid(i)) {
        StructView f(fmt);
        m.format_provider = f.Str("provider", i).value_or("parquet");
        m.format_options = f.Map("options", i);
      }
      m.schema_string = metadata->Str("schemaString", i).value_or("");
      auto pc = metadata->Field("partitionColumns");
      if (pc && pc->type_id() == arrow::Type::LIST && pc->IsValid(i)) {
        const auto& la = static_cast<const arrow::ListArray&>(*pc);
        const auto& vals = static_cast<const arrow::StringArray&>(*la.values());
        for (int64_t k = la.value_offset(i); k < la.value_offset(i) + la.value_length(i); ++k) {
          m.partition_columns.push_back(vals.GetString(k));
        }
      }
      m.configuration = metadata->Map("configuration", i);
      m.created_time = metadata->Int("createdTime", i);
      s->metadata = std::move(m);
      s->has_metadata = true;
    } else if (protocol && protocol->IsValid(i)) {
      s->protocol.min_reader_version =
          static_cast<int32_t>(protocol->Int("minReaderVersion", i).value_or(1));
      s->protocol.min_writer_version =
          static_cast<int32_t>(protocol->Int("minWriterVersion", i).value_or(2));
      s->has_protocol = true;
    }
  }
  return Status::OK();
}

}  // namespace

Result<int64_t> WriteCheckpoint(const TableState& state, const std::string& path) {
  std::shared_ptr<arrow::Schema> schema = CheckpointSchema();
  Builders b;
  OTLAKE_RETURN_NOT_OK(b.Init(*schema));
  OTLAKE_RETURN_NOT_OK(BuildRows(state, &b));
  arrow::ArrayVector arrays;
  for (auto& col : b.cols) {
    std::shared_ptr<arrow::Array> a;
    OTLAKE_RETURN_NOT_OK(col->Finish(&a));
    arrays.push_back(std::move(a));
  }
  const int64_t rows = arrays.front()->length();
  auto table = arrow::Table::Make(schema, arrays, rows);

  parquet::WriterProperties::Builder props;
  props.compression(parquet::Compression::ZSTD)->created_by("otlake " OTLAKE_VERSION);
  Status st = [&]() -> Status {
    OTLAKE_ASSIGN_OR_RAISE(auto sink, arrow::io::FileOutputStream::Open(path));
    OTLAKE_RETURN_NOT_OK(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), sink,
                                                    /*chunk_size=*/1 << 20, props.build()));
    OTLAKE_RETURN_NOT_OK(sink->Close());
    return FsyncFile(path);
  }();
  if (!st.ok()) {
    (void)RemoveIfExists(path);
    return st;
  }
  return rows;
}

namespace {

Result<TableState> ReadCheckpointFrom(std::shared_ptr<arrow::io::RandomAccessFile> file,
                                      const std::string& path, int64_t version) {
  OTLAKE_ASSIGN_OR_RAISE(auto reader,
                         parquet::arrow::OpenFile(file, arrow::default_memory_pool()));
  OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Table> table, reader->ReadTable());
  OTLAKE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::RecordBatch> batch,
                         table->CombineChunksToBatch());
  TableState s;
  OTLAKE_RETURN_NOT_OK(ReadRows(*batch, &s));
  if (!s.has_protocol || !s.has_metadata) {
    return Status::Invalid("checkpoint '", path, "' lacks protocol or metaData");
  }
  s.version = version;
  return s;
}

}  // namespace

Result<TableState> ReadCheckpoint(const std::string& path, int64_t version) {
  OTLAKE_ASSIGN_OR_RAISE(auto file, arrow::io::ReadableFile::Open(path));
  return ReadCheckpointFrom(std::move(file), path, version);
}

Result<TableState> ReadCheckpointBytes(std::string bytes, const std::string& name,
                                       int64_t version) {
  auto file = std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(std::move(bytes)));
  return ReadCheckpointFrom(std::move(file), name, version);
}

}  // namespace otlake::lake
