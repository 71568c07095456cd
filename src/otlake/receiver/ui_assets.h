// The web UI (ui/, docs/ui.md) embedded in the binary: files built by Vite at build time,
// compressed (gzip and brotli) by ui/tools/embed.mjs into a generated .cc (never committed).
//
// Serving (HandleUi): GET/HEAD of `/` and the UI's page paths (/traces, /trace/<id>, /logs,
// /charts, /ops) answer index.html (the pages route in the browser), `/assets/*` the hashed
// files. Brotli or gzip per Accept-Encoding (identity: inflated on the fly), `Vary:
// Accept-Encoding`, a strong ETag per file (304 on If-None-Match), `Cache-Control: public,
// max-age=31536000, immutable` for hashed assets and `no-cache` for index.html. The UI is public
// (the page itself holds no data); the API calls it makes need the usual keys.
#pragma once

#include <cstddef>
#include <string_view>

#include "otlake/server/http_server.h"

namespace otlake::receiver {

struct UiAsset {
  std::string_view path;          ///< "/index.html", "/assets/index-<hash>.js"
  std::string_view content_type;
  std::string_view etag;          ///< quoted, from the content's SHA-256
  size_t size;                    ///< uncompressed bytes
  std::string_view gzip, brotli;  ///< the compressed bodies
  bool immutable;                 ///< content-hashed name: cache forever
};

/// Generated (ui/tools/embed.mjs): every file of the built UI.
extern const UiAsset kUiAssets[];
extern const size_t kNumUiAssets;

/// The asset at `path` ("/" is "/index.html"), or null.
const UiAsset* FindUiAsset(std::string_view path);

/// True if `path` is one of the UI's pages or assets (so HandleUi answers it).
bool IsUiPath(std::string_view path);

/// Answers a UI request (IsUiPath(request.path)): the asset, 304, 404 for an unknown asset, 405
/// for a method other than GET/HEAD.
void HandleUi(const server::HttpRequest& request, server::HttpResponse* response);

}  // namespace otlake::receiver
