#include "otlake/lake/delta_log.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cinttypes>
#include <cstdio>

namespace otlake::lake {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
void Key(JsonWriter& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
void StrMap(JsonWriter& w, const std::map<std::string, std::string>& m) {
  w.StartObject();
  for (const auto& [k, v] : m) {
    Key(w, k);
    Str(w, v);
  }
  w.EndObject();
}
std::string Take(rapidjson::StringBuffer& buf) {
  return std::string(buf.GetString(), buf.GetSize());
}

const char* DeltaType(table::ColType t) {
  switch (t) {
    case table::ColType::kString: return "string";
    case table::ColType::kInt64: return "long";
    case table::ColType::kDouble: return "double";
    case table::ColType::kBool: return "boolean";
    case table::ColType::kMap: return "map";
  }
  return "string";
}

// --- reading helpers: absent or mistyped optional fields fall back to defaults ---
using JVal = rapidjson::Value;

std::string GetStr(const JVal& o, const char* k) {
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}
std::optional<std::string> GetOptStr(const JVal& o, const char* k) {
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}
std::optional<int64_t> GetOptInt(const JVal& o, const char* k) {
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || !it->value.IsInt64()) return std::nullopt;
  return it->value.GetInt64();
}
int64_t GetInt(const JVal& o, const char* k, int64_t def) { return GetOptInt(o, k).value_or(def); }
bool GetBool(const JVal& o, const char* k, bool def) {
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || !it->value.IsBool()) return def;
  return it->value.GetBool();
}
std::map<std::string, std::string> GetStrMap(const JVal& o, const char* k) {
  std::map<std::string, std::string> m;
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || !it->value.IsObject()) return m;
  for (const auto& e : it->value.GetObject()) {
    // Partition values may be null in Delta; we keep them as "" (we write no partitions).
    m.emplace(std::string(e.name.GetString(), e.name.GetStringLength()),
              e.value.IsString() ? std::string(e.value.GetString(), e.value.GetStringLength())
                                 : std::string());
  }
  return m;
}

bool ParseVersioned(std::string_view name, std::string_view suffix, int64_t* version) {
  if (name.size() != 20 + suffix.size() || name.substr(20) != suffix) return false;
  int64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return false;
    if (v > (INT64_MAX - 9) / 10) return false;
    v = v * 10 + (c - '0');
  }
  *version = v;
  return true;
}

}  // namespace

std::string SchemaString(table::TableId id) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "type");
  Str(w, "struct");
  Key(w, "fields");
  w.StartArray();
  for (const table::ColumnDef& c : table::Columns(id)) {
    w.StartObject();
    Key(w, "name");
    Str(w, c.name);
    Key(w, "type");
    if (c.type == table::ColType::kMap) {
      w.StartObject();
      Key(w, "type");
      Str(w, "map");
      Key(w, "keyType");
      Str(w, "string");
      Key(w, "valueType");
      Str(w, "string");
      Key(w, "valueContainsNull");
      w.Bool(true);
      w.EndObject();
    } else {
      Str(w, DeltaType(c.type));
    }
    Key(w, "nullable");
    w.Bool(c.nullable);
    Key(w, "metadata");
    w.StartObject();
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Take(buf);
}

bool IsSchemaVersion1(std::string_view schema_string) {
  return schema_string.find("_attrs_json\"") != std::string_view::npos &&
         schema_string.find("\"name\":\"schema_version\"") != std::string_view::npos;
}

std::string CommitFileName(int64_t version) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020" PRId64 ".json", version);
  return buf;
}

std::string CheckpointFileName(int64_t version) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%020" PRId64 ".checkpoint.parquet", version);
  return buf;
}

bool ParseCommitFileName(std::string_view name, int64_t* version) {
  return ParseVersioned(name, ".json", version);
}
bool ParseCheckpointFileName(std::string_view name, int64_t* version) {
  return ParseVersioned(name, ".checkpoint.parquet", version);
}

std::string EncodeProtocol(const Protocol& p) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "protocol");
  w.StartObject();
  Key(w, "minReaderVersion");
  w.Int(p.min_reader_version);
  Key(w, "minWriterVersion");
  w.Int(p.min_writer_version);
  w.EndObject();
  w.EndObject();
  return Take(buf);
}

std::string EncodeMetadata(const Metadata& m) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "metaData");
  w.StartObject();
  Key(w, "id");
  Str(w, m.id);
  if (m.name) {
    Key(w, "name");
    Str(w, *m.name);
  }
  if (m.description) {
    Key(w, "description");
    Str(w, *m.description);
  }
  Key(w, "format");
  w.StartObject();
  Key(w, "provider");
  Str(w, m.format_provider);
  Key(w, "options");
  StrMap(w, m.format_options);
  w.EndObject();
  Key(w, "schemaString");
  Str(w, m.schema_string);
  Key(w, "partitionColumns");
  w.StartArray();
  for (const std::string& c : m.partition_columns) Str(w, c);
  w.EndArray();
  Key(w, "configuration");
  StrMap(w, m.configuration);
  if (m.created_time) {
    Key(w, "createdTime");
    w.Int64(*m.created_time);
  }
  w.EndObject();
  w.EndObject();
  return Take(buf);
}

std::string EncodeAdd(const AddFile& a) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "add");
  w.StartObject();
  Key(w, "path");
  Str(w, a.path);
  Key(w, "partitionValues");
  StrMap(w, a.partition_values);
  Key(w, "size");
  w.Int64(a.size);
  Key(w, "modificationTime");
  w.Int64(a.modification_time);
  Key(w, "dataChange");
  w.Bool(a.data_change);
  if (!a.stats.empty()) {
    Key(w, "stats");
    Str(w, a.stats);
  }
  w.EndObject();
  w.EndObject();
  return Take(buf);
}

std::string EncodeRemove(const RemoveFile& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "remove");
  w.StartObject();
  Key(w, "path");
  Str(w, r.path);
  Key(w, "deletionTimestamp");
  w.Int64(r.deletion_timestamp);
  Key(w, "dataChange");
  w.Bool(r.data_change);
  w.EndObject();
  w.EndObject();
  return Take(buf);
}

std::string EncodeTxn(const Txn& t) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "txn");
  w.StartObject();
  Key(w, "appId");
  Str(w, t.app_id);
  Key(w, "version");
  w.Int64(t.version);
  if (t.last_updated) {
    Key(w, "lastUpdated");
    w.Int64(*t.last_updated);
  }
  w.EndObject();
  w.EndObject();
  return Take(buf);
}

std::string EncodeCommitInfo(int64_t timestamp_ms, std::string_view operation,
                             const std::map<std::string, std::string>& parameters,
                             bool is_blind_append) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "commitInfo");
  w.StartObject();
  Key(w, "timestamp");
  w.Int64(timestamp_ms);
  Key(w, "operation");
  Str(w, operation);
  Key(w, "operationParameters");
  StrMap(w, parameters);
  Key(w, "isBlindAppend");
  w.Bool(is_blind_append);
  Key(w, "engineInfo");
  Str(w, "otlake/" OTLAKE_VERSION);
  w.EndObject();
  w.EndObject();
  return Take(buf);
}

void ApplyAdd(AddFile a, TableState* state) {
  state->removes.erase(a.path);
  std::string path = a.path;
  state->adds.insert_or_assign(std::move(path), std::move(a));
}

void ApplyRemove(RemoveFile r, TableState* state) {
  state->adds.erase(r.path);
  std::string path = r.path;
  state->removes.insert_or_assign(std::move(path), std::move(r));
}

Status ApplyCommit(std::string_view commit_json, int64_t version, TableState* state) {
  size_t pos = 0;
  int line_no = 0;
  while (pos < commit_json.size()) {
    size_t end = commit_json.find('\n', pos);
    if (end == std::string_view::npos) end = commit_json.size();
    const std::string_view line = commit_json.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;

    rapidjson::Document doc;
    doc.Parse(line.data(), line.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      return Status::Invalid("delta commit ", version, " line ", line_no, " is not a JSON object");
    }
    for (const auto& member : doc.GetObject()) {
      const std::string_view kind(member.name.GetString(), member.name.GetStringLength());
      const JVal& v = member.value;
      if (!v.IsObject()) continue;
      if (kind == "add") {
        AddFile a;
        a.path = GetStr(v, "path");
        a.partition_values = GetStrMap(v, "partitionValues");
        a.size = GetInt(v, "size", 0);
        a.modification_time = GetInt(v, "modificationTime", 0);
        a.data_change = GetBool(v, "dataChange", true);
        a.stats = GetStr(v, "stats");
        if (a.path.empty()) {
          return Status::Invalid("delta commit ", version, " line ", line_no, ": add without path");
        }
        ApplyAdd(std::move(a), state);
      } else if (kind == "remove") {
        RemoveFile r;
        r.path = GetStr(v, "path");
        r.deletion_timestamp = GetInt(v, "deletionTimestamp", 0);
        r.data_change = GetBool(v, "dataChange", true);
        ApplyRemove(std::move(r), state);
      } else if (kind == "txn") {
        Txn t;
        t.app_id = GetStr(v, "appId");
        t.version = GetInt(v, "version", -1);
        t.last_updated = GetOptInt(v, "lastUpdated");
        std::string app = t.app_id;
        state->txns.insert_or_assign(std::move(app), std::move(t));
      } else if (kind == "metaData") {
        Metadata m;
        m.id = GetStr(v, "id");
        m.name = GetOptStr(v, "name");
        m.description = GetOptStr(v, "description");
        auto fmt = v.FindMember("format");
        if (fmt != v.MemberEnd() && fmt->value.IsObject()) {
          m.format_provider = GetStr(fmt->value, "provider");
          m.format_options = GetStrMap(fmt->value, "options");
        }
        m.schema_string = GetStr(v, "schemaString");
        auto pc = v.FindMember("partitionColumns");
        if (pc != v.MemberEnd() && pc->value.IsArray()) {
          for (const auto& c : pc->value.GetArray()) {
            if (c.IsString()) m.partition_columns.emplace_back(c.GetString(), c.GetStringLength());
          }
        }
        m.configuration = GetStrMap(v, "configuration");
        m.created_time = GetOptInt(v, "createdTime");
        state->metadata = std::move(m);
        state->has_metadata = true;
      } else if (kind == "protocol") {
        state->protocol.min_reader_version = static_cast<int32_t>(GetInt(v, "minReaderVersion", 1));
        state->protocol.min_writer_version = static_cast<int32_t>(GetInt(v, "minWriterVersion", 2));
        state->has_protocol = true;
      }
      // commitInfo, cdc, domainMetadata, ...: nothing to keep.
    }
  }
  state->version = version;
  return Status::OK();
}

std::string EncodeLastCheckpoint(int64_t version, int64_t size) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "version");
  w.Int64(version);
  Key(w, "size");
  w.Int64(size);
  w.EndObject();
  return Take(buf);
}

Result<int64_t> ParseLastCheckpoint(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::Invalid("_last_checkpoint is not a JSON object");
  }
  auto v = GetOptInt(doc, "version");
  if (!v || *v < 0) return Status::Invalid("_last_checkpoint has no valid version");
  return *v;
}

}  // namespace otlake::lake
