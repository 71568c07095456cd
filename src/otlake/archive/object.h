// Decoding one archive object (its key and its bytes, as downloaded) into OTLP request bodies
// ready for the ingest decode path (otlp::DecodeJson / otlp::DecodeProtobuf with the body's
// content type). docs/archive.md is the user-facing spec.
//
// Contract:
// - The key's file name decides the signal, the marshaler (.json one OTLP/JSON document, .binpb
//   one protobuf Export*ServiceRequest, .jsonl one OTLP/JSON document per line) and the expected
//   compression (.gz / .zst). A name that is not an archive object is Status::Invalid
//   (ParseObjectName's message).
// - Decompression happens at most once and only when the bytes start with the magic of an
//   expected compression (gzip 1f 8b, zstd 28 b5 2f fd), expected meaning named by the suffix or
//   by `content_encoding`. So an object whose Content-Encoding a client already undid (the
//   exporter sets Content-Encoding: gzip on .gz OTLP objects) is read as it is, and one that
//   still carries its compression is decompressed once. A .gz/.zst name whose bytes lack the
//   magic and whose Content-Encoding does not explain that is corrupt (Invalid).
// - The decompressed size is bounded by `max_decompressed_bytes` (CapacityError), so a
//   compression bomb costs at most that much memory; uncompressed objects are bounded the same.
// - Each document is checked cheaply before it is returned: JSON must be one well-formed JSON
//   object per document (per line for .jsonl; blank lines skipped) and its top-level
//   resourceSpans / resourceLogs / resourceMetrics (or snake_case) field must not belong to
//   another signal than the name's; protobuf must be non-empty and start with field 1, wire type
//   2, whose length fits. Full OTLP validation is left to the ingest decoder.
// - Errors are Invalid (corrupt, truncated, bad JSON line N, signal mismatch, empty) or
//   CapacityError (too large), and name the key and the reason. Nothing is returned on error:
//   an object is replayed whole or not at all.
// - Pure function of its arguments; no I/O; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/archive/layout.h"
#include "otlake/common/status.h"

namespace otlake::archive {

inline constexpr std::string_view kJsonContentType = "application/json";
inline constexpr std::string_view kProtobufContentType = "application/x-protobuf";

/// One OTLP Export*ServiceRequest body.
struct Document {
  std::string body;
  std::string_view content_type;  // kJsonContentType or kProtobufContentType
  int64_t line = 0;               // 1-based line of a .jsonl object; 0 otherwise
};

struct DecodedObject {
  ObjectName name;
  /// The compression actually undone here (kNone when the bytes were already plain).
  Compression decompressed = Compression::kNone;
  std::vector<Document> documents;
};

struct ObjectDecodeOptions {
  /// The `file_prefix` setting: what precedes "<signal>_" in file names.
  std::string file_prefix;
  /// The object's Content-Encoding metadata, if known ("", "gzip", "zstd"; others ignored).
  std::string content_encoding;
  /// Largest accepted object after decompression.
  int64_t max_decompressed_bytes = int64_t{256} << 20;
};

/// Decodes the object stored under `key` with contents `bytes`; see the contract above.
Result<DecodedObject> DecodeObject(std::string_view key, std::string_view bytes,
                                   const ObjectDecodeOptions& options);

/// As DecodeObject, for an already parsed name (`key` is only used in messages).
Result<DecodedObject> DecodeObjectBytes(std::string_view key, const ObjectName& name,
                                        std::string_view bytes,
                                        const ObjectDecodeOptions& options);

}  // namespace otlake::archive
