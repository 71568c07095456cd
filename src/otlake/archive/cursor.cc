#include "otlake/archive/cursor.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cinttypes>
#include <cstdio>

#include "otlake/common/file_util.h"

namespace otlake::archive {
namespace {

using JWriter = rapidjson::Writer<rapidjson::StringBuffer>;

int64_t GetInt(const rapidjson::Value& v, const char* key, bool* ok) {
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsInt64()) {
    *ok = false;
    return 0;
  }
  return it->value.GetInt64();
}

}  // namespace

std::string ArchiveStatePath(const std::string& archive_dir) { return archive_dir + "/state.json"; }

std::string ArchiveStateJson(const ArchiveState& s) {
  rapidjson::StringBuffer buf;
  JWriter w(buf);
  char salt[17];
  std::snprintf(salt, sizeof salt, "%016" PRIx64, s.salt);
  w.StartObject();
  w.Key("version"); w.Int(1);
  w.Key("salt"); w.String(salt);
  w.Key("archived_lsn"); w.Int64(s.archived_lsn);
  w.Key("pending");
  if (s.pending) {
    w.StartObject();
    w.Key("first_lsn"); w.Int64(s.pending->first_lsn);
    w.Key("last_lsn"); w.Int64(s.pending->last_lsn);
    w.Key("time_unix_ms"); w.Int64(s.pending->time_unix_ms);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("gaps");
  w.StartArray();
  for (const ArchiveGap& g : s.gaps) {
    w.StartObject();
    w.Key("from_lsn"); w.Int64(g.from_lsn);
    w.Key("to_lsn"); w.Int64(g.to_lsn);
    w.Key("recorded_unix_ms"); w.Int64(g.recorded_unix_ms);
    w.Key("first_arrival_unix_ms"); w.Int64(g.first_arrival_unix_ms);
    w.Key("last_arrival_unix_ms"); w.Int64(g.last_arrival_unix_ms);
    w.Key("reason"); w.String(g.reason.c_str());
    w.EndObject();
  }
  w.EndArray();
  w.Key("gaps_dropped"); w.Int64(s.gaps_dropped);
  w.Key("objects"); w.Int64(s.objects);
  w.Key("requests"); w.Int64(s.requests);
  w.Key("bytes"); w.Int64(s.bytes);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Status SaveArchiveState(const std::string& path, const ArchiveState& state) {
  return WriteFileAtomic(path, ArchiveStateJson(state) + "\n");
}

Result<ArchiveState> LoadArchiveState(const std::string& path) {
  if (!PathExists(path)) return Status::KeyError("no archive state at ", path);
  OTLAKE_ASSIGN_OR_RAISE(std::string text, ReadFile(path));
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  auto bad = [&](const char* what) { return Status::Invalid(path, ": not an archive state (", what, ")"); };
  if (d.HasParseError() || !d.IsObject()) return bad("not a JSON object");
  bool ok = true;
  ArchiveState s;
  auto salt = d.FindMember("salt");
  if (salt == d.MemberEnd() || !salt->value.IsString() || salt->value.GetStringLength() != 16) return bad("salt");
  s.salt = std::strtoull(salt->value.GetString(), nullptr, 16);
  s.archived_lsn = GetInt(d, "archived_lsn", &ok);
  auto p = d.FindMember("pending");
  if (p != d.MemberEnd() && p->value.IsObject()) {
    PendingBatch b;
    b.first_lsn = GetInt(p->value, "first_lsn", &ok);
    b.last_lsn = GetInt(p->value, "last_lsn", &ok);
    b.time_unix_ms = GetInt(p->value, "time_unix_ms", &ok);
    s.pending = b;
  }
  auto gaps = d.FindMember("gaps");
  if (gaps != d.MemberEnd() && gaps->value.IsArray()) {
    for (const auto& g : gaps->value.GetArray()) {
      if (!g.IsObject()) return bad("gaps");
      ArchiveGap x;
      x.from_lsn = GetInt(g, "from_lsn", &ok);
      x.to_lsn = GetInt(g, "to_lsn", &ok);
      x.recorded_unix_ms = GetInt(g, "recorded_unix_ms", &ok);
      x.first_arrival_unix_ms = GetInt(g, "first_arrival_unix_ms", &ok);
      x.last_arrival_unix_ms = GetInt(g, "last_arrival_unix_ms", &ok);
      auto r = g.FindMember("reason");
      if (r != g.MemberEnd() && r->value.IsString()) x.reason = r->value.GetString();
      s.gaps.push_back(std::move(x));
    }
  }
  bool opt = true;  // totals: optional
  s.gaps_dropped = GetInt(d, "gaps_dropped", &opt);
  s.objects = GetInt(d, "objects", &opt);
  s.requests = GetInt(d, "requests", &opt);
  s.bytes = GetInt(d, "bytes", &opt);
  if (!ok || s.archived_lsn < 0) return bad("missing or bad LSN fields");
  if (s.pending && (s.pending->first_lsn != s.archived_lsn + 1 || s.pending->last_lsn < s.pending->first_lsn)) {
    return bad("pending batch does not follow archived_lsn");
  }
  return s;
}

}  // namespace otlake::archive
