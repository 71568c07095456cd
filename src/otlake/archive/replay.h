// Replaying a time window of a Collector-layout archive (awss3exporter's key layout) to a
// destination: list the window's objects on an arrow::fs::FileSystem (S3 or a local directory
// with the same layout), download them with bounded parallelism, decode each (object.h) and hand
// it to a sink -- an OTLP/HTTP endpoint or a local directory. docs/archive.md is the user-facing
// spec; `otlake replay` (cli/replay_cmd.cc) is the command.
//
// Contract:
// - ListReplayObjects lists each partition of the window (ListWindow) once with a non-recursive
//   selector under `root`, keeps files whose name starts with a listing prefix, and sorts every
//   such file into `objects` (ParseObjectName accepts it) or `skipped` (it does not: the Collector
//   logs "Unsupported file format" and skips it). Objects are in partition (time) order, then by
//   key. A listing error (after `list_attempts` tries) fails the whole listing (IOError).
// - RunReplay never stops at a bad object: a download that fails after its retries, a corrupt,
//   truncated or undecodable object, or a sink that refuses it, is one ObjectFailure (key,
//   reason) and the run goes on. An object is sent whole or reported failed; a sink failure in the
//   middle of a multi-document object (.jsonl) may have delivered its earlier documents.
// - With an event-time window, each document is rewritten on the wire to keep only the records
//   whose own timestamp is in it (FilterByEventTime); a document left empty is not sent.
// - Every JSON document is transcoded to protobuf (otlp::OtlpJsonToProtobuf) before anything is
//   sent, which both validates it with the ingest decoder's reading rules and lets records be
//   counted; records are spans, log records and metric data points.
// - At most `parallelism` objects are in memory (downloaded and decoded) at once.
// - Threads: RunReplay starts `parallelism` workers and joins them before it returns; the
//   progress callback runs on the calling thread. Sinks are called from the workers concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/archive/layout.h"
#include "otlake/archive/object.h"
#include "otlake/common/status.h"
#include "otlake/server/tls_client.h"

namespace arrow::fs {
class FileSystem;
}

namespace otlake::archive {

// ---------------------------------------------------------------------------------------------
// Listing

struct ReplaySource {
  std::shared_ptr<arrow::fs::FileSystem> fs;
  /// The arrow::fs path keys are relative to: "<bucket>" on S3, the directory for a local source.
  std::string root;
  /// For messages: "s3://bucket" or the directory.
  std::string display;
};

struct ListedObject {
  std::string key;   // relative to the source root, as the exporter wrote it
  std::string path;  // the arrow::fs path (root/key)
  int64_t size = 0;
  ObjectName name;
  /// Last modification time (Unix ns) as the source lists it (S3 LastModified); with `size` it
  /// tells one version of an object from another (arrow::fs reports no ETag).
  int64_t mtime_ns = 0;
};

struct SkippedObject {
  std::string key;
  std::string reason;
};

struct ObjectListing {
  Step step = Step::kMinute;
  int64_t partitions = 0;  // partitions of the window (per signal)
  int64_t listings = 0;    // directories listed
  std::vector<ListedObject> objects;
  std::vector<SkippedObject> skipped;
  int64_t bytes() const;
};

struct ListOptions {
  WindowOptions window;
  std::vector<Signal> signals = {Signal::kTraces, Signal::kLogs, Signal::kMetrics};
  int parallelism = 4;
  int list_attempts = 3;
  int64_t list_backoff_ms = 200;
};

/// Lists the window's archive objects under `source`; see the contract above. Invalid (naming
/// the setting) for a bad window; IOError for a listing that keeps failing.
Result<ObjectListing> ListReplayObjects(const ReplaySource& source, const ListOptions& options);

// ---------------------------------------------------------------------------------------------
// Records and retries (pure)

/// Counts the records (spans, log records, metric data points) of a protobuf
/// Export*ServiceRequest; Invalid if its wire format is broken.
Result<int64_t> CountRecords(Signal signal, std::string_view protobuf);

/// What to do with an HTTP answer of an OTLP/HTTP endpoint (the OTLP spec's rules): 2xx done;
/// 429, 502, 503, 504 retry; anything else (400, 401, 404, 413, 500, ...) a permanent failure.
enum class HttpVerdict : uint8_t { kOk, kRetry, kPermanent };
HttpVerdict ClassifyHttpStatus(int status);

/// A Retry-After header value in milliseconds: delta-seconds ("3") or an HTTP-date ("Wed, 21 Oct
/// 2015 07:28:00 GMT", relative to `now_unix_s`, at least 0). -1 if absent or unparsable.
int64_t ParseRetryAfterMs(std::string_view value, int64_t now_unix_s);

struct RetryPolicy {
  int max_attempts = 8;            // sends of one document in all (first try included)
  int64_t initial_backoff_ms = 500;
  int64_t max_backoff_ms = 30000;  // bound of the exponential backoff
  int64_t max_retry_after_ms = 120000;  // a longer Retry-After is capped at this
};

/// The wait before retry number `retry` (1 = the first retry): the server's Retry-After when it
/// gave one (capped at max_retry_after_ms), else initial_backoff_ms * 2^(retry-1) capped at
/// max_backoff_ms. No jitter (one client).
int64_t RetryDelayMs(const RetryPolicy& policy, int retry, int64_t retry_after_ms);

// ---------------------------------------------------------------------------------------------
// Sinks

/// An object that failed, or a note about one: its key and the reason.
struct ObjectFailure {
  std::string key;
  std::string reason;
};

/// One decoded object, ready to send: its documents as decoded (JSON or protobuf) and each as
/// protobuf.
struct PreparedObject {
  const ListedObject* listed = nullptr;
  DecodedObject decoded;
  std::vector<std::string> protobuf;  // one per document (filtered by event time, if asked)
  /// The documents in `protobuf` are the object's OTLP/JSON as decoded, not transcoded
  /// (ReplayOptions::sink_decodes).
  bool json_bodies = false;
  /// The bodies of `decoded.documents` were moved into `protobuf` (the same bytes, one entry per
  /// document in the same order): read them there (DocumentBody).
  bool bodies_moved = false;
  const std::string& DocumentBody(size_t i) const {
    return bodies_moved ? protobuf[i] : decoded.documents[i].body;
  }
  /// In `protobuf`; 0 until the sink sets it when PrepareObject was asked not to count
  /// (ReplayOptions::sink_decodes without an event-time window).
  int64_t records = 0;
  int64_t records_dropped = 0;        // outside the event-time window
};

/// Keeps the records of a protobuf Export*ServiceRequest whose own time falls in
/// [start_unix_nanos, end_unix_nanos): a span's start_time_unix_nano, a log record's
/// time_unix_nano (else its observed_time_unix_nano), a data point's time_unix_nano. A record
/// with no time at all (both 0) is kept. Scopes, resources and metrics left without records are
/// dropped; every other field is copied as it was. Adds the records dropped to *dropped.
/// Invalid if the wire format is broken.
Result<std::string> FilterByEventTime(Signal signal, std::string_view protobuf,
                                      int64_t start_unix_nanos, int64_t end_unix_nanos,
                                      int64_t* dropped);

/// The `--event-time` window: when set, PrepareObject filters every document with it.
struct EventTimeWindow {
  int64_t start_unix_nanos = 0;
  int64_t end_unix_nanos = 0;
};

class ReplaySink {
 public:
  virtual ~ReplaySink() = default;
  /// Delivers one object; an error fails that object only (its message is the reason). Called
  /// from several threads at once. A sink that decodes the documents itself
  /// (ReplayOptions::sink_decodes) sets `object.records` to the records it found in them.
  virtual Status Send(PreparedObject& object) = 0;
  /// Retries made so far (for the report).
  virtual int64_t retries() const { return 0; }
  /// Records the destination accepted the request of but rejected alone (OTLP partial success),
  /// with one note per object (key, the destination's message).
  virtual int64_t rejected() const { return 0; }
  virtual std::vector<ObjectFailure> rejections() const { return {}; }
  /// Whether the destination already holds this object (the lake records every object it
  /// stored, so a re-run stores nothing twice). Such an object is not downloaded: it counts in
  /// objects_already, and *records (set by the sink) in records_already. Called from workers.
  virtual bool AlreadyDone(const ListedObject& object, int64_t* records) {
    (void)object;
    (void)records;
    return false;
  }
};

/// The partial success of an OTLP Export*ServiceResponse (protobuf): field 1 { rejected = 1;
/// error_message = 2 }. Sets *rejected (0 when absent) and *message; false if the body is not
/// such a message.
bool ParsePartialSuccess(std::string_view response, int64_t* rejected, std::string* message);

struct OtlpHttpOptions {
  /// "http[s]://host:port" or "http[s]://host:port/base"; documents go to <url>/v1/<signal>.
  std::string url;
  /// For an https:// URL: whom to trust (default the system's CAs) and a client certificate.
  server::TlsClientSettings tls;
  RetryPolicy retry;
  double timeout_s = 30;  // connect, send and answer, per attempt
  bool gzip = true;
  /// Sleeps between retries (tests may replace it).
  std::function<void(int64_t ms)> sleep;
};

/// POSTs each document as application/x-protobuf (gzip-compressed) and retries 429/502/503/504
/// and connection failures per the RetryPolicy, honouring Retry-After. A 2xx answer's partial
/// success (records rejected alone) is counted in rejected() and noted per object. Invalid for a URL that is
/// not http[s]://host[:port][/path].
Result<std::unique_ptr<ReplaySink>> MakeOtlpHttpSink(OtlpHttpOptions options);

/// Writes each object under `dir` at its key with the compression suffix removed: JSON sources
/// (.json, .jsonl) as OTLP/JSON lines (<stem>.jsonl, one document per line), protobuf sources as
/// the decoded document (<stem>.binpb). So the output is itself an uncompressed archive of the
/// same layout. Each file is written atomically (temporary file + rename).
std::unique_ptr<ReplaySink> MakeDirSink(std::string dir);

/// The path under a --to-dir directory an object is written to (exposed for tests).
std::string DirSinkRelativePath(const ListedObject& object);

// ---------------------------------------------------------------------------------------------
// Running

struct ReplayCounters {
  std::atomic<int64_t> objects_done{0};  // ok or failed
  std::atomic<int64_t> objects_ok{0};
  std::atomic<int64_t> objects_failed{0};
  std::atomic<int64_t> bytes{0};  // downloaded (as stored)
  std::atomic<int64_t> records{0};
  std::atomic<int64_t> documents{0};
  std::atomic<int64_t> records_dropped{0};
  std::atomic<int64_t> objects_already{0};  // the destination held them already
  std::atomic<int64_t> records_already{0};
  std::atomic<int64_t> objects_cancelled{0};  // not started: the run was cancelled
};

struct ReplayProgress {
  int64_t objects_total = 0;
  int64_t bytes_total = 0;
  int64_t objects_done = 0;
  int64_t objects_failed = 0;
  int64_t bytes = 0;
  int64_t records = 0;
  int64_t records_dropped = 0;
  int64_t objects_already = 0;
  int64_t objects_cancelled = 0;
  double seconds = 0;
};

struct ReplayOptions {
  int parallelism = 4;
  int download_attempts = 3;
  int64_t download_backoff_ms = 200;
  /// Data for the decoder (file_prefix, max_decompressed_bytes).
  ObjectDecodeOptions decode;
  /// Keep only records whose own time is in this window (`--event-time`); unset: every record.
  std::optional<EventTimeWindow> event_time;
  /// The sink decodes every document itself (the lake): OTLP/JSON documents are handed over as
  /// they are instead of transcoded to protobuf, and protobuf ones are not walked to count their
  /// records (the sink's decode does both; doing them here would pay twice). Ignored with an
  /// event-time window, whose filter works on protobuf and counts.
  bool sink_decodes = false;
  /// Called about every `progress_interval_ms` and once at the end, on the calling thread.
  std::function<void(const ReplayProgress&)> progress;
  int64_t progress_interval_ms = 250;
  /// Set (by another thread) to stop: objects not started yet are counted as cancelled; those
  /// being replayed finish. Not owned; may be null.
  const std::atomic<bool>* cancel = nullptr;
};

struct ReplayReport {
  int64_t objects = 0;
  int64_t objects_ok = 0;
  int64_t objects_failed = 0;
  int64_t bytes = 0;
  int64_t records = 0;
  int64_t documents = 0;
  int64_t records_dropped = 0;  // outside the event-time window, not sent
  int64_t records_rejected = 0;  // sent, but rejected by the destination (partial success)
  int64_t retries = 0;
  int64_t objects_already = 0;    // held by the destination already: not downloaded
  int64_t records_already = 0;
  int64_t objects_cancelled = 0;  // not started (ReplayOptions::cancel)
  double seconds = 0;
  std::vector<ObjectFailure> failures;    // sorted by key
  std::vector<ObjectFailure> rejections;  // objects with records_rejected, sorted by key
};

/// A complete HTTP answer.
struct HttpAnswer {
  int status = 0;
  std::string retry_after;  // the Retry-After header, if any
  std::string body;
};

/// One HTTP/1.1 request on its own connection (Connection: close) to `url` ("http[s]://host:port",
/// a path in it is prefixed to `path`), with `headers` ("Name: value") and a deadline for the
/// whole exchange; `tls` for an https:// URL. IOError when no complete answer arrived; Invalid for
/// a URL that is not http:// or https://.
Result<HttpAnswer> HttpExchange(const std::string& url, const std::string& method,
                                const std::string& path, const std::vector<std::string>& headers,
                                const std::string& body, double timeout_s,
                                const server::TlsClientSettings& tls = {});

/// Downloads, decodes and sends every listed object to `sink`; see the contract above.
ReplayReport RunReplay(const ReplaySource& source, const ObjectListing& listing, ReplaySink* sink,
                       const ReplayOptions& options);

/// Downloads and prepares one object (exposed for tests): the bytes, DecodeObject, the protobuf
/// transcoding, the event-time filter (if `event_time`) and the record count (the last two
/// skipped when `sink_decodes` without a window, see ReplayOptions). Errors name the reason
/// (the key is added by the caller).
Result<PreparedObject> PrepareObject(const ListedObject& object, std::string_view bytes,
                                     const ObjectDecodeOptions& options,
                                     const std::optional<EventTimeWindow>& event_time = std::nullopt,
                                     bool sink_decodes = false);

}  // namespace otlake::archive
