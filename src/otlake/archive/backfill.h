// Archive backfill: writes a window of the lake to the archive again, in exactly the layout and
// object format of the archive writer (docs/archive.md "Backfill"), e.g. to fill a recorded gap or
// to archive data older than the archive.
//
// Contract:
// - Window: the records' own **event time** (the lake's `event_ts`), widened to whole partitions
//   of the archive's s3_partition_format in its s3_partition_timezone: [from, to) becomes
//   [start of from's partition, end of the partition holding to - 1ns). Every record of every
//   project whose event time is in it is written (spans with their events and links; events are
//   looked up within a minute around their object's spans, links at their spans' time), read from the lake through
//   query::QueryEngine (what is committed to the lake: local and shipped days alike).
// - Objects: records of one partition period and one signal become objects in that partition
//   (key time = the period's start), each an Export*ServiceRequest rendered from the rows by the
//   query module's OTLP converters (TraceToOtlpJson, LogsToOtlpJson, MetricsToOtlpJson),
//   transcoded to protobuf and marshalled/compressed by the writer's MarshalObject with its
//   Content-Encoding. Rows are read a page at a time in event-time order; an object is cut at
//   each new partition period, and at the next change of event_ts once its rows' stored size
//   (text cells' bytes, 8 per other cell) reaches max_object_bytes -- rows of one event_ts are
//   never split, so the cuts are a function of the rows, not of the order of equal timestamps.
//   Each object's rows are sorted canonically, so the same rows give the same bytes. Memory: one
//   object's rows and one page.
// - Keys: the layout's key with a UUIDv7 whose time is the period start and whose other bits
//   derive from (backfill salt, signal, period start and end, object index) -- never an LSN range,
//   so they cannot equal a live writer key. The same window over the same lake content writes the
//   same keys with the same bytes (a re-run overwrites: nothing doubles), and since windows are
//   whole partitions, overlapping windows write a shared partition under the same keys. After a
//   period's objects are written, objects of the same period with the next indexes (left by an
//   earlier run over more rows) are deleted.
// - Not checked against the live archive: a record the live writer archived and whose event time
//   is in the window is then in two objects (one live, one backfilled).
// - Threads: runs on the caller's thread; no state of its own (the caller records runs).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "otlake/archive/layout.h"
#include "otlake/common/status.h"

namespace arrow::fs {
class FileSystem;
}
namespace otlake::query {
class QueryEngine;
}

namespace otlake::archive {

struct BackfillOptions {
  KeyLayoutOptions layout;  ///< the archive's settings (marshaler and compression included)
  int compression_level = 0;
  std::string bucket;
  std::shared_ptr<arrow::fs::FileSystem> fs;
  bool create_dirs = false;  ///< as ArchiveWriterOptions::create_dirs (local filesystems only)
  uint64_t salt = 0;         ///< the instance's backfill salt (stable across runs)
  int64_t max_object_bytes = 16ll << 20;
  std::vector<Signal> signals = {Signal::kTraces, Signal::kLogs, Signal::kMetrics};
  int64_t from_unix_nanos = 0;  ///< window as asked, [from, to)
  int64_t to_unix_nanos = 0;
  /// Called after each slice of the window (up to ten minutes of partitions) with the totals so far.
  std::function<void(const struct BackfillReport&)> progress;
};

struct BackfillReport {
  int64_t window_from_unix_nanos = 0;  ///< the window widened to whole partitions
  int64_t window_to_unix_nanos = 0;
  int64_t window_done_unix_nanos = 0;  ///< progress: everything before this is written
  std::string step;                    ///< minute, hour, day, month, year
  int64_t partitions = 0;              ///< partition periods that held records
  int64_t objects = 0;
  int64_t objects_removed = 0;         ///< leftovers of an earlier run deleted
  int64_t records = 0;                 ///< spans, log records and data points written
  int64_t spans = 0, logs = 0, points = 0;
  int64_t bytes = 0;                   ///< object bytes written
  std::vector<std::string> keys;       ///< every object written, in order
};

/// The window [from, to) widened to whole partitions of `layout` (Invalid naming the setting for
/// a bad format or zone, or when to <= from).
Status AlignWindow(const KeyLayoutOptions& layout, int64_t from_unix_nanos, int64_t to_unix_nanos,
                   int64_t* aligned_from, int64_t* aligned_to);

/// Writes the window (above). `engine` is not owned and outlives the call. Errors: Invalid for
/// settings, IOError for a lake read or an object write (objects written before it stay; a
/// re-run writes them again under the same keys).
Result<BackfillReport> RunBackfill(const BackfillOptions& options, query::QueryEngine* engine);

/// The UUIDv7 of backfill object `index` of (signal, partition period).
std::string BackfillUuid(uint64_t salt, Signal signal, int64_t period_start_ms, int64_t period_end_ms,
                         int64_t index);

}  // namespace otlake::archive
