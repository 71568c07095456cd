#include "otlake/receiver/ui_assets.h"

#include <string>

#include "otlake/server/decompress.h"

namespace otlake::receiver {
namespace {

// True if the Accept-Encoding header lists `coding` with a non-zero q (";q=0" refuses it).
bool Accepts(std::string_view header, std::string_view coding) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view item = header.substr(pos, comma - pos);
    pos = comma + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    const size_t semi = item.find(';');
    std::string_view name = item.substr(0, semi);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name != coding && name != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string_view params = item.substr(semi + 1);
    const size_t q = params.find("q=");
    if (q == std::string_view::npos) return true;
    std::string_view v = params.substr(q + 2);
    // q=0, q=0.0, q=0.000 refuse; anything else accepts.
    bool zero = !v.empty() && v.front() == '0';
    for (size_t i = 1; zero && i < v.size() && v[i] != ' ' && v[i] != ';'; ++i) zero = v[i] == '.' || v[i] == '0';
    return !zero;
  }
  return false;
}

}  // namespace

const UiAsset* FindUiAsset(std::string_view path) {
  if (path == "/") path = "/index.html";
  for (size_t i = 0; i < kNumUiAssets; ++i) {
    if (kUiAssets[i].path == path) return &kUiAssets[i];
  }
  return nullptr;
}

bool IsUiPath(std::string_view path) {
  if (path == "/" || path == "/index.html" || path.rfind("/assets/", 0) == 0) return true;
  for (std::string_view page : {"/traces", "/logs", "/charts", "/ops"}) {
    if (path == page || (path.size() > page.size() && path.rfind(page, 0) == 0 && path[page.size()] == '/')) return true;
  }
  return path.rfind("/trace/", 0) == 0;
}

void HandleUi(const server::HttpRequest& req, server::HttpResponse* res) {
  if (req.method != "GET" && req.method != "HEAD") {
    res->status = 405;
    res->content_type = "text/plain; charset=utf-8";
    res->headers.emplace_back("Allow", "GET, HEAD");
    res->body = "method " + req.method + " not allowed on " + req.path + "; use GET\n";
    return;
  }
  const bool asset = req.path.rfind("/assets/", 0) == 0;
  const UiAsset* a = FindUiAsset(asset ? std::string_view(req.path) : std::string_view("/index.html"));
  if (a == nullptr || kNumUiAssets == 0) {
    res->status = 404;
    res->content_type = "text/plain; charset=utf-8";
    res->body = kNumUiAssets == 0 ? "the web UI was not built into this binary (Node.js was missing at build time)\n"
                                  : "no UI asset " + req.path + "\n";
    return;
  }
  res->headers.emplace_back("ETag", std::string(a->etag));
  res->headers.emplace_back("Cache-Control", a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
  res->headers.emplace_back("Vary", "Accept-Encoding");
  res->headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (!a->immutable) {
    // The page loads only its own scripts and styles (no CDN, no inline script).
    res->headers.emplace_back("Content-Security-Policy",
                              "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                              "connect-src 'self'; frame-ancestors 'none'");
  }
  res->content_type = std::string(a->content_type);
  const std::string_view inm = req.Header("if-none-match");
  if (!inm.empty() && (inm == a->etag || inm.find(a->etag) != std::string_view::npos || inm == "*")) {
    res->status = 304;
    res->body.clear();
    return;
  }
  res->status = 200;
  const std::string_view ae = req.Header("accept-encoding");
  if (!a->brotli.empty() && Accepts(ae, "br")) {
    res->headers.emplace_back("Content-Encoding", "br");
    res->body.assign(a->brotli);
  } else if (Accepts(ae, "gzip")) {
    res->headers.emplace_back("Content-Encoding", "gzip");
    res->body.assign(a->gzip);
  } else {
    std::string plain;
    Status st = server::Decompress("gzip", a->gzip, static_cast<int64_t>(a->size) + 1, &plain, nullptr);
    if (!st.ok()) {
      res->status = 500;
      res->content_type = "text/plain; charset=utf-8";
      res->body = "embedded UI asset " + std::string(a->path) + " is damaged: " + st.message() + "\n";
      return;
    }
    res->body = std::move(plain);
  }
  if (req.method == "HEAD") {
    res->headers.emplace_back("X-Body-Bytes", std::to_string(res->body.size()));
    res->body.clear();
  }
}

}  // namespace otlake::receiver
