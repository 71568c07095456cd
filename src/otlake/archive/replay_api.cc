#include "otlake/archive/replay_api.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <shared_mutex>

#include "otlake/archive/replay_service.h"
#include "otlake/common/log.h"

namespace otlake::archive {
namespace {

using server::HttpRequest;
using server::HttpResponse;

std::shared_mutex g_mu;
ReplayService* g_service = nullptr;  // GUARDED_BY(g_mu)

constexpr std::string_view kRoot = "/api/replay";

std::string Quote(std::string_view s) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return sb.GetString();
}

void Fail(HttpResponse* res, int status, std::string_view message) {
  res->status = status;
  res->content_type = "application/json";
  res->body = "{\"error\":" + Quote(message) + ",\"status\":" + std::to_string(status) + "}";
  if (status >= 500) OTLAKE_LOG(WARN) << "replay api: " << status << " " << message;
}

void FailStatus(HttpResponse* res, const Status& st) {
  if (st.IsInvalid()) return Fail(res, 400, st.message());
  if (st.IsKeyError()) return Fail(res, 404, st.message());
  if (st.IsCapacityError()) {
    res->headers.emplace_back("Retry-After", "10");
    return Fail(res, 429, st.message());
  }
  if (st.IsIOError()) return Fail(res, 502, "cannot read the source: " + st.message());
  Fail(res, 500, st.message());
}

// The job id of /api/replay/{id}; "" for /api/replay.
std::string JobId(std::string_view path) {
  if (path.size() <= kRoot.size() + 1) return "";
  return std::string(path.substr(kRoot.size() + 1));
}

}  // namespace

bool IsReplayPath(std::string_view path) {
  return path == kRoot || (path.size() > kRoot.size() && path.substr(0, kRoot.size() + 1) == "/api/replay/");
}

bool IsReplayWrite(const HttpRequest& req) { return req.method == "POST" || req.method == "DELETE"; }

std::string ReplayRequestProject(const HttpRequest& req, std::string_view key_project,
                                 std::string_view all_projects) {
  const std::string id = JobId(req.path);
  if (!id.empty()) {
    std::shared_lock lk(g_mu);
    std::string p = g_service ? g_service->JobProject(id) : "";
    // An unknown job: authorize against the key's own project (the answer is then 404).
    return p.empty() ? std::string(key_project.empty() ? "default" : key_project) : p;
  }
  if (req.method == "POST") {
    rapidjson::Document d;
    d.Parse(req.body.data(), req.body.size());
    if (d.IsObject() && d.HasMember("project") && d["project"].IsString()) return d["project"].GetString();
    return std::string(key_project.empty() ? "default" : key_project);
  }
  return std::string(key_project.empty() ? all_projects : key_project);
}

void SetReplayService(ReplayService* service) {
  std::unique_lock lk(g_mu);
  g_service = service;
}

void HandleReplayApi(HttpRequest& req, HttpResponse* res, std::string_view key_project, bool admin) {
  std::shared_lock lk(g_mu);
  res->content_type = "application/json";
  if (g_service == nullptr) return Fail(res, 503, "replay is not running on this server");
  const std::string id = JobId(req.path);
  if (id.empty()) {
    if (req.method == "POST") {
      auto r = ParseReplayRequest(req.body, key_project);
      if (!r.ok()) return FailStatus(res, r.status());
      if (!r->source_dir.empty() && !admin) {
        return Fail(res, 403, "source_dir reads a directory on the server: it needs an admin key");
      }
      auto job = g_service->Submit(std::move(*r));
      if (!job.ok()) return FailStatus(res, job.status());
      auto json = g_service->JobJson(*job);
      if (!json.ok()) return FailStatus(res, json.status());
      res->status = 202;
      res->headers.emplace_back("Location", std::string(kRoot) + "/" + *job);
      res->body = *json;
      return;
    }
    if (req.method == "GET" || req.method == "HEAD") {
      res->status = 200;
      res->body = "{\"items\":" + g_service->ListJson(key_project) + "}";
      return;
    }
    res->headers.emplace_back("Allow", "GET, POST");
    return Fail(res, 405, "method " + req.method + " not allowed on /api/replay; use GET or POST");
  }
  if (req.method == "GET" || req.method == "HEAD") {
    auto json = g_service->JobJson(id, key_project);
    if (!json.ok()) return FailStatus(res, json.status());
    res->status = 200;
    res->body = *json;
    return;
  }
  if (req.method == "DELETE") {
    if (!key_project.empty() && g_service->JobProject(id) != key_project) {
      return Fail(res, 404, "no replay job '" + id + "'");
    }
    Status st = g_service->Cancel(id);
    if (!st.ok()) return FailStatus(res, st);
    auto json = g_service->JobJson(id);
    if (!json.ok()) return FailStatus(res, json.status());
    res->status = 202;
    res->body = *json;
    return;
  }
  res->headers.emplace_back("Allow", "GET, DELETE");
  Fail(res, 405, "method " + req.method + " not allowed on /api/replay/{id}; use GET or DELETE");
}

}  // namespace otlake::archive
