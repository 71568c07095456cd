// The payload of one WAL record: an accepted OTLP request as received (after decompression and
// validation; DESIGN.md), so replay runs the same decode path as live ingest. docs/wal.md
// ("Record payload") is the spec.
//
//   byte 0      payload version (1)
//   byte 1      signal: 0 traces, 1 logs, 2 metrics
//   byte 2      body format: 0 protobuf, 1 OTLP/JSON
//   bytes 3-10  arrival time, Unix ns, little-endian int64 (decides the day the rows are filed in)
//   varint      project id length, then the project id (UTF-8)
//   [version 2 only] varint origin length, then the origin (sources/: which object and document
//               the request came from, so recovery can tell which objects' records are durable)
//   rest        the request body
// A record without an origin is written as version 1, byte for byte as before; version 2 only
// when Record::origin is set (S3 ingestion sources, docs/sources.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "otlake/common/status.h"
#include "otlake/otlp/decode.h"

namespace otlake::ingest {

enum class BodyFormat : uint8_t { kProtobuf = 0, kJson = 1 };

struct Record {
  otlp::Signal signal = otlp::Signal::kTraces;
  BodyFormat format = BodyFormat::kProtobuf;
  int64_t arrival_unix_nano = 0;
  std::string_view project_id;
  std::string_view body;
  /// Empty for OTLP/HTTP; set by sources/ to name the object and document (version 2 payload).
  std::string_view origin;
};

/// Appends the encoded record to *out (cleared first).
void EncodeRecord(const Record& r, std::string* out);

/// Writes everything of the encoded record before the body to *out (cleared first): the payload
/// is that header followed by `r.body`, so it can be logged as two parts without copying the body
/// (WalWriter::Append(parts)).
void EncodeRecordHeader(const Record& r, std::string* out);

/// Parses a payload; the views point into `payload`. Invalid if malformed or of an unknown version.
Status DecodeRecord(std::string_view payload, Record* r);

}  // namespace otlake::ingest
