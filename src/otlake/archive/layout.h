// The OpenTelemetry Collector's S3 archive key layout (awss3exporter writes it, awss3receiver
// lists it), as pure functions: render a key, parse an object name back, and enumerate the
// partition prefixes of a time window. docs/archive.md is the user-facing spec.
//
// Key (exporter, path.Join semantics: empty parts skipped, "//" collapsed, "." / ".." resolved):
//   [s3_base_prefix/][s3_prefix/]<strftime(s3_partition_format, t in tz)>/
//       <file_prefix><signal>_<unique>.<json|binpb>[.gz|.zst]
// e.g. year=2025/month=06/day=25/hour=14/minute=09/traces_312302042.json
//
// Contract:
// - Nothing here does I/O except TimeZone loading in KeyLayout/Window construction (reads one
//   TZif file). No Arrow types; errors are Status::Invalid naming the setting (the Collector's
//   YAML key, e.g. "s3_partition_format: unknown directive %Q").
// - The partition format supports the strftime directives of itchyny/timefmt-go, which the
//   Collector uses, with the glibc flags '-' (no padding), '_' (space padding), '0' (zero
//   padding) and '^' (upper case); see kDirectives in layout.cc and docs/archive.md. Unlike the
//   Collector, an unknown directive is an error rather than copied through.
// - The partition timezone defaults to UTC (the Collector defaults to the process's Local zone;
//   say "Local" to get that).
// - Window listing steps by the finest time unit the format contains (minute, hour, day, month,
//   year; week directives step by day), walking local calendar periods, so DST changes and
//   half-hour zones list every partition exactly once and in time order. Upstream supports
//   minute and hour only and does not align the first step.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/archive/timezone.h"
#include "otlake/common/status.h"

namespace otlake::archive {

enum class Signal : uint8_t { kTraces, kLogs, kMetrics };

/// How an object's body is encoded. kJsonLines is read only (the Collector's file exporter and
/// other tools write it); the awss3exporter marshalers are kOtlpJson and kOtlpProto.
enum class Marshaler : uint8_t { kOtlpJson, kOtlpProto, kJsonLines };

enum class Compression : uint8_t { kNone, kGzip, kZstd };

/// "traces", "logs" or "metrics" (the signal part of an object name).
std::string_view SignalName(Signal s);
/// "otlp_json", "otlp_proto" or "jsonl".
std::string_view MarshalerName(Marshaler m);
/// "none", "gzip" or "zstd".
std::string_view CompressionName(Compression c);
/// The file extension without the dot: "json", "binpb", "jsonl".
std::string_view MarshalerExtension(Marshaler m);
/// The suffix added by compression: "", ".gz", ".zst".
std::string_view CompressionSuffix(Compression c);

/// Parses a `marshaler` setting ("otlp_json", "otlp_proto"); Invalid for others (sumo_ic, body
/// and encoding extensions are not supported).
Result<Marshaler> ParseMarshaler(std::string_view name);
/// Parses a `compression` setting ("", "none", "gzip", "zstd").
Result<Compression> ParseCompression(std::string_view name);

inline constexpr std::string_view kDefaultPartitionFormat =
    "year=%Y/month=%m/day=%d/hour=%H/minute=%M";

/// Checks every directive of a partition format; Invalid names the first unknown one.
Status ValidatePartitionFormat(std::string_view format);

/// strftime(format, t in tz), `t` in Unix nanoseconds. The format must be valid
/// (ValidatePartitionFormat); an invalid directive is rendered literally.
std::string FormatPartition(std::string_view format, int64_t unix_nanos, const TimeZone& tz);

/// Joins key parts like Go's path.Join: empty parts skipped, then cleaned ("//" -> "/", "."
/// dropped, ".." removes the previous element, no trailing "/"). "" if every part is empty.
std::string JoinKey(const std::vector<std::string_view>& parts);

/// The awss3exporter's `s3uploader` settings that shape a key, plus `marshaler`.
struct KeyLayoutOptions {
  std::string s3_base_prefix;
  std::string s3_prefix;
  std::string s3_partition_format = std::string(kDefaultPartitionFormat);
  std::string s3_partition_timezone;  // IANA name; "" = UTC
  std::string file_prefix;
  Marshaler marshaler = Marshaler::kOtlpJson;
  Compression compression = Compression::kNone;
};

/// Renders archive object keys. Make validates the options once; Key cannot fail.
class KeyLayout {
 public:
  /// Invalid (naming the setting) for a bad format or time zone, a file_prefix containing '/',
  /// or marshaler kJsonLines (the exporter never writes it).
  static Result<KeyLayout> Make(KeyLayoutOptions options);

  /// The key of an object written at `unix_nanos` (the exporter uses the upload time) for
  /// `signal`, with `unique` (a 9-digit random number or a UUIDv7 upstream).
  std::string Key(int64_t unix_nanos, Signal signal, std::string_view unique) const;

  const KeyLayoutOptions& options() const { return options_; }
  const TimeZone& time_zone() const { return tz_; }

 private:
  KeyLayout(KeyLayoutOptions options, TimeZone tz)
      : options_(std::move(options)), tz_(std::move(tz)) {}
  KeyLayoutOptions options_;
  TimeZone tz_;
};

/// What an object's name says about it.
struct ObjectName {
  Signal signal = Signal::kTraces;
  Marshaler marshaler = Marshaler::kOtlpJson;
  Compression compression = Compression::kNone;
  std::string unique;  // the part between "<signal>_" and the extension
};

/// Parses the file name (the part of `key` after its last '/') of an archive object:
/// <file_prefix><traces|logs|metrics>_<unique>.<json|binpb|jsonl>[.gz|.zst]. Invalid, saying
/// what is wrong, for a name that is not an archive object.
Result<ObjectName> ParseObjectName(std::string_view key, std::string_view file_prefix = "");

/// Parses a window bound as awss3receiver's `starttime`/`endtime`: RFC 3339
/// ("2025-06-25T14:09:00Z", "...+05:30", fractional seconds allowed), "YYYY-MM-DD HH:MM" or
/// "YYYY-MM-DD" (midnight). The last two are read in `tz` (upstream reads them as UTC).
/// Returns Unix nanoseconds; Invalid naming `setting` when malformed.
Result<int64_t> ParseWindowTime(std::string_view text, const TimeZone& tz,
                                std::string_view setting);

/// The listing step a partition format implies.
enum class Step : uint8_t { kMinute, kHour, kDay, kMonth, kYear };
std::string_view StepName(Step s);

/// The finest time unit in `format` (week and weekday directives count as days). Invalid for an
/// unknown directive, for seconds or finer (%S, %s, %f, %T, %r, %c, %X: not listable by
/// window), and for a format with no time directive at all.
Result<Step> InferStep(std::string_view format);

/// awss3receiver's `s3downloader` settings that shape a listing, and the window.
struct WindowOptions {
  std::string s3_prefix;
  std::string s3_partition_format = std::string(kDefaultPartitionFormat);
  std::string s3_partition_timezone;  // IANA name; "" = UTC
  std::string file_prefix;
  /// Append "<signal>_" to each listing prefix (`file_prefix_include_telemetry_type`).
  bool file_prefix_include_telemetry_type = true;
  std::string starttime;  // as ParseWindowTime; end exclusive
  std::string endtime;
  /// Refuse windows that would list more partitions than this (Invalid), e.g. a year of minutes.
  int64_t max_partitions = 1000000;
};

/// One partition to list.
struct WindowPartition {
  int64_t start_unix_nanos = 0;  // the instant this partition's period starts (or the window's
                                 // start, for the first)
  std::string partition;         // the rendered partition format, e.g. "year=2025/.../minute=09"
  std::string list_prefix;       // the ListObjectsV2 prefix: [s3_prefix/]partition/file_prefix[signal_]
};

struct WindowListing {
  Step step = Step::kMinute;
  int64_t start_unix_nanos = 0;
  int64_t end_unix_nanos = 0;
  std::vector<WindowPartition> partitions;  // in time order, each partition once
};

/// Every partition whose period overlaps [starttime, endtime), in order. Invalid naming the
/// setting: bad times, end not after start, unknown directive, unknown time zone, too many
/// partitions.
Result<WindowListing> ListWindow(const WindowOptions& options, Signal signal);

}  // namespace otlake::archive
