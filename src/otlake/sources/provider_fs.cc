#include "otlake/sources/provider_fs.h"

#include <arrow/filesystem/azurefs.h>
#include <arrow/filesystem/gcsfs.h>
#include <arrow/filesystem/s3fs.h>

#include "otlake/ship/s3_config.h"
#include "otlake/ship/s3_fs.h"

namespace otlake::sources {
namespace {

// "http://host:port/..." -> {"http", "host:port"}.
std::pair<std::string, std::string> SchemeAndAuthority(const std::string& url) {
  const size_t sep = url.find("://");
  if (sep == std::string::npos) return {"https", url};
  std::string rest = url.substr(sep + 3);
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) rest.resize(slash);
  return {url.substr(0, sep), rest};
}

Result<std::shared_ptr<arrow::fs::FileSystem>> MakeS3(const Source& s) {
  ship::S3Config c;
  c.bucket = s.bucket;
  c.region = s.region;
  c.endpoint_url = s.endpoint_url.empty() ? "https://s3.amazonaws.com" : s.endpoint_url;
  c.access_key_id = s.access_key_id;
  c.secret_access_key = s.secret_access_key;
  ship::S3FsOptions fo;
  fo.sdk_max_attempts = 2;
  // ship::MakeS3FileSystem initialises the AWS SDK once for the process (quietly).
  OTLAKE_ASSIGN_OR_RAISE(auto fs, ship::MakeS3FileSystem(c, fo));
  if (s.credential_type == "access_key") return fs;
  // The default credential chain (environment, profile), STS AssumeRole with role_arn (and
  // external_id), or anonymous.
  arrow::fs::S3Options o;
  if (s.credential_type == "anonymous") {
    o = arrow::fs::S3Options::Anonymous();
  } else if (s.role_arn.empty()) {
    o = arrow::fs::S3Options::Defaults();
  } else {
    o = arrow::fs::S3Options::FromAssumeRole(s.role_arn, "otlake-sources", s.external_id);
  }
  o.region = s.region.empty() ? "us-east-1" : s.region;
  const std::string host = c.endpoint_host();
  if (!(host == "s3.amazonaws.com" && !s.region.empty())) {
    o.endpoint_override = host;
    o.scheme = c.scheme();
  }
  o.connect_timeout = 5;
  o.request_timeout = 10;
  o.retry_strategy = arrow::fs::S3RetryStrategy::GetAwsStandardRetryStrategy(2);
  o.allow_bucket_creation = false;
  o.allow_bucket_deletion = false;
  OTLAKE_ASSIGN_OR_RAISE(auto s3, arrow::fs::S3FileSystem::Make(o));
  return std::shared_ptr<arrow::fs::FileSystem>(std::move(s3));
}

Result<std::shared_ptr<arrow::fs::FileSystem>> MakeGcs(const Source& s) {
  arrow::fs::GcsOptions o;
  if (s.credential_type == "anonymous") {
    o = arrow::fs::GcsOptions::Anonymous();
  } else if (s.credential_type == "access_key") {
    o = arrow::fs::GcsOptions::FromServiceAccountCredentials(s.secret_access_key);
  } else {
    o = arrow::fs::GcsOptions::Defaults();  // Application Default Credentials
  }
  if (!s.endpoint_url.empty()) {
    auto [scheme, authority] = SchemeAndAuthority(s.endpoint_url);
    o.scheme = scheme;
    o.endpoint_override = authority;
  }
  o.retry_limit_seconds = 10;  // bounded: the connector retries files itself
  OTLAKE_ASSIGN_OR_RAISE(auto fs, arrow::fs::GcsFileSystem::Make(o));
  return std::shared_ptr<arrow::fs::FileSystem>(std::move(fs));
}

Result<std::shared_ptr<arrow::fs::FileSystem>> MakeAzure(const Source& s) {
  arrow::fs::AzureOptions o;
  o.account_name = AzureAccountName(s);
  if (!s.endpoint_url.empty()) {
    auto [scheme, authority] = SchemeAndAuthority(s.endpoint_url);
    const std::string suffix = ".blob.core.windows.net";
    if (authority.size() > suffix.size() &&
        authority.compare(authority.size() - suffix.size(), suffix.size(), suffix) == 0) {
      o.blob_storage_authority = suffix;  // the account is the host's first label
      o.dfs_storage_authority = ".dfs.core.windows.net";
    } else {
      // An emulator or proxy: the account is the first path segment (http://host:port/account).
      o.blob_storage_authority = o.dfs_storage_authority = authority;
    }
    o.blob_storage_scheme = o.dfs_storage_scheme = scheme;
  }
  Status st;
  if (s.credential_type == "access_key") {
    st = o.ConfigureAccountKeyCredential(s.secret_access_key);
  } else if (s.credential_type == "anonymous") {
    st = o.ConfigureAnonymousCredential();
  } else {
    st = o.ConfigureDefaultCredential();  // managed identity, workload identity, environment, CLI
  }
  OTLAKE_RETURN_NOT_OK(st);
  OTLAKE_ASSIGN_OR_RAISE(auto fs, arrow::fs::AzureFileSystem::Make(o));
  return std::shared_ptr<arrow::fs::FileSystem>(std::move(fs));
}

}  // namespace

std::string AzureAccountName(const Source& s) {
  if (!s.access_key_id.empty()) return s.access_key_id;
  const std::string authority = SchemeAndAuthority(s.endpoint_url).second;
  const size_t dot = authority.find(".blob.core.windows.net");
  return dot == std::string::npos || dot == 0 ? "" : authority.substr(0, dot);
}

Result<std::shared_ptr<arrow::fs::FileSystem>> MakeSourceFileSystem(const Source& s) {
  if (s.provider == "gcs") return MakeGcs(s);
  if (s.provider == "azure") return MakeAzure(s);
  return MakeS3(s);
}

}  // namespace otlake::sources
