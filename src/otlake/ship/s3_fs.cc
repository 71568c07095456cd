#include "otlake/ship/s3_fs.h"

#include <arrow/filesystem/s3fs.h>

#include <cstdlib>
#include <mutex>

namespace otlake::ship {
namespace {

Status InitOnce() {
  static std::once_flag once;
  static Status status;
  std::call_once(once, [] {
    // Credentials are always explicit: never probe 169.254.169.254 (20 tries, ~1 s each).
    ::setenv("AWS_EC2_METADATA_DISABLED", "true", /*overwrite=*/0);
    arrow::fs::S3GlobalOptions g = arrow::fs::S3GlobalOptions::Defaults();
    // Defaults() honours ARROW_S3_LOG_LEVEL; at debug/trace the AWS SDK writes request headers
    // (session tokens included) to aws_sdk_*.log, and at error level it prints harmless probes
    // (EC2 DMI files) to stdout. Fatal only, whatever the environment says.
    g.log_level = arrow::fs::S3LogLevel::Fatal;
    status = arrow::fs::InitializeS3(g);
  });
  return status;
}

}  // namespace

void ShutdownS3() {
  // From an atexit handler this races the AWS SDK's own teardown (a robust-mutex abort was
  // seen), so main calls it once every S3 object is gone.
  if (arrow::fs::IsS3Initialized() && !arrow::fs::IsS3Finalized()) (void)arrow::fs::FinalizeS3();
}

Result<std::shared_ptr<arrow::fs::FileSystem>> MakeS3FileSystem(const S3Config& c,
                                                                const S3FsOptions& o) {
  OTLAKE_RETURN_NOT_OK(InitOnce());
  arrow::fs::S3Options opts =
      arrow::fs::S3Options::FromAccessKey(c.access_key_id, c.secret_access_key, c.session_token);
  opts.region = c.region.empty() ? "us-east-1" : c.region;
  const std::string host = c.endpoint_host();
  // The AWS global endpoint with a region: let the SDK use the region's own endpoint (and
  // virtual-hosted addressing) instead of a redirect. Anything else is an override, path-style.
  if (!(host == "s3.amazonaws.com" && !c.region.empty())) {
    opts.endpoint_override = host;
    opts.scheme = c.scheme();
  }
  if (o.connect_timeout_s > 0) opts.connect_timeout = o.connect_timeout_s;
  if (o.request_timeout_s > 0) opts.request_timeout = o.request_timeout_s;
  opts.retry_strategy = arrow::fs::S3RetryStrategy::GetAwsStandardRetryStrategy(o.sdk_max_attempts);
  // Small files go up with one PutObject; large ones as multipart uploads.
  opts.allow_delayed_open = true;
  opts.allow_bucket_creation = false;
  opts.allow_bucket_deletion = false;
  OTLAKE_ASSIGN_OR_RAISE(auto fs, arrow::fs::S3FileSystem::Make(opts));
  return std::shared_ptr<arrow::fs::FileSystem>(std::move(fs));
}

Status CheckS3Access(arrow::fs::FileSystem* fs, const S3Config& c) {
  auto info = fs->GetFileInfo(c.bucket);
  if (!info.ok()) {
    return Status::IOError("cannot reach bucket '", c.bucket, "' at ", c.endpoint_url, ": ",
                           info.status().message());
  }
  if (info->type() == arrow::fs::FileType::NotFound) {
    return Status::IOError("bucket '", c.bucket, "' does not exist at ", c.endpoint_url);
  }
  return Status::OK();
}

}  // namespace otlake::ship
