// Row building shared by the protobuf and JSON decoders: the decoders parse a record into the
// plain structs below (views into the request, attribute lists as table::AttrMap entries in
// scratch maps), and RowEmitter validates and writes the rows, so both wire forms fill the
// columns identically.
//
// Not a public API: only decode_*.cc include this.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "otlake/otlp/decode.h"
#include "otlake/table/row_batch.h"

namespace otlake::otlp::internal {

// ---------------------------------------------------------------------------------------------
// Promoted attributes: values copied into columns (the JSON keeps them too).

enum Promo : int {
  kPromoSessionId,
  kPromoSessionPreviousId,
  kPromoUserId,
  kPromoUserName,
  kPromoUserRoles,
  kNumIdentity,
  kPromoServiceName = kNumIdentity,
  kPromoServiceNamespace,
  kPromoServiceInstanceId,
  kPromoServiceVersion,
  kPromoDeploymentEnvName,
  kPromoDeploymentEnv,
  kNumPromo
};

/// The Promo slot for attribute key `key`, or -1.
int MatchPromoted(std::string_view key);

/// The kind of a rendered AnyValue; `str` is set for kString (the string) and, in attribute
/// maps, kBytes (the raw bytes); `num` for kDouble in attribute maps.
struct ValueInfo {
  enum Kind : uint8_t { kEmpty, kString, kBool, kInt, kDouble, kBytes, kArray, kKvlist };
  Kind kind = kEmpty;
  std::string_view str;
  double num = 0;
};

/// The map type letter of a value kind (attr_map.h).
inline char TypeLetter(ValueInfo::Kind k) {
  static constexpr char kLetters[] = {'e', 's', 'b', 'i', 'd', 'y', 'a', 'k'};
  return kLetters[k];
}

/// log body_type text for a value kind.
std::string_view BodyTypeName(ValueInfo::Kind k);

/// The promoted attributes of one attribute list, as the decoders' map builders met them (last
/// occurrence of a key wins, as in the stored map). Views into the request and into this object:
/// valid until the next Reset/Note.
struct Captures {
  struct Slot {
    bool found = false;
    bool is_string = false;
    std::string_view str;   // the raw string value (is_string)
    std::string json;       // the value's typed JSON (attributes-json.md)
  };
  Slot slot[kNumPromo];

  void Reset() {
    for (Slot& s : slot) s.found = false;
  }
  /// Records top-level attribute `key` with value `info`, whose map value text is `map_text`.
  void Note(std::string_view key, const ValueInfo& info, std::string_view map_text) {
    const int p = MatchPromoted(key);
    if (p >= 0) Set(p, info, map_text);
  }
  void Set(int p, const ValueInfo& info, std::string_view map_text);
  /// The column text of slot `p`: a string value as is, anything else as typed JSON.
  std::string_view Text(int p) const {
    const Slot& s = slot[p];
    return s.is_string ? s.str : std::string_view(s.json);
  }
  std::string_view Json(int p) const { return slot[p].json; }
};

/// The identity columns of one row (user_roles as typed JSON). Views must outlive the row write.
struct Identity {
  std::string_view v[kNumIdentity] = {"", "", "", "", "[]"};
};

/// Identity from a record's captured attributes, falling back per column to `fallback` (the
/// enclosing span's or the resource's).
Identity ResolveIdentity(const Captures& c, const Identity& fallback);

/// Per-resource values shared by all rows under one Resource{Spans,Logs,Metrics}.
struct ResourceCtx {
  ResourceCtx() = default;
  ResourceCtx(const ResourceCtx&) = delete;  // `identity` points into this object
  ResourceCtx& operator=(const ResourceCtx&) = delete;

  table::AttrMap attrs;
  int64_t dropped = 0;
  std::string schema_url;
  std::string service_name, service_namespace, service_instance_id, service_version,
      deployment_env;
  std::string identity_store[kNumIdentity];
  Identity identity;

  /// Sets the promoted columns and identity fallbacks from `c` (captured over attrs).
  void Finish(const Captures& c);
};

/// Per-scope values.
struct ScopeCtx {
  std::string name, version, schema_url;
  table::AttrMap attrs;
  int64_t dropped = 0;
};

// ---------------------------------------------------------------------------------------------
// Records as parsed, before validation.

/// An ID's bytes as received. `len` is the true length even when over 16 (bytes then unset);
/// `bad_encoding` marks a JSON ID that is neither hex nor base64.
struct RawId {
  uint8_t bytes[16];
  int64_t len = 0;
  bool bad_encoding = false;

  void Set(std::string_view b);
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes), static_cast<size_t>(len <= 16 ? len : 0)};
  }
};

/// Decodes an OTLP/JSON ID (hex of either case; base64 when its length says so) into *id.
void DecodeJsonId(std::string_view text, int want_bytes, RawId* id);

/// True if `id` is `want` bytes (or empty and `allow_empty`); else sets *reason.
bool CheckId(const RawId& id, int want, bool allow_empty, const char* what, std::string* reason);

/// True if `t` fits int64; else sets *reason ("<what> exceeds int64").
bool CheckTime(uint64_t t, const char* what, std::string* reason);

struct SpanData {
  RawId trace_id, span_id, parent_span_id;
  std::string_view trace_state, name, status_message;
  uint64_t start = 0, end = 0;
  int32_t kind = 0, status_code = 0;
  uint32_t flags = 0;
  uint32_t dropped_attributes = 0, dropped_events = 0, dropped_links = 0;
};
struct EventData {
  uint64_t time = 0;
  std::string_view name;
  uint32_t dropped_attributes = 0;
};
struct LinkData {
  RawId trace_id, span_id;
  std::string_view trace_state;
  uint32_t flags = 0;
  uint32_t dropped_attributes = 0;
};
struct LogData {
  uint64_t time = 0, observed = 0;
  int32_t severity_number = 0;
  std::string_view severity_text, event_name;
  RawId trace_id, span_id;
  uint32_t flags = 0;
  uint32_t dropped_attributes = 0;
};

/// Record validation shared by both decoders: IDs of the right length, times that fit int64.
/// False, with *reason set, rejects the record (an event's or link's rejects its span).
bool CheckSpan(const SpanData& s, std::string* reason);
bool CheckEvent(const EventData& e, std::string* reason);
bool CheckLink(const LinkData& l, std::string* reason);
bool CheckLog(const LogData& l, std::string* reason);

enum class MetricType : uint8_t { kNone, kGauge, kSum, kHistogram, kExpHistogram, kSummary };

struct MetricData {
  std::string_view name, description, unit;
  MetricType type = MetricType::kNone;
  int32_t temporality = 0;
  bool monotonic = false;
};
struct NumberPointData {
  uint64_t start = 0, time = 0;
  bool has_double = false, has_int = false;
  double as_double = 0;
  int64_t as_int = 0;
  uint32_t flags = 0;
};
struct HistPointData {
  uint64_t start = 0, time = 0, count = 0;
  bool has_sum = false, has_min = false, has_max = false;
  double sum = 0, min = 0, max = 0;
  uint32_t flags = 0;
  // ExpHistogram
  int32_t scale = 0;
  uint64_t zero_count = 0;
  double zero_threshold = 0;
};

/// Exemplar fields; the value is typed (int literal for asInt, double for asDouble).
struct ExemplarData {
  uint64_t time = 0;
  bool has_double = false, has_int = false;
  double as_double = 0;
  int64_t as_int = 0;
  RawId trace_id, span_id;
};

/// Appends one exemplar object to an exemplars_json array being built (caller writes '[' ',' ']').
/// False (and *reason set) if the exemplar is invalid: the data point is then rejected.
bool AppendExemplar(std::string* out, const ExemplarData& e, std::string_view filtered_attrs_json,
                    std::string* reason);

/// Adds exemplar `index` of a point to `out` (a ',' before all but the first). An invalid one
/// rejects the point: *ok becomes false and, if it was still true, *reason says why (the point's
/// first reason wins).
void AddExemplar(std::string* out, int64_t index, const ExemplarData& e,
                 std::string_view filtered_attrs_json, bool* ok, std::string* reason);

/// Validates a parsed data point: its times (and, for the histogram kinds, count and zero_count)
/// must fit int64. False, with *reason set, rejects the point.
bool CheckPoint(const NumberPointData& p, std::string* reason);
bool CheckPoint(const HistPointData& p, std::string* reason);

/// What the row of one data point needs besides the point: where it sits, and its attributes
/// (with their captures) and rendered exemplars. Views into the decoder, valid for the call.
struct PointCtx {
  const ResourceCtx& r;
  const ScopeCtx& s;
  const MetricData& m;
  std::string_view metadata_json;
  const table::AttrMap& attrs;
  const Captures& caps;
  std::string_view exemplars_json;
};

/// Appends quantile `index` of a summary point, {"q":Q,"v":V} (a ',' before all but the first), to
/// a quantiles_json array being built.
void AppendQuantile(std::string* out, int64_t index, double q, double v);

/// Appends {"offset":N,"counts":[ ... so far; callers append counts and "]}".
void AppendBucketsPrefix(std::string* out, int32_t offset);

// ---------------------------------------------------------------------------------------------

/// Writes rows into a DecodeResult. One per decode call.
class RowEmitter {
 public:
  RowEmitter(const DecodeOptions& options, DecodeResult* result)
      : options_(options), result_(result) {}

  /// Counts one rejected record with its reason.
  void Reject(const std::string& reason);
  void Accept() { ++result_->accepted; }
  /// The decoders call this before they change the ResourceCtx or ScopeCtx they pass in (a new
  /// ResourceSpans / ScopeSpans ...): until then, rows emitted into a batch right after one
  /// another repeat the previous row's request-level dictionary values without comparing them.
  void ContextChanged() { ++serial_; }

  /// The `attrs` arguments below are attribute lists as the decoders read them (duplicate keys
  /// included); the emitter stores them as map + type-letter columns (attr_map.h), keeping the
  /// last value of a repeated key and counting the dropped ones.
  void EmitSpan(const ResourceCtx& r, const ScopeCtx& s, const SpanData& span,
                const table::AttrMap& attrs, const Identity& id);
  void EmitEvent(const ResourceCtx& r, const ScopeCtx& s, const SpanData& span, int64_t index,
                 const EventData& ev, const table::AttrMap& attrs, const Identity& id);
  void EmitLink(const ResourceCtx& r, const ScopeCtx& s, const SpanData& span, int64_t index,
                const LinkData& link, const table::AttrMap& attrs, const Identity& id);
  /// `body` is the string value or the typed JSON, per `body_type`.
  void EmitLog(const ResourceCtx& r, const ScopeCtx& s, const LogData& log, std::string_view body,
               std::string_view body_type, const table::AttrMap& attrs, const Identity& id);
  /// The end of every log record, in both decoders: if `ok` writes it (body rendered into
  /// `body_json` as `body`; identity from `caps` over attrs, then the resource's) and counts
  /// it accepted, else counts it rejected with `reason`.
  void FinishLog(bool ok, const std::string& reason, const ResourceCtx& r, const ScopeCtx& s,
                 const LogData& log, const ValueInfo& body, std::string_view body_json,
                 const table::AttrMap& attrs, const Captures& caps);
  void EmitNumberPoint(const ResourceCtx& r, const ScopeCtx& s, const MetricData& m,
                       std::string_view metadata_json, const NumberPointData& p,
                       const table::AttrMap& attrs, std::string_view exemplars_json,
                       const Identity& id);
  /// JSON columns that do not apply to the metric type are passed as nullptr-data views and
  /// written as null.
  struct HistJson {
    std::string_view bounds, counts, positive, negative, quantiles;
    bool has_bounds = false, has_exp = false, has_quantiles = false;
  };
  void EmitHistPoint(const ResourceCtx& r, const ScopeCtx& s, const MetricData& m,
                     std::string_view metadata_json, const HistPointData& p, const HistJson& j,
                     const table::AttrMap& attrs, std::string_view exemplars_json,
                     const Identity& id);

  /// The end of every data point, in both decoders: if `ok` writes the point (identity from its
  /// captured attributes, then the resource's) and counts it accepted, else counts it rejected
  /// with `reason`.
  void FinishPoint(bool ok, const std::string& reason, const PointCtx& c, const NumberPointData& p);
  void FinishPoint(bool ok, const std::string& reason, const PointCtx& c, const HistPointData& p,
                   const HistJson& j);

 private:
  table::RowBatch& Batch(table::TableId t) {
    auto& b = batches_[static_cast<int>(t)];
    if (b == nullptr) b = &result_->batches.Get(t);
    return *b;
  }
  // Stores attribute list `m` in map column `col` and its letters in col + 1, without its
  // duplicate keys (counted).
  void AppendAttrs(table::RowBatch& b, int col, const table::AttrMap& m);
  // *out = `m` without its duplicate keys (counted).
  void Dedup(const table::AttrMap& m, table::AttrMap* out);
  void Shared(table::RowBatch& b, const ResourceCtx& r, const ScopeCtx& s, const Identity& id,
              int64_t event_ts_ms);
  std::string_view DateOf(int64_t ms);
  void AppendHex(table::RowBatch& b, int col, const RawId& id);
  int64_t PointEventTs(uint64_t time, uint64_t start) const;

  const DecodeOptions& options_;
  DecodeResult* result_;
  table::RowBatch* batches_[table::kNumTables] = {};
  // Per table: the context serial and row count of the last Shared(), and its event day.
  struct SharedMemo {
    uint64_t serial = 0;
    int64_t rows = -1;
    int64_t day = INT64_MIN;
  };
  uint64_t serial_ = 1;
  SharedMemo memo_[table::kNumTables];
  // Scratch map of a record's attributes, and the resource's and scope's maps for context
  // `maps_serial_`.
  table::AttrMap map_, res_map_, scope_map_;
  uint64_t maps_serial_ = 0;
  int64_t cached_day_ = INT64_MIN;
  char cached_date_[16] = {};
  size_t cached_date_len_ = 0;
};

/// Names of enum values as otlake stores them; unknown numbers as decimal text in *buf.
std::string_view SpanKindText(int32_t v, char (&buf)[16]);
std::string_view StatusCodeText(int32_t v, char (&buf)[16]);
std::string_view TemporalityText(int32_t v, char (&buf)[16]);

/// OTLP/JSON enum name tables (SPAN_KIND_SERVER ...): the number for `name`, or false.
bool ParseSpanKindName(std::string_view name, int32_t* v);
bool ParseStatusCodeName(std::string_view name, int32_t* v);
bool ParseTemporalityName(std::string_view name, int32_t* v);
bool ParseSeverityNumberName(std::string_view name, int32_t* v);

}  // namespace otlake::otlp::internal
