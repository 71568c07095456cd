#include <cassert>
#include <charconv>
#include <iterator>
#include <cstring>

#include "otlake/otlp/attr_map.h"
#include "otlake/otlp/encoding.h"
#include "otlake/otlp/rows_internal.h"
#include "otlake/otlp/typed_json.h"

namespace otlake::otlp::internal {

using table::RowBatch;
using table::TableId;

int MatchPromoted(std::string_view key) {
  if (key.size() < 7) return -1;
  switch (key[0]) {
    case 's':
      if (key == "service.name") return kPromoServiceName;
      if (key == "session.id") return kPromoSessionId;
      if (key == "service.namespace") return kPromoServiceNamespace;
      if (key == "service.instance.id") return kPromoServiceInstanceId;
      if (key == "service.version") return kPromoServiceVersion;
      if (key == "session.previous_id") return kPromoSessionPreviousId;
      return -1;
    case 'u':
      if (key == "user.id") return kPromoUserId;
      if (key == "user.name") return kPromoUserName;
      if (key == "user.roles") return kPromoUserRoles;
      return -1;
    case 'd':
      if (key == "deployment.environment.name") return kPromoDeploymentEnvName;
      if (key == "deployment.environment") return kPromoDeploymentEnv;
      return -1;
    default: return -1;
  }
}

std::string_view BodyTypeName(ValueInfo::Kind k) {
  switch (k) {
    case ValueInfo::kEmpty: return "empty";
    case ValueInfo::kString: return "string";
    case ValueInfo::kBool: return "bool";
    case ValueInfo::kInt: return "int";
    case ValueInfo::kDouble: return "double";
    case ValueInfo::kBytes: return "bytes";
    case ValueInfo::kArray: return "array";
    case ValueInfo::kKvlist: return "kvlist";
  }
  return "empty";
}

void Captures::Set(int p, const ValueInfo& info, std::string_view map_text) {
  Slot& s = slot[p];
  s.found = true;
  s.is_string = info.kind == ValueInfo::kString;
  s.str = info.str;
  s.json.clear();
  switch (info.kind) {
    case ValueInfo::kEmpty: s.json = "null"; break;
    case ValueInfo::kString: AppendJsonString(&s.json, info.str); break;
    case ValueInfo::kDouble: AppendTypedDouble(&s.json, info.num); break;
    case ValueInfo::kBytes: AppendTypedBytes(&s.json, info.str); break;
    case ValueInfo::kBool:
    case ValueInfo::kInt:
    case ValueInfo::kArray:
    case ValueInfo::kKvlist: s.json.assign(map_text); break;  // the map text is the typed JSON
  }
}

Identity ResolveIdentity(const Captures& c, const Identity& fallback) {
  Identity id;
  for (int i = 0; i < kNumIdentity; ++i) {
    if (!c.slot[i].found) {
      id.v[i] = fallback.v[i];
    } else {
      id.v[i] = (i == kPromoUserRoles) ? c.Json(i) : c.Text(i);
    }
  }
  return id;
}

void ResourceCtx::Finish(const Captures& c) {
  auto text = [&](int p, std::string* out) {
    if (c.slot[p].found) {
      out->assign(c.Text(p));
    } else {
      out->clear();
    }
  };
  text(kPromoServiceName, &service_name);
  if (service_name.empty()) service_name = "unknown";
  text(kPromoServiceNamespace, &service_namespace);
  text(kPromoServiceInstanceId, &service_instance_id);
  text(kPromoServiceVersion, &service_version);
  text(kPromoDeploymentEnvName, &deployment_env);
  if (!c.slot[kPromoDeploymentEnvName].found) text(kPromoDeploymentEnv, &deployment_env);
  for (int i = 0; i < kNumIdentity; ++i) {
    if (!c.slot[i].found) {
      identity_store[i] = (i == kPromoUserRoles) ? "[]" : "";
    } else {
      identity_store[i].assign(i == kPromoUserRoles ? c.Json(i) : c.Text(i));
    }
    identity.v[i] = identity_store[i];
  }
}

// ---------------------------------------------------------------------------------------------

void RawId::Set(std::string_view b) {
  len = static_cast<int64_t>(b.size());
  bad_encoding = false;
  if (!b.empty() && b.size() <= sizeof(bytes)) std::memcpy(bytes, b.data(), b.size());
}

namespace {
bool AllHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}
}  // namespace

void DecodeJsonId(std::string_view text, int want_bytes, RawId* id) {
  id->len = 0;
  id->bad_encoding = false;
  if (text.empty()) return;
  size_t n = 0;
  const size_t want = static_cast<size_t>(want_bytes);
  if (text.size() == want * 2 && DecodeHex(text, id->bytes, sizeof(id->bytes), &n)) {
    id->len = static_cast<int64_t>(n);
    return;
  }
  if (Base64DecodedSize(text) == want_bytes &&
      DecodeBase64(text, id->bytes, sizeof(id->bytes), &n)) {
    id->len = static_cast<int64_t>(n);
    return;
  }
  // Wrong length: report the length it decodes to, if it decodes at all.
  if (AllHex(text)) {
    if (text.size() % 2 == 0) {
      id->len = static_cast<int64_t>(text.size() / 2);
    } else {
      id->bad_encoding = true;
    }
    return;
  }
  std::string tmp;
  if (text.size() != want * 2 && DecodeBase64(text, &tmp)) {
    id->len = static_cast<int64_t>(tmp.size());  // != want_bytes, else decoded above
    return;
  }
  id->bad_encoding = true;
}

bool CheckId(const RawId& id, int want, bool allow_empty, const char* what, std::string* reason) {
  if (id.bad_encoding) {
    *reason = std::string(what) + " is not hex or base64";
    return false;
  }
  if (id.len == want || (id.len == 0 && allow_empty)) return true;
  *reason = std::string(what) + " must be " + std::to_string(want) + " bytes, got " +
            std::to_string(id.len);
  return false;
}

bool CheckTime(uint64_t t, const char* what, std::string* reason) {
  if (t <= static_cast<uint64_t>(INT64_MAX)) return true;
  *reason = std::string(what) + " exceeds int64";
  return false;
}

bool AppendExemplar(std::string* out, const ExemplarData& e, std::string_view filtered_attrs_json,
                    std::string* reason) {
  if (!CheckTime(e.time, "exemplar time_unix_nano", reason) ||
      !CheckId(e.trace_id, 16, true, "exemplar trace_id", reason) ||
      !CheckId(e.span_id, 8, true, "exemplar span_id", reason)) {
    return false;
  }
  out->append("{\"time_unix_nano\":");
  AppendJsonUint(out, e.time);
  if (e.has_int) {
    out->append(",\"value\":");
    AppendJsonInt(out, e.as_int);
  } else if (e.has_double) {
    out->append(",\"value\":");
    AppendTypedDouble(out, e.as_double);
  }
  if (e.trace_id.len > 0) {
    out->append(",\"trace_id\":\"");
    AppendHex(out, e.trace_id.view());
    out->push_back('"');
  }
  if (e.span_id.len > 0) {
    out->append(",\"span_id\":\"");
    AppendHex(out, e.span_id.view());
    out->push_back('"');
  }
  out->append(",\"filtered_attrs\":");
  out->append(filtered_attrs_json);
  out->push_back('}');
  return true;
}

void AddExemplar(std::string* out, int64_t index, const ExemplarData& e,
                 std::string_view filtered_attrs_json, bool* ok, std::string* reason) {
  if (index > 0) out->push_back(',');
  std::string why;
  if (!AppendExemplar(out, e, filtered_attrs_json, &why) && *ok) {
    *ok = false;
    *reason = why;
  }
}

bool CheckSpan(const SpanData& s, std::string* reason) {
  return CheckId(s.trace_id, 16, false, "trace_id", reason) &&
         CheckId(s.span_id, 8, false, "span_id", reason) &&
         CheckId(s.parent_span_id, 8, true, "parent_span_id", reason) &&
         CheckTime(s.start, "start_time_unix_nano", reason) &&
         CheckTime(s.end, "end_time_unix_nano", reason);
}

bool CheckEvent(const EventData& e, std::string* reason) {
  return CheckTime(e.time, "event time_unix_nano", reason);
}

bool CheckLink(const LinkData& l, std::string* reason) {
  return CheckId(l.trace_id, 16, false, "link trace_id", reason) &&
         CheckId(l.span_id, 8, false, "link span_id", reason);
}

bool CheckLog(const LogData& l, std::string* reason) {
  return CheckTime(l.time, "time_unix_nano", reason) &&
         CheckTime(l.observed, "observed_time_unix_nano", reason) &&
         CheckId(l.trace_id, 16, true, "trace_id", reason) &&
         CheckId(l.span_id, 8, true, "span_id", reason);
}

bool CheckPoint(const NumberPointData& p, std::string* reason) {
  return CheckTime(p.time, "time_unix_nano", reason) &&
         CheckTime(p.start, "start_time_unix_nano", reason);
}

bool CheckPoint(const HistPointData& p, std::string* reason) {
  // zero_count stays 0 (which passes) for the kinds other than the exponential histogram.
  return CheckTime(p.time, "time_unix_nano", reason) &&
         CheckTime(p.start, "start_time_unix_nano", reason) &&
         CheckTime(p.count, "count", reason) && CheckTime(p.zero_count, "zero_count", reason);
}

void AppendQuantile(std::string* out, int64_t index, double q, double v) {
  if (index > 0) out->push_back(',');
  out->append("{\"q\":");
  AppendTypedDouble(out, q);
  out->append(",\"v\":");
  AppendTypedDouble(out, v);
  out->push_back('}');
}

void AppendBucketsPrefix(std::string* out, int32_t offset) {
  out->append("{\"offset\":");
  AppendJsonInt(out, offset);
  out->append(",\"counts\":[");
}

// ---------------------------------------------------------------------------------------------
// Enum names.

namespace {

std::string_view Decimal(int32_t v, char (&buf)[16]) {
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return {buf, static_cast<size_t>(r.ptr - buf)};
}

constexpr std::string_view kKinds[] = {"UNSPECIFIED", "INTERNAL", "SERVER",
                                       "CLIENT",      "PRODUCER", "CONSUMER"};
constexpr std::string_view kStatus[] = {"UNSET", "OK", "ERROR"};
constexpr std::string_view kTemporality[] = {"UNSPECIFIED", "DELTA", "CUMULATIVE"};

template <size_t N>
bool ParsePrefixed(std::string_view name, std::string_view prefix,
                   const std::string_view (&names)[N], int32_t* v) {
  if (name.substr(0, prefix.size()) != prefix) return false;
  name.remove_prefix(prefix.size());
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) {
      *v = static_cast<int32_t>(i);
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view SpanKindText(int32_t v, char (&buf)[16]) {
  return (v >= 0 && v < 6) ? kKinds[v] : Decimal(v, buf);
}
std::string_view StatusCodeText(int32_t v, char (&buf)[16]) {
  return (v >= 0 && v < 3) ? kStatus[v] : Decimal(v, buf);
}
std::string_view TemporalityText(int32_t v, char (&buf)[16]) {
  return (v >= 0 && v < 3) ? kTemporality[v] : Decimal(v, buf);
}

bool ParseSpanKindName(std::string_view name, int32_t* v) {
  return ParsePrefixed(name, "SPAN_KIND_", kKinds, v);
}
bool ParseStatusCodeName(std::string_view name, int32_t* v) {
  return ParsePrefixed(name, "STATUS_CODE_", kStatus, v);
}
bool ParseTemporalityName(std::string_view name, int32_t* v) {
  return ParsePrefixed(name, "AGGREGATION_TEMPORALITY_", kTemporality, v);
}
bool ParseSeverityNumberName(std::string_view name, int32_t* v) {
  constexpr std::string_view kPrefix = "SEVERITY_NUMBER_";
  if (name.substr(0, kPrefix.size()) != kPrefix) return false;
  name.remove_prefix(kPrefix.size());
  if (name == "UNSPECIFIED") {
    *v = 0;
    return true;
  }
  constexpr std::string_view kLevels[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
  for (int i = 0; i < 6; ++i) {
    if (name.substr(0, kLevels[i].size()) != kLevels[i]) continue;
    std::string_view rest = name.substr(kLevels[i].size());
    int step = 0;
    if (rest.empty()) {
      step = 1;
    } else if (rest.size() == 1 && rest[0] >= '2' && rest[0] <= '4') {
      step = rest[0] - '0';
    } else {
      continue;
    }
    *v = i * 4 + step;
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// RowEmitter.

void RowEmitter::Reject(const std::string& reason) {
  ++result_->rejected;
  ++result_->reasons[reason];
}

namespace {
// The UTC day of Unix time `ms` (days since 1970-01-01, rounded down).
int64_t FloorDays(int64_t ms) { return ms / 86400000 - (ms % 86400000 < 0 ? 1 : 0); }
}  // namespace

std::string_view RowEmitter::DateOf(int64_t ms) {
  const int64_t days = FloorDays(ms);
  if (days != cached_day_) {
    // Howard Hinnant's civil_from_days.
    const int64_t z = days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) ++y;
    char* p = cached_date_;
    if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;  // unreachable for int64 nanoseconds
    p[0] = static_cast<char>('0' + y / 1000);
    p[1] = static_cast<char>('0' + y / 100 % 10);
    p[2] = static_cast<char>('0' + y / 10 % 10);
    p[3] = static_cast<char>('0' + y % 10);
    p[4] = '-';
    p[5] = static_cast<char>('0' + m / 10);
    p[6] = static_cast<char>('0' + m % 10);
    p[7] = '-';
    p[8] = static_cast<char>('0' + d / 10);
    p[9] = static_cast<char>('0' + d % 10);
    cached_date_len_ = 10;
    cached_day_ = days;
  }
  return {cached_date_, cached_date_len_};
}

namespace {
int64_t FloorMs(int64_t ns) {
  int64_t q = ns / 1000000;
  if (ns % 1000000 < 0) --q;
  return q;
}
}  // namespace

int64_t RowEmitter::PointEventTs(uint64_t time, uint64_t start) const {
  if (time > 0) return static_cast<int64_t>(time / 1000000);
  if (start > 0) return static_cast<int64_t>(start / 1000000);
  return FloorMs(options_.now_unix_nano);
}

void RowEmitter::AppendHex(RowBatch& b, int col, const RawId& id) {
  b.AppendStringInPlace(col, [&id](std::string* chars) { otlp::AppendHex(chars, id.view()); });
}

void RowEmitter::Dedup(const table::AttrMap& m, table::AttrMap* out) {
  *out = m;
  if (out->HasDuplicateKeys()) result_->duplicate_attr_keys += out->DropDuplicateKeys();
}

void RowEmitter::AppendAttrs(RowBatch& b, int col, const table::AttrMap& m) {
  const table::AttrMap* stored = &m;
  if (!b.AppendMapUnique(col, m)) {
    map_ = m;
    result_->duplicate_attr_keys += map_.DropDuplicateKeys();
    stored = &map_;
    b.AppendMap(col, map_);
  }
  b.AppendString(col + 1, stored->types);
}

void RowEmitter::Shared(RowBatch& b, const ResourceCtx& r, const ScopeCtx& s, const Identity& id,
                        int64_t event_ts_ms) {
  namespace t = table;
  SharedMemo& m = memo_[static_cast<int>(b.table())];
  // The row before in this batch was written by the last Shared() here, under the same resource
  // and scope: its dictionary values are this row's too (no compare of the resource JSON).
  const bool same = m.serial == serial_ && b.num_rows() > 0 && b.num_rows() == m.rows + 1;
  const int64_t day = FloorDays(event_ts_ms);
  // The request-level dictionary columns, and their values when they change.
  static constexpr int kCols[] = {t::kProjectId,       t::kServiceName,     t::kServiceNamespace,
                                  t::kServiceInstanceId, t::kServiceVersion, t::kDeploymentEnv,
                                  t::kResourceSchemaUrl, t::kScopeName,       t::kScopeVersion,
                                  t::kScopeSchemaUrl};
  static constexpr int kMapCols[] = {t::kResourceAttrs, t::kResourceAttrsTypes, t::kScopeAttrs,
                                     t::kScopeAttrsTypes};
  if (same) {
    for (int col : kCols) b.RepeatDict(col);
    for (int col : kMapCols) b.RepeatDict(col);
  } else {
    const std::string_view values[] = {options_.project_id, r.service_name, r.service_namespace,
                                       r.service_instance_id, r.service_version, r.deployment_env,
                                       r.schema_url, s.name, s.version, s.schema_url};
    static_assert(std::size(kCols) == std::size(values));
    for (size_t i = 0; i < std::size(kCols); ++i) b.AppendString(kCols[i], values[i]);
    // The resource and scope maps, converted once per context (the decoders announce every
    // change of r or s with ContextChanged).
    if (maps_serial_ != serial_) {
      Dedup(r.attrs, &res_map_);
      Dedup(s.attrs, &scope_map_);
      maps_serial_ = serial_;
    }
    b.AppendMap(t::kResourceAttrs, res_map_);
    b.AppendString(t::kResourceAttrsTypes, res_map_.types);
    b.AppendMap(t::kScopeAttrs, scope_map_);
    b.AppendString(t::kScopeAttrsTypes, scope_map_.types);
  }
  b.AppendInt(t::kSchemaVersion, table::kCurrentSchemaVersion);
  b.AppendInt(t::kResourceDroppedAttributesCount, r.dropped);
  b.AppendInt(t::kScopeDroppedAttributesCount, s.dropped);
  b.AppendInt(t::kEventTs, event_ts_ms);
  if (same && day == m.day) {
    b.RepeatDict(t::kEventDate);
  } else {
    b.AppendString(t::kEventDate, DateOf(event_ts_ms));
  }
  m.serial = serial_;
  m.rows = b.num_rows();
  m.day = day;
  b.AppendString(t::kSessionId, id.v[kPromoSessionId]);
  b.AppendString(t::kSessionPreviousId, id.v[kPromoSessionPreviousId]);
  b.AppendString(t::kUserId, id.v[kPromoUserId]);
  b.AppendString(t::kUserName, id.v[kPromoUserName]);
  b.AppendString(t::kUserRolesJson, id.v[kPromoUserRoles]);
}

void RowEmitter::EmitSpan(const ResourceCtx& r, const ScopeCtx& s, const SpanData& span,
                          const table::AttrMap& attrs, const Identity& id) {
  namespace c = table::spans;
  RowBatch& b = Batch(TableId::kSpans);
  Shared(b, r, s, id, static_cast<int64_t>(span.start / 1000000));
  AppendHex(b, c::kTraceId, span.trace_id);
  AppendHex(b, c::kSpanId, span.span_id);
  AppendHex(b, c::kParentSpanId, span.parent_span_id);
  b.AppendString(c::kTraceState, span.trace_state);
  b.AppendInt(c::kFlags, span.flags);
  b.AppendString(c::kName, span.name);
  char buf[16];
  b.AppendString(c::kKind, SpanKindText(span.kind, buf));
  b.AppendInt(c::kStartTimeUnixNano, static_cast<int64_t>(span.start));
  b.AppendInt(c::kEndTimeUnixNano, static_cast<int64_t>(span.end));
  b.AppendDouble(c::kDurationMs,
                 span.end > span.start ? static_cast<double>(span.end - span.start) / 1e6 : 0.0);
  b.AppendString(c::kStatusCode, StatusCodeText(span.status_code, buf));
  b.AppendString(c::kStatusMessage, span.status_message);
  AppendAttrs(b, c::kSpanAttrs, attrs);
  b.AppendInt(c::kDroppedAttributesCount, span.dropped_attributes);
  b.AppendInt(c::kDroppedEventsCount, span.dropped_events);
  b.AppendInt(c::kDroppedLinksCount, span.dropped_links);
  b.FinishRow();
}

void RowEmitter::EmitEvent(const ResourceCtx& r, const ScopeCtx& s, const SpanData& span,
                           int64_t index, const EventData& ev, const table::AttrMap& attrs,
                           const Identity& id) {
  namespace c = table::span_events;
  RowBatch& b = Batch(TableId::kSpanEvents);
  Shared(b, r, s, id, static_cast<int64_t>(ev.time / 1000000));
  AppendHex(b, c::kTraceId, span.trace_id);
  AppendHex(b, c::kSpanId, span.span_id);
  b.AppendInt(c::kEventIndex, index);
  b.AppendInt(c::kTimeUnixNano, static_cast<int64_t>(ev.time));
  b.AppendString(c::kName, ev.name);
  AppendAttrs(b, c::kEventAttrs, attrs);
  b.AppendInt(c::kDroppedAttributesCount, ev.dropped_attributes);
  b.FinishRow();
}

void RowEmitter::EmitLink(const ResourceCtx& r, const ScopeCtx& s, const SpanData& span,
                          int64_t index, const LinkData& link, const table::AttrMap& attrs,
                          const Identity& id) {
  namespace c = table::span_links;
  RowBatch& b = Batch(TableId::kSpanLinks);
  Shared(b, r, s, id, static_cast<int64_t>(span.start / 1000000));
  AppendHex(b, c::kTraceId, span.trace_id);
  AppendHex(b, c::kSpanId, span.span_id);
  b.AppendInt(c::kLinkIndex, index);
  AppendHex(b, c::kLinkedTraceId, link.trace_id);
  AppendHex(b, c::kLinkedSpanId, link.span_id);
  b.AppendString(c::kLinkTraceState, link.trace_state);
  b.AppendInt(c::kLinkFlags, link.flags);
  AppendAttrs(b, c::kLinkAttrs, attrs);
  b.AppendInt(c::kDroppedAttributesCount, link.dropped_attributes);
  b.FinishRow();
}

void RowEmitter::EmitLog(const ResourceCtx& r, const ScopeCtx& s, const LogData& log,
                         std::string_view body, std::string_view body_type,
                         const table::AttrMap& attrs, const Identity& id) {
  namespace c = table::logs;
  RowBatch& b = Batch(TableId::kLogs);
  int64_t ts;
  if (log.time > 0) {
    ts = static_cast<int64_t>(log.time / 1000000);
  } else if (log.observed > 0) {
    ts = static_cast<int64_t>(log.observed / 1000000);
  } else {
    ts = FloorMs(options_.now_unix_nano);
  }
  Shared(b, r, s, id, ts);
  b.AppendInt(c::kTimeUnixNano, static_cast<int64_t>(log.time));
  b.AppendInt(c::kObservedTimeUnixNano, static_cast<int64_t>(log.observed));
  b.AppendString(c::kSeverityText, log.severity_text);
  b.AppendInt(c::kSeverityNumber, log.severity_number);
  b.AppendString(c::kBody, body);
  b.AppendString(c::kBodyType, body_type);
  AppendAttrs(b, c::kLogAttrs, attrs);
  AppendHex(b, c::kTraceId, log.trace_id);
  AppendHex(b, c::kSpanId, log.span_id);
  b.AppendInt(c::kFlags, log.flags);
  b.AppendInt(c::kDroppedAttributesCount, log.dropped_attributes);
  b.AppendString(c::kEventName, log.event_name);
  b.FinishRow();
}

void RowEmitter::EmitNumberPoint(const ResourceCtx& r, const ScopeCtx& s, const MetricData& m,
                                 std::string_view metadata_json, const NumberPointData& p,
                                 const table::AttrMap& attrs, std::string_view exemplars_json,
                                 const Identity& id) {
  namespace c = table::metrics_points;
  RowBatch& b = Batch(TableId::kMetricsPoints);
  Shared(b, r, s, id, PointEventTs(p.time, p.start));
  b.AppendString(c::kInstrumentName, m.name);
  b.AppendString(c::kInstrumentType, m.type == MetricType::kGauge ? "Gauge" : "Sum");
  b.AppendString(c::kUnit, m.unit);
  b.AppendString(c::kDescription, m.description);
  b.AppendString(c::kMetricMetadataJson, metadata_json);
  char buf[16];
  b.AppendString(c::kAggregationTemporality,
                 TemporalityText(m.type == MetricType::kGauge ? 0 : m.temporality, buf));
  b.AppendBool(c::kIsMonotonic, m.type == MetricType::kSum && m.monotonic);
  b.AppendInt(c::kTimeUnixNano, static_cast<int64_t>(p.time));
  b.AppendInt(c::kStartTimeUnixNano, static_cast<int64_t>(p.start));
  if (p.has_int) {
    b.AppendDouble(c::kValue, static_cast<double>(p.as_int));
    b.AppendInt(c::kValueInt, p.as_int);
  } else if (p.has_double) {
    b.AppendDouble(c::kValue, p.as_double);
    b.AppendNull(c::kValueInt);
  } else {
    b.AppendNull(c::kValue);
    b.AppendNull(c::kValueInt);
  }
  b.AppendInt(c::kFlags, p.flags);
  AppendAttrs(b, c::kPointAttrs, attrs);
  b.AppendString(c::kExemplarsJson, exemplars_json);
  b.FinishRow();
}

void RowEmitter::EmitHistPoint(const ResourceCtx& r, const ScopeCtx& s, const MetricData& m,
                               std::string_view metadata_json, const HistPointData& p,
                               const HistJson& j, const table::AttrMap& attrs,
                               std::string_view exemplars_json, const Identity& id) {
  namespace c = table::metrics_hist;
  RowBatch& b = Batch(TableId::kMetricsHist);
  Shared(b, r, s, id, PointEventTs(p.time, p.start));
  b.AppendString(c::kInstrumentName, m.name);
  std::string_view type = "Histogram";
  if (m.type == MetricType::kExpHistogram) type = "ExpHistogram";
  if (m.type == MetricType::kSummary) type = "Summary";
  b.AppendString(c::kInstrumentType, type);
  b.AppendString(c::kUnit, m.unit);
  b.AppendString(c::kDescription, m.description);
  b.AppendString(c::kMetricMetadataJson, metadata_json);
  char buf[16];
  b.AppendString(c::kAggregationTemporality,
                 TemporalityText(m.type == MetricType::kSummary ? 0 : m.temporality, buf));
  b.AppendInt(c::kTimeUnixNano, static_cast<int64_t>(p.time));
  b.AppendInt(c::kStartTimeUnixNano, static_cast<int64_t>(p.start));
  b.AppendInt(c::kCount, static_cast<int64_t>(p.count));
  auto opt_double = [&](int col, bool has, double v) {
    if (has) {
      b.AppendDouble(col, v);
    } else {
      b.AppendNull(col);
    }
  };
  auto opt_string = [&](int col, bool has, std::string_view v) {
    if (has) {
      b.AppendString(col, v);
    } else {
      b.AppendNull(col);
    }
  };
  opt_double(c::kSum, p.has_sum, p.sum);
  opt_double(c::kMin, p.has_min, p.min);
  opt_double(c::kMax, p.has_max, p.max);
  opt_string(c::kBoundsJson, j.has_bounds, j.bounds);
  opt_string(c::kCountsJson, j.has_bounds, j.counts);
  if (j.has_exp) {
    b.AppendInt(c::kExpScale, p.scale);
    b.AppendInt(c::kExpZeroCount, static_cast<int64_t>(p.zero_count));
    b.AppendDouble(c::kExpZeroThreshold, p.zero_threshold);
  } else {
    b.AppendNull(c::kExpScale);
    b.AppendNull(c::kExpZeroCount);
    b.AppendNull(c::kExpZeroThreshold);
  }
  opt_string(c::kExpPositiveJson, j.has_exp, j.positive);
  opt_string(c::kExpNegativeJson, j.has_exp, j.negative);
  opt_string(c::kQuantilesJson, j.has_quantiles, j.quantiles);
  b.AppendInt(c::kFlags, p.flags);
  AppendAttrs(b, c::kPointAttrs, attrs);
  b.AppendString(c::kExemplarsJson, exemplars_json);
  b.FinishRow();
}

void RowEmitter::FinishLog(bool ok, const std::string& reason, const ResourceCtx& r,
                           const ScopeCtx& s, const LogData& log, const ValueInfo& body,
                           std::string_view body_json, const table::AttrMap& attrs,
                           const Captures& caps) {
  if (!ok) {
    Reject(reason);
    return;
  }
  std::string_view body_text = body_json;
  if (body.kind == ValueInfo::kString) body_text = body.str;
  if (body.kind == ValueInfo::kEmpty) body_text = {};
  const Identity id = ResolveIdentity(caps, r.identity);
  EmitLog(r, s, log, body_text, BodyTypeName(body.kind), attrs, id);
  Accept();
}

void RowEmitter::FinishPoint(bool ok, const std::string& reason, const PointCtx& c,
                             const NumberPointData& p) {
  if (!ok) {
    Reject(reason);
    return;
  }
  const Identity id = ResolveIdentity(c.caps, c.r.identity);
  EmitNumberPoint(c.r, c.s, c.m, c.metadata_json, p, c.attrs, c.exemplars_json, id);
  Accept();
}

void RowEmitter::FinishPoint(bool ok, const std::string& reason, const PointCtx& c,
                             const HistPointData& p, const HistJson& j) {
  if (!ok) {
    Reject(reason);
    return;
  }
  const Identity id = ResolveIdentity(c.caps, c.r.identity);
  EmitHistPoint(c.r, c.s, c.m, c.metadata_json, p, j, c.attrs, c.exemplars_json, id);
  Accept();
}

}  // namespace otlake::otlp::internal
