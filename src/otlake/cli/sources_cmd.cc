#include "otlake/cli/sources_cmd.h"

#include <rapidjson/document.h>

#include <cstdlib>
#include <iostream>

#include "otlake/cli/args.h"
#include "otlake/cli/http_client.h"
#include "otlake/common/status.h"
#include "otlake/sources/source.h"

namespace otlake::cli {
namespace {

int SourcesUsage(const std::string& msg) {
  std::cerr << "otlake sources: " << msg << "\nTry 'otlake sources --help'.\n";
  return 2;
}

std::string Text(const rapidjson::Value& o, const char* k) {
  if (!o.IsObject() || !o.HasMember(k)) return "-";
  const auto& v = o[k];
  if (v.IsString()) return v.GetString();
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsBool()) return v.GetBool() ? "yes" : "no";
  if (v.IsNull()) return "-";
  if (v.IsArray()) {
    std::string s;
    for (const auto& e : v.GetArray()) s += (s.empty() ? "" : ",") + std::string(e.IsString() ? e.GetString() : "?");
    return s;
  }
  return "?";
}

std::string Shorten(std::string s, size_t n) {
  if (s.size() > n) s = s.substr(0, n - 3) + "...";
  return s;
}

struct Client {
  std::string host, key;
  int port = 4318;
  bool json = false;
  ClientTls tls;

  // Calls the API; prints the error and returns false unless 2xx with a JSON body.
  bool Call(const std::string& method, const std::string& path, const std::string& body,
            rapidjson::Document* d, std::string* raw = nullptr) {
    int code = 0;
    std::string out;
    std::vector<std::pair<std::string, std::string>> headers;
    if (!key.empty()) headers.emplace_back("Authorization", "Bearer " + key);
    if (!body.empty() || method == "POST" || method == "PATCH") headers.emplace_back("Content-Type", "application/json");
    Status st = HttpCall(host, port, tls, method, path, headers, body, 120, &code, &out);
    if (!st.ok()) {
      std::cerr << "otlake sources: " << st.message() << "\n";
      return false;
    }
    if (raw) *raw = out;
    d->Parse(out.c_str());
    if (code / 100 != 2 || d->HasParseError()) {
      std::string msg = out;
      if (!d->HasParseError() && d->IsObject() && d->HasMember("error") && (*d)["error"].IsString()) {
        msg = (*d)["error"].GetString();
      }
      std::cerr << "otlake sources: HTTP " << code << ": " << msg << "\n";
      if (code == 401) std::cerr << "(pass an admin key with --key or OTLAKE_API_KEY)\n";
      return false;
    }
    return true;
  }
};

std::string AddBody(const Args& a) {
  std::string b = "{";
  auto str = [&](const char* field, const std::string& v) {
    if (v.empty()) return;
    b += (b.size() > 1 ? "," : "") + sources::JsonQuote(field) + ":" + sources::JsonQuote(v);
  };
  str("name", a.Get("name"));
  str("bucket", a.Get("bucket"));
  str("description", a.Get("description"));
  str("provider", a.Get("provider"));
  str("region", a.Get("region"));
  str("prefix", a.Get("prefix"));
  str("credential_type", a.Get("credential-type"));
  str("role_arn", a.Get("role-arn"));
  str("endpoint_url", a.Get("endpoint-url"));
  str("access_key_id", a.Get("access-key-id"));
  std::string secret = a.Get("secret-access-key");
  if (secret.empty()) {
    if (const char* e = std::getenv("OTLAKE_SOURCE_SECRET_ACCESS_KEY")) secret = e;
  }
  str("secret_access_key", secret);
  if (!a.Get("application-id").empty()) {
    b += std::string(b.size() > 1 ? "," : "") + "\"application_ids\":[" + sources::JsonQuote(a.Get("application-id")) + "]";
  }
  if (!a.Get("extensions").empty()) {
    std::string list;
    std::string exts = a.Get("extensions");
    size_t pos = 0;
    while (pos <= exts.size()) {
      size_t comma = exts.find(',', pos);
      if (comma == std::string::npos) comma = exts.size();
      if (comma > pos) list += (list.empty() ? "" : ",") + sources::JsonQuote(exts.substr(pos, comma - pos));
      pos = comma + 1;
    }
    b += std::string(b.size() > 1 ? "," : "") + "\"file_extensions\":[" + list + "]";
  }
  if (!a.Get("scan-interval").empty()) {
    const std::string& v = a.Get("scan-interval");
    const bool digits = v.find_first_not_of("0123456789") == std::string::npos;
    b += std::string(b.size() > 1 ? "," : "") + "\"scan_interval_seconds\":" + (digits ? v : sources::JsonQuote(v));
  }
  return b + "}";
}

}  // namespace

std::vector<OptionSpec> SourcesSpecs() {
  std::vector<OptionSpec> specs = {{"I", "instance-id", "ID", "default", "Instance name (a folder under --dir): finds the server's port"},
          {"D", "dir", "DIR", "./otlake_data", "Parent directory of instances"},
          {"H", "host", "HOST", "127.0.0.1", "Server host"},
          {"P", "port", "PORT", "", "Server port (default: the instance's running server)"},
          {"k", "key", "KEY", "", "Admin API key (default: $OTLAKE_API_KEY)"},
          {"", "json", "", "", "Print the API's JSON instead of a table"},
          {"", "name", "NAME", "", "add: unique name (1-255 characters)"},
          {"", "bucket", "BUCKET", "", "add: bucket name (no s3://)"},
          {"", "application-id", "PROJECT", "", "add: the project the rows go to"},
          {"", "prefix", "PREFIX", "", "add: key prefix to scan (default: the whole bucket)"},
          {"", "region", "REGION", "", "add: the bucket's region"},
          {"", "endpoint-url", "URL", "", "add: S3-compatible endpoint (http:// allowed)"},
          {"", "extensions", "LIST", "", "add: comma-separated file extensions (default .json)"},
          {"", "credential-type", "TYPE", "", "add: iam_role (default) or access_key"},
          {"", "access-key-id", "ID", "", "add: with access_key"},
          {"", "secret-access-key", "SECRET", "",
           "add: with access_key (prefer $OTLAKE_SOURCE_SECRET_ACCESS_KEY: arguments are visible in ps)"},
          {"", "role-arn", "ARN", "", "add: IAM role to assume"},
          {"", "scan-interval", "SECONDS", "", "add: seconds between scans (default 60, min 10)"},
          {"", "description", "TEXT", "", "add: up to 1000 characters"},
          {"", "status", "STATUS", "", "files: pending, processing, completed or failed"},
          {"", "limit", "N", "100", "files: page size (1-1000)"},
          {"", "offset", "N", "0", "files: skip this many"}};
  for (auto& s : TlsClientSpecs()) specs.push_back(std::move(s));
  return specs;
}

int RunSources(const Args& a, const std::string& root) {
  const auto& pos = a.positional();
  if (pos.empty()) return SourcesUsage("missing subcommand: list, add, show, files, retry or test");
  const std::string& sub = pos[0];
  Client c;
  c.host = a.Get("host");
  c.json = a.Flag("json");
  c.key = a.Get("key");
  if (c.key.empty()) {
    if (const char* k = std::getenv("OTLAKE_API_KEY")) c.key = k;
  }
  bool server_tls = false;
  std::string server_cert;
  if (a.Has("port")) {
    c.port = std::atoi(a.Get("port").c_str());
    if (c.port <= 0 || c.port > 65535) return SourcesUsage("--port must be 1-65535");
  } else {
    RunningServer running;
    if (!ReadRunningServer(root + "/configs/server.json", &running)) {
      std::cerr << "otlake sources: no running server for " << root << " (start it, or pass --port)\n";
      return 1;
    }
    c.port = running.port;
    server_tls = running.tls;
    server_cert = running.tls_cert;
  }
  c.tls = ClientTlsFor(a, server_tls, server_cert);
  const std::string base = "/v3/ingestion-sources";
  auto need_id = [&](size_t n) { return pos.size() >= n; };
  rapidjson::Document d;
  std::string raw;
  if (sub == "list") {
    if (!c.Call("GET", base + "?limit=1000", "", &d, &raw)) return 1;
    if (c.json) return std::cout << raw << "\n", 0;
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : d["data"]["items"].GetArray()) {
      rows.push_back({Text(s, "id"), Shorten(Text(s, "name"), 32), Text(s, "bucket"), Text(s, "prefix"),
                      Text(s, "application_ids"), Text(s, "scan_interval_seconds"), Text(s, "credential_type")});
    }
    PrintTable({"ID", "NAME", "BUCKET", "PREFIX", "PROJECT", "SCAN_S", "CREDENTIALS"}, rows);
    return 0;
  }
  if (sub == "add") {
    if (!c.Call("POST", base, AddBody(a), &d, &raw)) return 1;
    if (c.json) return std::cout << raw << "\n", 0;
    std::cout << "created source " << Text(d["data"], "id") << " ('" << Text(d["data"], "name") << "')\n";
    return 0;
  }
  if (sub == "show") {
    if (!need_id(2)) return SourcesUsage("show needs a source id");
    if (!c.Call("GET", base + "/" + pos[1], "", &d, &raw)) return 1;
    rapidjson::Document st;
    std::string st_raw;
    if (!c.Call("GET", base + "/" + pos[1] + "/stats", "", &st, &st_raw)) return 1;
    if (c.json) return std::cout << raw << "\n" << st_raw << "\n", 0;
    const auto& s = d["data"];
    std::vector<std::vector<std::string>> rows;
    for (const char* k : {"id", "name", "description", "provider", "region", "bucket", "prefix", "file_extensions",
                          "credential_type", "role_arn", "endpoint_url", "application_ids", "scan_interval_seconds",
                          "has_credentials", "created_at", "updated_at"}) {
      rows.push_back({k, Text(s, k)});
    }
    if (s.HasMember("scan")) {
      rows.push_back({"last_scan_at", Text(s["scan"], "last_scan_at")});
      rows.push_back({"files_seen", Text(s["scan"], "files_seen")});
      rows.push_back({"scan_error", Text(s["scan"], "error")});
    }
    for (const char* k : {"total_files", "pending", "processing", "completed", "failed", "total_spans_ingested",
                          "last_file_completed_at", "last_file_failed_at"}) {
      rows.push_back({k, Text(st["data"], k)});
    }
    PrintTable({"FIELD", "VALUE"}, rows, {false, false});
    return 0;
  }
  if (sub == "files") {
    if (!need_id(2)) return SourcesUsage("files needs a source id");
    std::string q = "?limit=" + a.Get("limit") + "&offset=" + a.Get("offset");
    if (!a.Get("status").empty()) q += "&status=" + a.Get("status");
    if (!c.Call("GET", base + "/" + pos[1] + "/files" + q, "", &d, &raw)) return 1;
    if (c.json) return std::cout << raw << "\n", 0;
    std::vector<std::vector<std::string>> rows;
    for (const auto& f : d["data"]["items"].GetArray()) {
      rows.push_back({Text(f, "id"), Text(f, "status"), Text(f, "spans_count"), Text(f, "retries"),
                      HumanBytes(f["file_size_bytes"].GetInt64()), Text(f, "processed_at"), Text(f, "s3_key"),
                      Shorten(Text(f, "error_message"), 80)});
    }
    PrintTable({"ID", "STATUS", "SPANS", "RETRIES", "SIZE", "PROCESSED", "KEY", "ERROR"}, rows,
               {true, false, true, true, true, false, false, false});
    std::cout << Text(d["data"], "item_count") << " of " << Text(d["data"], "total") << " files\n";
    return 0;
  }
  if (sub == "retry") {
    if (!need_id(2)) return SourcesUsage("retry needs a source id (and optionally a file id)");
    const std::string path = pos.size() >= 3 ? base + "/" + pos[1] + "/files/" + pos[2] + "/retry"
                                             : base + "/" + pos[1] + "/retry-failed";
    if (!c.Call("POST", path, "", &d, &raw)) return 1;
    if (c.json) return std::cout << raw << "\n", 0;
    if (pos.size() >= 3) {
      std::cout << "file " << pos[2] << " is " << Text(d["data"], "status") << " again\n";
    } else {
      std::cout << Text(d["data"], "retried") << " failed file(s) queued again\n";
    }
    return 0;
  }
  if (sub == "test") {
    if (!need_id(2)) return SourcesUsage("test needs a source id");
    if (!c.Call("POST", base + "/" + pos[1] + "/test", "", &d, &raw)) return 1;
    if (c.json) std::cout << raw << "\n";
    const bool ok = Text(d, "status") == "success";
    if (!c.json) {
      if (ok) {
        std::cout << "success: " << Text(d, "files_found") << " file(s) found\n";
      } else {
        std::cout << "error: " << Text(d, "message") << "\n";
      }
    }
    return ok ? 0 : 1;
  }
  return SourcesUsage("unknown subcommand '" + sub + "': use list, add, show, files, retry or test");
}

}  // namespace otlake::cli
