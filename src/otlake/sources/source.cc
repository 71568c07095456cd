#include "otlake/sources/source.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <ctime>
#include <set>

namespace otlake::sources {
namespace {

const std::set<std::string_view> kFields = {
    "name",          "description",       "provider",     "region",
    "bucket",        "prefix",            "file_extensions", "credential_type",
    "role_arn",      "endpoint_url",      "scan_interval_seconds", "application_ids",
    "access_key_id", "secret_access_key", "external_id"};

const std::set<std::string_view> kExtensions = {
    ".json", ".json.gz", ".json.zst", ".jsonl", ".jsonl.gz", ".jsonl.zst",
    ".binpb", ".binpb.gz", ".binpb.zst"};

Status Str(const rapidjson::Value& v, const char* field, size_t max, bool allow_null,
           std::string* out) {
  if (v.IsNull() && allow_null) {
    out->clear();
    return Status::OK();
  }
  if (!v.IsString()) return Status::Invalid("field '", field, "' must be a string");
  if (v.GetStringLength() > max) {
    return Status::Invalid("field '", field, "' must be at most ", max, " characters");
  }
  out->assign(v.GetString(), v.GetStringLength());
  for (unsigned char c : *out) {
    if (c < 0x20) return Status::Invalid("field '", field, "' must not contain control characters");
  }
  return Status::OK();
}

// S3: a-z 0-9 . -; GCS also _; Azure containers a-z 0-9 - only. 3-63, alphanumeric at both ends.
bool ValidBucket(const std::string& b, const std::string& provider) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    (c == '.' && provider != "azure") || (c == '_' && provider == "gcs");
    if (!ok) return false;
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return alnum(b.front()) && alnum(b.back());
}

// The Azure storage account: access_key_id, else <account> of https://<account>.blob.core.windows.net.
std::string AzureAccount(const Source& s) {
  if (!s.access_key_id.empty()) return s.access_key_id;
  const size_t host = s.endpoint_url.find("://");
  if (host == std::string::npos) return "";
  const size_t dot = s.endpoint_url.find(".blob.core.windows.net", host + 3);
  return dot == std::string::npos ? "" : s.endpoint_url.substr(host + 3, dot - host - 3);
}

}  // namespace

std::string JsonQuote(std::string_view s) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(sb.GetString(), sb.GetSize());
}

bool IsValidProject(std::string_view id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

std::string IsoSeconds(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool MatchesExtension(std::string_view key, const std::vector<std::string>& extensions) {
  for (const auto& e : extensions) {
    if (key.size() > e.size() && key.substr(key.size() - e.size()) == e) return true;
  }
  return false;
}

Status ApplySourceJson(std::string_view body, bool partial, Source* s) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError()) {
    return Status::Invalid("request body is not valid JSON: ",
                           rapidjson::GetParseError_En(d.GetParseError()), " at offset ",
                           d.GetErrorOffset());
  }
  if (!d.IsObject()) return Status::Invalid("request body must be a JSON object");
  for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it) {
    const std::string f(it->name.GetString(), it->name.GetStringLength());
    if (!kFields.count(f)) {
      return Status::Invalid("unknown field '", f.substr(0, 64), "'");
    }
  }
  if (!partial) {
    for (const char* f : {"name", "bucket", "application_ids"}) {
      if (!d.HasMember(f) || d[f].IsNull()) return Status::Invalid("field '", f, "' is required");
    }
  }
  auto has = [&](const char* f) { return d.HasMember(f); };
  if (has("name")) {
    OTLAKE_RETURN_NOT_OK(Str(d["name"], "name", 255, false, &s->name));
    if (s->name.empty()) return Status::Invalid("field 'name' must be 1-255 characters");
  }
  if (has("description")) OTLAKE_RETURN_NOT_OK(Str(d["description"], "description", 1000, true, &s->description));
  if (has("provider")) {
    OTLAKE_RETURN_NOT_OK(Str(d["provider"], "provider", 16, false, &s->provider));
    if (s->provider != "s3" && s->provider != "gcs" && s->provider != "azure") {
      return Status::Invalid("field 'provider': unsupported provider '", s->provider.substr(0, 16),
                             "' (use s3, gcs or azure)");
    }
  }
  if (has("region")) {
    OTLAKE_RETURN_NOT_OK(Str(d["region"], "region", 64, true, &s->region));
    for (char c : s->region) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
        return Status::Invalid("field 'region' must look like 'us-west-2'");
      }
    }
  }
  if (has("bucket")) {
    OTLAKE_RETURN_NOT_OK(Str(d["bucket"], "bucket", 63, false, &s->bucket));
    for (const char* scheme : {"s3://", "gs://", "az://", "abfs://", "abfss://", "https://", "http://"}) {
      if (s->bucket.rfind(scheme, 0) == 0) {
        return Status::Invalid("field 'bucket' must be the bucket name without '", scheme, "'");
      }
    }
  }
  if (has("prefix")) {
    OTLAKE_RETURN_NOT_OK(Str(d["prefix"], "prefix", 1024, true, &s->prefix));
    if (!s->prefix.empty() && s->prefix.front() == '/') {
      return Status::Invalid("field 'prefix' must not start with '/'");
    }
  }
  if (has("file_extensions")) {
    const auto& v = d["file_extensions"];
    if (!v.IsArray() || v.Empty()) {
      return Status::Invalid("field 'file_extensions' must be a non-empty list of strings");
    }
    s->file_extensions.clear();
    for (const auto& e : v.GetArray()) {
      if (!e.IsString()) return Status::Invalid("field 'file_extensions' must be a list of strings");
      std::string ext(e.GetString(), e.GetStringLength());
      if (!kExtensions.count(ext)) {
        return Status::Invalid("field 'file_extensions': unsupported extension '", ext.substr(0, 32),
                               "' (use .json, .jsonl or .binpb, each optionally with .gz or .zst)");
      }
      s->file_extensions.push_back(std::move(ext));
    }
  }
  if (has("credential_type")) {
    OTLAKE_RETURN_NOT_OK(Str(d["credential_type"], "credential_type", 32, false, &s->credential_type));
    if (s->credential_type != "iam_role" && s->credential_type != "access_key" &&
        s->credential_type != "anonymous") {
      return Status::Invalid("field 'credential_type' must be iam_role, access_key or anonymous");
    }
  }
  if (has("role_arn")) {
    OTLAKE_RETURN_NOT_OK(Str(d["role_arn"], "role_arn", 2048, true, &s->role_arn));
    if (!s->role_arn.empty() && s->role_arn.rfind("arn:", 0) != 0) {
      return Status::Invalid("field 'role_arn' must be an IAM role ARN (arn:aws:iam::...:role/...)");
    }
  }
  if (has("endpoint_url")) {
    OTLAKE_RETURN_NOT_OK(Str(d["endpoint_url"], "endpoint_url", 2048, true, &s->endpoint_url));
    if (!s->endpoint_url.empty() && s->endpoint_url.rfind("http://", 0) != 0 &&
        s->endpoint_url.rfind("https://", 0) != 0) {
      return Status::Invalid("field 'endpoint_url' must start with http:// or https://");
    }
  }
  if (has("scan_interval_seconds")) {
    const auto& v = d["scan_interval_seconds"];
    if (!v.IsInt64()) return Status::Invalid("field 'scan_interval_seconds' must be an integer");
    s->scan_interval_seconds = v.GetInt64();
    if (s->scan_interval_seconds < 10 || s->scan_interval_seconds > 86400 * 7) {
      return Status::Invalid("field 'scan_interval_seconds' must be between 10 and 604800");
    }
  }
  if (has("application_ids")) {
    const auto& v = d["application_ids"];
    if (!v.IsArray() || v.Size() != 1 || !v[0].IsString()) {
      return Status::Invalid("field 'application_ids' must be a list of exactly one application id");
    }
    std::string id(v[0].GetString(), v[0].GetStringLength());
    if (!IsValidProject(id)) {
      return Status::Invalid("field 'application_ids': '", id.substr(0, 64),
                             "' is not a valid project id (1-128 of A-Z a-z 0-9 . _ -)");
    }
    s->application_ids = {std::move(id)};
  }
  if (has("access_key_id")) OTLAKE_RETURN_NOT_OK(Str(d["access_key_id"], "access_key_id", 128, true, &s->access_key_id));
  if (has("secret_access_key")) {
    OTLAKE_RETURN_NOT_OK(Str(d["secret_access_key"], "secret_access_key", 256, true, &s->secret_access_key));
  }
  if (has("external_id")) OTLAKE_RETURN_NOT_OK(Str(d["external_id"], "external_id", 1224, true, &s->external_id));
  return Status::OK();
}

Status ValidateSource(const Source& s) {
  // Bucket names per provider (checked here: a PATCH may change the provider alone).
  if (!ValidBucket(s.bucket, s.provider)) {
    if (s.provider == "azure") {
      return Status::Invalid("field 'bucket' must be an Azure container name (3-63 of a-z 0-9 -)");
    }
    if (s.provider == "gcs") {
      return Status::Invalid("field 'bucket' must be a GCS bucket name (3-63 of a-z 0-9 . - _)");
    }
    return Status::Invalid("field 'bucket' must be an S3 bucket name (3-63 of a-z 0-9 . -)");
  }
  if (s.provider != "s3") {
    if (!s.role_arn.empty()) return Status::Invalid("field 'role_arn' is only used with provider s3");
    if (!s.external_id.empty()) return Status::Invalid("field 'external_id' is only used with provider s3");
  }
  if (s.provider == "gcs" && s.credential_type == "access_key") {
    // The secret is a service-account JSON key; there is no key id.
    if (s.secret_access_key.empty() || s.secret_access_key.front() != '{') {
      return Status::Invalid("field 'secret_access_key' must be a service-account JSON key for provider gcs "
                             "with credential_type access_key");
    }
    return Status::OK();
  }
  if (s.provider == "azure" && AzureAccount(s).empty()) {
    return Status::Invalid("field 'access_key_id' (the storage account name) is required for provider azure "
                           "unless endpoint_url is https://<account>.blob.core.windows.net");
  }
  if (s.credential_type == "access_key") {
    if (s.access_key_id.empty()) {
      return Status::Invalid("field 'access_key_id' is required when credential_type is access_key");
    }
    if (s.secret_access_key.empty()) {
      return Status::Invalid("field 'secret_access_key' is required when credential_type is access_key");
    }
  }
  if (!s.external_id.empty() && s.role_arn.empty()) {
    return Status::Invalid("field 'external_id' needs 'role_arn'");
  }
  if (s.credential_type != "iam_role" && !s.role_arn.empty()) {
    return Status::Invalid("field 'role_arn' is only used with credential_type iam_role");
  }
  return Status::OK();
}

std::string SourceJson(const Source& s) {
  auto opt = [](const std::string& v) { return v.empty() ? std::string("null") : JsonQuote(v); };
  std::string out = "{\"id\":" + JsonQuote(s.id) + ",\"name\":" + JsonQuote(s.name) +
                    ",\"description\":" + opt(s.description) + ",\"provider\":" + JsonQuote(s.provider) +
                    ",\"region\":" + opt(s.region) + ",\"bucket\":" + JsonQuote(s.bucket) +
                    ",\"prefix\":" + JsonQuote(s.prefix) + ",\"scan_interval_seconds\":" +
                    std::to_string(s.scan_interval_seconds) + ",\"file_extensions\":[";
  for (size_t i = 0; i < s.file_extensions.size(); ++i) {
    out += (i ? "," : "") + JsonQuote(s.file_extensions[i]);
  }
  out += "],\"credential_type\":" + JsonQuote(s.credential_type) + ",\"role_arn\":" + opt(s.role_arn) +
         ",\"endpoint_url\":" + opt(s.endpoint_url) + ",\"application_ids\":[";
  for (size_t i = 0; i < s.application_ids.size(); ++i) {
    out += (i ? "," : "") + JsonQuote(s.application_ids[i]);
  }
  out += std::string("],\"has_credentials\":") +
         (s.access_key_id.empty() && s.secret_access_key.empty() ? "false" : "true") +
         ",\"created_at\":" + JsonQuote(IsoSeconds(s.created_at_ms)) +
         ",\"updated_at\":" + JsonQuote(IsoSeconds(s.updated_at_ms)) + "}";
  return out;
}

}  // namespace otlake::sources
