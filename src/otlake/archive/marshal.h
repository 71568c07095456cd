// One archive object's bytes as the Collector's awss3exporter writes them (docs/archive.md,
// "Archive (export)"): the marshaler's encoding of one Export*ServiceRequest holding a whole
// batch, then the object compression.
//
// Contract:
// - Input: the protobuf Export*ServiceRequest bodies of one signal concatenated (protobuf
//   concatenation of a message with only a repeated field 1 is the request holding every
//   resource of each, in order). otlp_proto writes exactly those bytes; otlp_json writes them as
//   one OTLP/JSON document (otlp::OtlpProtobufToJson), never newline-delimited.
// - Compression: gzip (one member) or zstd (one frame), at `level` (0: kDefaultGzipLevel /
//   kDefaultZstdLevel, the fast levels: measured in bench/README.md "Archive writer", zstd 3 -- the
//   exporter's Go default -- doubles the writer's CPU for a 2% smaller object). The exporter sets
//   Content-Encoding to the compression name for these marshalers (ContentEncoding below).
// - Keys: ArchiveUuidV7 makes the `uuidv7` unique part deterministically from the batch (its
//   time and WAL LSN range and the instance's salt), so an object written again after a crash
//   gets the same key and overwrites itself instead of leaving a duplicate.
// - Pure functions, thread-safe; the one exception is PutObject, the upload both the archive
//   writer and backfill use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "otlake/archive/layout.h"
#include "otlake/common/status.h"

namespace arrow {
class KeyValueMetadata;
namespace fs {
class FileSystem;
}  // namespace fs
}  // namespace arrow

namespace otlake::archive {

inline constexpr int kDefaultGzipLevel = 1;
inline constexpr int kDefaultZstdLevel = 1;

/// The object body for `signal`: `proto_requests` (concatenated protobuf requests) encoded with
/// `marshaler` (kOtlpJson or kOtlpProto) and compressed. otlp_proto without compression is
/// `proto_requests` itself (no copy); any other body is kept in *storage. Invalid if the protobuf
/// is malformed.
Result<std::string_view> MarshalObject(Signal signal, std::string_view proto_requests,
                                       Marshaler marshaler, Compression compression, int level,
                                       std::string* storage);

/// Writes `body` as the object at `path` ("bucket/key") of `fs` with `metadata` (the
/// Content-Encoding; may be null), first creating its directory when `create_dirs` (a local
/// directory as the target). The body goes to the stream as a buffer, which arrow::fs uploads
/// without copying when it is a part or more; it is not kept past the return. The error is the
/// file system's, without the path.
Status PutObject(arrow::fs::FileSystem& fs, const std::string& path,
                 const std::shared_ptr<const arrow::KeyValueMetadata>& metadata, std::string_view body,
                 bool create_dirs);

/// Compresses `input` (kNone: a copy). The calling thread keeps a buffer of the largest
/// worst-case compressed size it has asked for (about the largest input) for its next calls.
Result<std::string> CompressObject(std::string_view input, Compression compression, int level = 0);

/// The Content-Encoding the exporter sets: "gzip", "zstd", or "" (none: header not set).
std::string_view ContentEncoding(Compression compression);

/// An RFC 9562 UUIDv7 string (36 characters, lowercase): 48-bit `unix_ms`, version 7, variant
/// 0b10, and 74 "random" bits derived from (salt, signal, first_lsn, last_lsn) by a 64-bit mixer,
/// so the same batch always gets the same UUID and different batches practically never collide.
std::string ArchiveUuidV7(int64_t unix_ms, uint64_t salt, Signal signal, int64_t first_lsn,
                          int64_t last_lsn);

}  // namespace otlake::archive
