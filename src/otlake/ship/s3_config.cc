#include "otlake/ship/s3_config.h"

#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace otlake::ship {
namespace {

struct Var {
  const char* what;                 // for messages
  std::vector<const char*> names;   // first wins
  const char* flag;                 // the start flag that overrides it ("" none)
  bool required;
  bool secret;
  bool empty_ok;
};

const std::vector<Var>& Vars() {
  static const std::vector<Var> vars = {
      {"bucket", {"S3_BUCKET"}, "--s3-bucket", true, false, false},
      {"access key id", {"AWS_ACCESS_KEY_ID", "S3_ACCESS_KEY_ID"}, "--s3-access-key-id", true, false, false},
      {"secret access key", {"AWS_SECRET_ACCESS_KEY", "S3_SECRET_KEY", "S3_SECRET_ACCESS_KEY"}, "", true, true, false},
      {"endpoint", {"AWS_ENDPOINT_URL", "S3_URL"}, "--s3-endpoint", true, false, false},
      {"region", {"AWS_REGION", "S3_REGION"}, "--s3-region", false, false, true},
      {"prefix", {"S3_PREFIX"}, "--s3-prefix", false, false, false},
      {"session token", {"AWS_SESSION_TOKEN"}, "", false, true, false},
  };
  return vars;
}

std::string Trim(std::string s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

std::string Names(const Var& v) {
  std::string out = v.names[0];
  if (v.names.size() > 1) {
    out += " (or ";
    for (size_t i = 1; i < v.names.size(); ++i) out += std::string(i > 1 ? ", " : "") + v.names[i];
    out += ")";
  }
  return out;
}

}  // namespace

std::string S3Config::scheme() const {
  auto p = endpoint_url.find("://");
  return p == std::string::npos ? "https" : endpoint_url.substr(0, p);
}

std::string S3Config::endpoint_host() const {
  auto p = endpoint_url.find("://");
  std::string host = p == std::string::npos ? endpoint_url : endpoint_url.substr(p + 3);
  while (!host.empty() && host.back() == '/') host.pop_back();
  return host;
}

std::string S3Config::DaysRoot(const std::string& instance_id) const {
  return bucket + "/" + (prefix.empty() ? "" : prefix + "/") + instance_id + "/days";
}

std::string S3Config::DaysUri(const std::string& instance_id) const {
  return "s3://" + DaysRoot(instance_id);
}

std::string S3Settings::Describe(const std::string& instance_id) const {
  if (!config) return problem.empty() ? "S3 not configured (local-only)" : problem;
  const S3Config& c = *config;
  std::string key = c.access_key_id.size() > 4 ? "…" + c.access_key_id.substr(c.access_key_id.size() - 4)
                                               : std::string("…");
  // An endpoint written as scheme://user:password@host shows without its user part.
  std::string endpoint = c.endpoint_url;
  if (const size_t scheme = endpoint.find("://"); scheme != std::string::npos) {
    const size_t at = endpoint.find('@', scheme + 3), slash = endpoint.find('/', scheme + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      endpoint = endpoint.substr(0, scheme + 3) + "…@" + endpoint.substr(at + 1);
    }
  }
  return "shipping to " + c.DaysUri(instance_id) + " via " + endpoint +
         (c.region.empty() ? "" : " (region " + c.region + ")") + ", access key " + key +
         (c.session_token.empty() ? "" : " with session token");
}

std::string ConfigFilePath(const std::string& instance_root) {
  return instance_root + "/configs/otlake.env";
}

Result<std::map<std::string, std::string>> ReadConfigFile(const std::string& path,
                                                          std::vector<std::string>* warnings) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  if (!in) return out;
  std::string line;
  int lineno = 0;
  bool has_secret = false;
  while (std::getline(in, line)) {
    ++lineno;
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = Trim(line.substr(7));
    const size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::Invalid(path, ":", lineno, ": expected KEY=VALUE");
    }
    std::string key = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    for (char ch : key) {
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')) {
        return Status::Invalid(path, ":", lineno, ": '", key, "' is not a variable name");
      }
    }
    if (value.size() >= 2 && (value[0] == '"' || value[0] == '\'') && value.back() == value[0]) {
      value = value.substr(1, value.size() - 2);
    }
    for (const Var& v : Vars()) {
      for (const char* n : v.names) has_secret |= v.secret && key == n && !value.empty();
    }
    out[key] = value;
  }
  struct stat st;
  if (has_secret && warnings != nullptr && ::stat(path.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
    warnings->push_back(path + " holds a secret and is readable by other users; chmod 600 it");
  }
  return out;
}

S3Settings ResolveS3Settings(const std::function<std::optional<std::string>(const char*)>& env,
                             const std::map<std::string, std::string>& file,
                             const std::map<std::string, std::string>& flags) {
  S3Settings s;
  S3Config c;
  std::vector<std::string> missing;
  for (const Var& v : Vars()) {
    std::optional<std::string> value;
    std::string source;
    auto usable = [&](const std::optional<std::string>& x) { return x && (v.empty_ok || !x->empty()); };
    // Flags, then environment, then file; within a source the first name wins.
    for (const char* n : v.names) {
      auto it = flags.find(n);
      if (!value && it != flags.end() && usable(it->second)) {
        value = it->second;
        source = std::string("flag ") + (v.flag[0] ? v.flag : n);
      }
    }
    for (const char* n : v.names) {
      if (value) break;
      auto e = env(n);
      if (usable(e)) {
        value = e;
        source = std::string("env ") + n;
      }
    }
    for (const char* n : v.names) {
      if (value) break;
      auto it = file.find(n);
      if (it != file.end() && usable(it->second)) {
        value = it->second;
        source = std::string("file ") + n;
      }
    }
    // The region alone is not "some S3 configuration" (AWS tools set it for their own reasons).
    if (value && !v.empty_ok) s.any_set = true;
    if (value) s.sources.push_back(source);
    if (!value && v.required) missing.push_back(Names(v));
    const std::string val = value.value_or("");
    const std::string what = v.what;
    if (what == "bucket") c.bucket = val;
    else if (what == "access key id") c.access_key_id = val;
    else if (what == "secret access key") c.secret_access_key = val;
    else if (what == "endpoint") c.endpoint_url = val;
    else if (what == "region") c.region = val;
    else if (what == "prefix") c.prefix = val;
    else if (what == "session token") c.session_token = val;
  }
  while (!c.prefix.empty() && c.prefix.front() == '/') c.prefix.erase(0, 1);
  while (!c.prefix.empty() && c.prefix.back() == '/') c.prefix.pop_back();
  if (!s.any_set) return s;  // local-only
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == missing.size() ? " and " : ", ") + missing[i];
    }
    s.problem = "S3 configuration is incomplete: " + list + (missing.size() > 1 ? " are" : " is") +
                " not set; shipping is disabled";
    return s;
  }
  const std::string scheme = c.scheme();
  if (c.endpoint_url.find("://") != std::string::npos && scheme != "http" && scheme != "https") {
    s.problem = "S3 endpoint URL must start with http:// or https://; shipping is disabled";
    return s;
  }
  if (c.endpoint_host().empty()) {
    s.problem = "S3 endpoint URL has no host; shipping is disabled";
    return s;
  }
  if (c.bucket.find('/') != std::string::npos) {
    s.problem = "S3_BUCKET must be a bucket name without '/'; put the path in S3_PREFIX; shipping is disabled";
    return s;
  }
  s.config = std::move(c);
  return s;
}

S3Settings LoadS3Settings(const std::string& instance_root,
                          const std::map<std::string, std::string>& flags) {
  std::vector<std::string> warnings;
  auto file = ReadConfigFile(ConfigFilePath(instance_root), &warnings);
  auto env = [](const char* n) -> std::optional<std::string> {
    const char* v = std::getenv(n);
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  S3Settings s = ResolveS3Settings(env, file.ok() ? *file : std::map<std::string, std::string>{}, flags);
  s.warnings = std::move(warnings);
  if (!file.ok()) {
    s.config.reset();
    s.problem = "config file unreadable (" + file.status().message() + "); shipping is disabled";
  }
  return s;
}

}  // namespace otlake::ship
