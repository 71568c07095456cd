#include "otlake/ship/days_index.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <fstream>
#include <mutex>

#include "otlake/common/file_util.h"
#include "otlake/common/time_util.h"

namespace otlake::ship {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, const char* k, const std::string& v) {
  w.Key(k);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
void IntOrNull(Writer& w, const char* k, int64_t v) {
  w.Key(k);
  if (v < 0) w.Null(); else w.Int64(v);
}
void IntIfSet(Writer& w, const char* k, int64_t v) {
  if (v >= 0) {
    w.Key(k);
    w.Int64(v);
  }
}

void EncodeTable(Writer& w, const TableEntry& t, Phase phase) {
  w.StartObject();
  Str(w, "name", t.name);
  IntOrNull(w, "rows", t.rows);
  if (phase == Phase::kSealed) IntOrNull(w, "ver", t.version);  // Depths' key
  else IntIfSet(w, "version", t.version);
  IntIfSet(w, "files", t.files);
  IntIfSet(w, "bytes", t.bytes);
  IntIfSet(w, "files_before", t.files_before);
  IntIfSet(w, "bytes_before", t.bytes_before);
  IntIfSet(w, "files_rewritten", t.files_rewritten);
  IntIfSet(w, "wal_lsn", t.wal_lsn);
  IntIfSet(w, "files_uploaded", t.files_uploaded);
  IntIfSet(w, "files_skipped", t.files_skipped);
  IntIfSet(w, "bytes_uploaded", t.bytes_uploaded);
  IntIfSet(w, "local_rows", t.local_rows);
  IntIfSet(w, "duration_ms", t.duration_ms);
  if (t.ok) {
    w.Key("ok");
    w.Bool(*t.ok);
  }
  if (!t.error.empty()) Str(w, "error", t.error);
  w.EndObject();
}

int64_t GetInt(const rapidjson::Value& o, const char* k) {
  if (!o.IsObject()) return -1;
  auto it = o.FindMember(k);
  return it != o.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : -1;
}
std::string GetStr(const rapidjson::Value& o, const char* k) {
  if (!o.IsObject()) return "";
  auto it = o.FindMember(k);
  return it != o.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength())
                                                     : "";
}
const rapidjson::Value* GetObj(const rapidjson::Value& o, const char* k) {
  if (!o.IsObject()) return nullptr;
  auto it = o.FindMember(k);
  return it != o.MemberEnd() && it->value.IsObject() ? &it->value : nullptr;
}

TableEntry DecodeTable(const rapidjson::Value& v) {
  TableEntry t;
  t.name = GetStr(v, "name");
  t.rows = GetInt(v, "rows");
  t.version = GetInt(v, "ver");
  if (t.version < 0) t.version = GetInt(v, "version");
  t.files = GetInt(v, "files");
  t.bytes = GetInt(v, "bytes");
  t.files_before = GetInt(v, "files_before");
  t.bytes_before = GetInt(v, "bytes_before");
  t.files_rewritten = GetInt(v, "files_rewritten");
  t.wal_lsn = GetInt(v, "wal_lsn");
  t.files_uploaded = GetInt(v, "files_uploaded");
  t.files_skipped = GetInt(v, "files_skipped");
  t.bytes_uploaded = GetInt(v, "bytes_uploaded");
  t.local_rows = GetInt(v, "local_rows");
  t.duration_ms = GetInt(v, "duration_ms");
  if (auto it = v.FindMember("ok"); it != v.MemberEnd() && it->value.IsBool()) t.ok = it->value.GetBool();
  t.error = GetStr(v, "error");
  return t;
}

void DecodeTables(const rapidjson::Value* parent, const char* key, std::vector<TableEntry>* out) {
  if (parent == nullptr) return;
  auto it = parent->FindMember(key);
  if (it == parent->MemberEnd() || !it->value.IsArray()) return;
  for (const auto& t : it->value.GetArray()) {
    if (t.IsObject()) out->push_back(DecodeTable(t));
  }
}

}  // namespace

std::string WhenUtcNow() {
  std::string s = UtcIso8601(NowUnixMillis());  // YYYY-MM-DDTHH:MM:SS.mmmZ
  return s.substr(0, 19) + "Z";
}

const char* PhaseName(Phase p) {
  switch (p) {
    case Phase::kNone: return "none";
    case Phase::kSealed: return "sealed";
    case Phase::kUploaded: return "uploaded";
    case Phase::kVerified: return "verified";
    case Phase::kCleaned: return "cleaned";
  }
  return "?";
}

bool ParsePhase(const std::string& name, Phase* p) {
  for (Phase x : {Phase::kNone, Phase::kSealed, Phase::kUploaded, Phase::kVerified, Phase::kCleaned}) {
    if (name == PhaseName(x)) {
      *p = x;
      return true;
    }
  }
  return false;
}

std::string EncodeRecord(const PhaseRecord& r) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  Str(w, "instance_id", r.instance_id);
  Str(w, "day", r.day);
  Str(w, "phase", PhaseName(r.phase));
  w.Key("ok");
  w.Bool(r.ok);
  if (!r.reason.empty()) Str(w, "reason", r.reason);
  if (!r.error.empty()) Str(w, "error", r.error);
  switch (r.phase) {
    case Phase::kSealed:
      w.Key("local");
      w.StartObject();
      IntOrNull(w, "rows", r.rows);
      IntOrNull(w, "version", r.version);
      IntIfSet(w, "files", r.files);
      IntIfSet(w, "bytes", r.bytes);
      w.Key("tables");
      w.StartArray();
      for (const auto& t : r.tables) EncodeTable(w, t, r.phase);
      w.EndArray();
      w.EndObject();
      break;
    case Phase::kUploaded:
      w.Key("upload");
      w.StartObject();
      w.Key("uploaded");
      w.Int64(std::max<int64_t>(r.uploaded, 0));
      w.Key("skipped");
      w.Int64(std::max<int64_t>(r.skipped, 0));
      IntIfSet(w, "bytes", r.bytes);
      w.Key("errors");
      w.StartArray();
      for (size_t i = 0; i < r.errors.size() && i < 3; ++i) {
        w.String(r.errors[i].data(), static_cast<rapidjson::SizeType>(r.errors[i].size()));
      }
      w.EndArray();
      w.Key("tables");
      w.StartArray();
      for (const auto& t : r.tables) w.String(t.name.data(), static_cast<rapidjson::SizeType>(t.name.size()));
      w.EndArray();
      w.Key("table_details");
      w.StartArray();
      for (const auto& t : r.tables) EncodeTable(w, t, r.phase);
      w.EndArray();
      w.EndObject();
      break;
    case Phase::kVerified:
      w.Key("remote");
      w.StartObject();
      IntOrNull(w, "rows", r.rows);
      IntOrNull(w, "version", r.version);
      w.Key("tables");
      w.StartArray();
      for (const auto& t : r.tables) EncodeTable(w, t, r.phase);
      w.EndArray();
      w.EndObject();
      w.Key("retries");
      w.Int(std::max(0, r.attempt - 1));
      break;
    case Phase::kCleaned:
    case Phase::kNone:
      IntIfSet(w, "files", r.files);
      IntIfSet(w, "bytes", r.bytes);
      break;
  }
  if (!r.target.empty()) Str(w, "target", r.target);
  IntIfSet(w, "duration_ms", r.duration_ms);
  if (r.attempt > 0) {
    w.Key("attempt");
    w.Int(r.attempt);
  }
  Str(w, "when_utc", r.when_utc);
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

Result<PhaseRecord> DecodeRecord(const std::string& line) {
  rapidjson::Document d;
  if (d.Parse(line.data(), line.size()).HasParseError() || !d.IsObject()) {
    return Status::Invalid("days index line is not a JSON object");
  }
  PhaseRecord r;
  r.instance_id = GetStr(d, "instance_id");
  r.day = GetStr(d, "day");
  if (!ParsePhase(GetStr(d, "phase"), &r.phase) || r.phase == Phase::kNone || r.day.empty()) {
    return Status::Invalid("days index line has no day or a bad phase");
  }
  if (auto it = d.FindMember("ok"); it != d.MemberEnd() && it->value.IsBool()) r.ok = it->value.GetBool();
  r.reason = GetStr(d, "reason");
  r.error = GetStr(d, "error");
  if (!r.ok && r.error.empty()) r.error = r.reason;
  r.when_utc = GetStr(d, "when_utc");
  r.target = GetStr(d, "target");
  r.duration_ms = GetInt(d, "duration_ms");
  r.attempt = static_cast<int>(std::max<int64_t>(0, GetInt(d, "attempt")));
  if (const auto* local = GetObj(d, "local")) {
    r.rows = GetInt(*local, "rows");
    r.version = GetInt(*local, "version");
    r.files = GetInt(*local, "files");
    r.bytes = GetInt(*local, "bytes");
    DecodeTables(local, "tables", &r.tables);
  }
  if (const auto* up = GetObj(d, "upload")) {
    r.uploaded = GetInt(*up, "uploaded");
    r.skipped = GetInt(*up, "skipped");
    r.bytes = GetInt(*up, "bytes");
    if (auto it = up->FindMember("errors"); it != up->MemberEnd() && it->value.IsArray()) {
      for (const auto& e : it->value.GetArray()) {
        if (e.IsString()) r.errors.emplace_back(e.GetString(), e.GetStringLength());
      }
    }
    DecodeTables(up, "table_details", &r.tables);
    if (r.tables.empty()) {
      if (auto it = up->FindMember("tables"); it != up->MemberEnd() && it->value.IsArray()) {
        for (const auto& n : it->value.GetArray()) {
          if (n.IsString()) {
            TableEntry e;
            e.name = n.GetString();
            r.tables.push_back(std::move(e));
          }
        }
      }
    }
    if (!r.errors.empty() && r.error.empty()) r.error = r.errors[0];
  }
  if (const auto* remote = GetObj(d, "remote")) {
    r.rows = GetInt(*remote, "rows");
    r.version = GetInt(*remote, "version");
    DecodeTables(remote, "tables", &r.tables);
  }
  if (r.phase == Phase::kCleaned) {
    r.files = GetInt(d, "files");
    r.bytes = GetInt(d, "bytes");
  }
  return r;
}

void ApplyRecord(const PhaseRecord& r, DayStatus* s) {
  s->day = r.day;
  s->last_when_utc = r.when_utc;
  s->attempts[r.phase] += 1;
  if (!r.target.empty()) s->target = r.target;
  if (!r.ok) {
    ++s->failures;
    s->failed_phase = r.phase;
    s->last_error = r.error.empty() ? "failed" : r.error;
    // A copy on S3 that verified wrong is uploaded again (not verified again as it is).
    if (r.phase == Phase::kVerified && r.reason == "mismatch" && s->done == Phase::kUploaded) {
      s->done = Phase::kSealed;
      s->distrust_remote = true;
    }
    return;
  }
  if (r.phase == Phase::kUploaded) s->distrust_remote = false;
  s->done = r.phase;
  s->failures = 0;
  s->failed_phase = Phase::kNone;
  s->last_error.clear();
  if (r.phase == Phase::kSealed) s->sealed = r;
  if (r.phase == Phase::kVerified) s->verified = r;
}

std::map<std::string, DayStatus> FoldRecords(const std::vector<PhaseRecord>& records) {
  std::map<std::string, DayStatus> out;
  for (const PhaseRecord& r : records) ApplyRecord(r, &out[r.day]);
  return out;
}

DaysIndex::DaysIndex(std::string index_dir)
    : dir_(std::move(index_dir)), jsonl_(dir_ + "/days.jsonl"), snapshot_(dir_ + "/day.json") {}

Status DaysIndex::Append(PhaseRecord r) {
  static std::mutex mu;  // one appender at a time in this process (day.json is rewritten whole)
  std::lock_guard lk(mu);
  if (r.when_utc.empty()) r.when_utc = WhenUtcNow();
  OTLAKE_RETURN_NOT_OK(MakeDirs(dir_));
  // A crash mid-append can leave a torn last line: start on a fresh line so it stays alone
  // (ReadAll skips it) instead of swallowing this record.
  std::string line = EncodeRecord(r);
  if (PathExists(jsonl_)) {
    OTLAKE_ASSIGN_OR_RAISE(std::string before, ReadFile(jsonl_));
    if (!before.empty() && before.back() != '\n') line = "\n" + line;
  }
  OTLAKE_RETURN_NOT_OK(AppendLine(jsonl_, line));
  // day.json: the array of every record (Depths' snapshot), rewritten from days.jsonl.
  auto text = ReadFile(jsonl_);
  if (!text.ok()) return text.status();
  std::string arr = "[";
  size_t pos = 0;
  bool first = true;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    if (nl == std::string::npos) nl = text->size();
    std::string line = text->substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    rapidjson::Document d;
    if (d.Parse(line.data(), line.size()).HasParseError()) continue;
    arr += first ? "" : ",";
    arr += line;
    first = false;
  }
  arr += "]\n";
  return WriteFileAtomic(snapshot_, arr);
}

Result<std::vector<PhaseRecord>> DaysIndex::ReadAll(int* bad) const {
  std::vector<PhaseRecord> out;
  if (bad) *bad = 0;
  if (!PathExists(jsonl_)) return out;
  OTLAKE_ASSIGN_OR_RAISE(std::string text, ReadFile(jsonl_));
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();  // a torn last line (crash mid-append)
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    auto r = DecodeRecord(line);
    if (!r.ok()) {
      if (bad) ++*bad;
      continue;
    }
    out.push_back(std::move(*r));
  }
  return out;
}

Result<std::map<std::string, DayStatus>> DaysIndex::Load() const {
  OTLAKE_ASSIGN_OR_RAISE(auto records, ReadAll());
  return FoldRecords(records);
}

}  // namespace otlake::ship
