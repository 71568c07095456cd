// The S3 filesystem for shipped days: arrow::fs::S3FileSystem made from an S3Config, with the
// toolchain's pitfalls handled once here (toolchain.md): S3 is initialised once per process and
// finalised by ShutdownS3() before exit, EC2 instance-metadata probing is disabled (credentials are always explicit),
// the AWS SDK's own retries are bounded, http:// endpoints and path-style addressing work.
// Only s3_fs.cc includes Arrow's S3 header.
#pragma once

#include <memory>
#include <string>

#include "otlake/common/status.h"
#include "otlake/ship/s3_config.h"

namespace arrow::fs {
class FileSystem;
}

namespace otlake::ship {

struct S3FsOptions {
  /// Attempts per request inside the AWS SDK (its standard retry strategy with backoff); the
  /// shipper retries whole files on top of this.
  int sdk_max_attempts = 3;
  /// Seconds to connect; <= 0 keeps the SDK default.
  double connect_timeout_s = 5;
  /// Seconds without progress on a request before it fails; <= 0 keeps the SDK default.
  double request_timeout_s = 10;
};

/// Makes the filesystem. Paths on it are "<bucket>/<key>" (S3Config::DaysRoot). Fails only for
/// a configuration Arrow rejects; an unreachable endpoint or wrong credentials show up on first use.
Result<std::shared_ptr<arrow::fs::FileSystem>> MakeS3FileSystem(const S3Config& config,
                                                                const S3FsOptions& options = {});

/// Finalises the AWS SDK if it was initialised (toolchain.md pitfall 2). Call once before the
/// process exits, after every S3 filesystem is destroyed; main() does.
void ShutdownS3();

/// Checks that the bucket exists and the credentials may list it; the error says which.
Status CheckS3Access(arrow::fs::FileSystem* fs, const S3Config& config);

}  // namespace otlake::ship
