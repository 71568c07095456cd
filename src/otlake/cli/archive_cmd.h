// The archive writer's settings on `otlake start` (named like the Collector awss3exporter's
// `s3uploader` block and `marshaler`), its life in the server, and `otlake archive status`.
// docs/archive.md ("Archive (export)") lists every setting with its Collector name.
//
// Each setting is a flag (--archive-s3-bucket ...) or a variable of the same name in upper case
// with '_' (ARCHIVE_S3_BUCKET ...) in the environment or the instance's configs/otlake.env:
// flags over environment over file, as the S3 settings of docs/s3.md. Credentials are the
// docs/s3.md ones (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, env or file).
// The archive is on when an s3_bucket is set.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "otlake/cli/args.h"
#include "otlake/common/status.h"

namespace otlake::archive {
class ArchiveWriter;
struct ArchiveWriterOptions;
}
namespace otlake::ingest {
class Ingestor;
}

namespace otlake::cli {

/// The --archive-* flags of `otlake start`.
std::vector<OptionSpec> ArchiveStartSpecs();

/// The archive of a running server: configured before the ingestor opens (so WAL recovery keeps
/// the segments it still needs), started once the ingestor is open.
class ServerArchive {
 public:
  /// Reads the settings. Returns true with *out null when the archive is off; false with
  /// *error naming the setting (exit 2) when a setting is bad or credentials are incomplete.
  static bool Configure(const Args& a, const std::string& instance_root,
                        std::unique_ptr<ServerArchive>* out, std::string* error);
  ~ServerArchive();

  /// For ingest::IngestOptions::retain_from: valid before Start (from the saved state).
  std::function<int64_t()> RetainFrom();
  /// Opens the writer on `ingestor` (not owned; outlives this until Stop) and starts its thread.
  Status Start(ingest::Ingestor* ingestor);
  /// Stops the thread and flushes what waits (one attempt). Before the ingestor stops.
  void Stop();
  std::string StatusJson() const;
  std::string MetricsText() const;

 private:
  ServerArchive();
  std::unique_ptr<archive::ArchiveWriterOptions> options_;
  std::unique_ptr<archive::ArchiveWriter> writer_;
  std::atomic<archive::ArchiveWriter*> live_{nullptr};
  int64_t initial_retain_ = 0;
};

/// `otlake archive status [--json]`: the archive state of an instance (read from its state file;
/// the server may be stopped). Exit 0, 1 no archive state, 2 usage.
std::vector<OptionSpec> ArchiveCmdSpecs();
int RunArchiveCommand(const Args& a, const std::string& instance_root);

}  // namespace otlake::cli
