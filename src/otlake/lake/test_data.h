// Test-only generators of realistic RowBatches for the lake tests and measurements. Header-only
// so it is compiled into the test binary only (never into otlake_lake).
//
// MakeBatch(id, rows, options) fills every column of every table with plausible telemetry:
// 8 services with 3 instances each, traces of 1..24 spans across services arriving interleaved
// (as a flush window sees them), spans with ~20 attributes, log bodies from templates with
// varying numbers, metric series with attributes. `options.exotic` adds nulls in every nullable
// column, non-ASCII text, and a few very large strings (to exercise stats and readers).
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "otlake/table/row_batch.h"

namespace otlake::lake::testing {

struct GenOptions {
  uint64_t seed = 1;
  int64_t base_ms = 1795824000000;  // 2026-11-28T00:00:00Z
  int64_t window_ms = 10'000;       // event times spread over this window
  int attrs_per_span = 20;
  bool exotic = false;  // nulls, unicode, big strings
  std::string trace_prefix;  // if set, every trace_id starts with this (hex) prefix
};

/// Options with only the seed changed.
inline GenOptions Seeded(uint64_t seed) {
  GenOptions o;
  o.seed = seed;
  return o;
}

namespace internal {

inline const char* const kServices[] = {"frontend", "cart",     "checkout", "payment",
                                        "shipping", "email",    "recommendation", "ad"};
inline const char* const kRoutes[] = {"/api/v1/users/{id}", "/api/v1/cart", "/api/v1/checkout",
                                      "/api/v1/products/{sku}", "/healthz", "/api/v1/orders/{id}",
                                      "/api/v1/recommendations", "/api/v1/ads"};
inline const char* const kMethods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE"};

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}
  uint64_t U64() { return rng_(); }
  int64_t Int(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(rng_() % static_cast<uint64_t>(hi - lo + 1));
  }
  double Real() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  bool Chance(double p) { return Real() < p; }
  std::string Hex(int bytes) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < bytes; ++i) {
      const auto b = static_cast<unsigned>(rng_() & 0xFF);
      s += d[b >> 4];
      s += d[b & 15];
    }
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

inline std::string DateOf(int64_t ms) {
  const int64_t days = ms / 86'400'000;
  // civil_from_days (Howard Hinnant)
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04" PRId64 "-%02" PRId64 "-%02" PRId64, y, m, d);
  return buf;
}

// One row's identity: which service emitted it, when, in which trace.
struct RowCtx {
  int svc = 0;
  int instance = 0;
  int64_t ts_ns = 0;
  std::string trace_id, span_id, parent_span_id;
  int route = 0;
  int status = 200;
};

inline std::string ResourceJson(const RowCtx& c) {
  std::string svc = kServices[c.svc];
  return R"({"service.name":")" + svc + R"(","service.namespace":"shop","service.version":"1.4.)" +
         std::to_string(c.svc % 3) +
         R"(","deployment.environment.name":"prod","telemetry.sdk.language":"go",)"
         R"("telemetry.sdk.name":"opentelemetry","telemetry.sdk.version":"1.32.0",)"
         R"("host.name":"node-)" + std::to_string(c.svc * 3 + c.instance) +
         R"(","k8s.pod.name":")" + svc + "-7d9f8b" + std::to_string(c.instance) + R"("})";
}

inline std::string SpanAttrs(Gen& g, const RowCtx& c, int n) {
  std::string s = "{";
  auto add = [&](const std::string& k, const std::string& v, bool quote) {
    if (s.size() > 1) s += ',';
    s += '"' + k + "\":" + (quote ? '"' + v + '"' : v);
  };
  const std::string route = kRoutes[c.route];
  add("http.request.method", kMethods[c.route % 6], true);
  add("http.route", route, true);
  add("http.response.status_code", std::to_string(c.status), false);
  add("url.path", route.substr(0, route.find('{')) + std::to_string(g.Int(1, 50000)), true);
  add("url.scheme", "https", true);
  add("server.address", std::string(kServices[c.svc]) + ".shop.svc.cluster.local", true);
  add("server.port", "8080", false);
  add("network.protocol.version", "1.1", true);
  add("client.address", "10.42." + std::to_string(g.Int(0, 3)) + "." + std::to_string(g.Int(1, 254)), true);
  add("user_agent.original",
      g.Chance(0.5) ? "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
                    : "okhttp/4.12.0",
      true);
  add("thread.id", std::to_string(g.Int(1, 64)), false);
  add("thread.name", "worker-" + std::to_string(g.Int(1, 16)), true);
  add("code.function", "handle" + std::to_string(c.route), true);
  add("code.namespace", "shop." + std::string(kServices[c.svc]) + ".http", true);
  add("http.request.body.size", std::to_string(g.Int(0, 4096)), false);
  add("http.response.body.size", std::to_string(g.Int(64, 65536)), false);
  add("app.cache.hit", g.Chance(0.7) ? "true" : "false", false);
  add("app.user.tier", g.Chance(0.8) ? "free" : "premium", true);
  add("app.request.id", g.Hex(8), true);
  add("app.latency.budget_ms", std::to_string(g.Int(50, 500)) + ".0", false);
  for (int i = 20; i < n; ++i) add("app.extra." + std::to_string(i), std::to_string(g.Int(0, 9)), false);
  s += '}';
  return s;
}

// The map form of the flat JSON objects above (string, int, double and bool values, no escapes).
inline void FlatJsonToMap(const std::string& json, table::AttrMap* m) {
  size_t i = 1;
  while (i < json.size() && json[i] == '"') {
    const size_t ke = json.find('"', i + 1);
    const std::string key = json.substr(i + 1, ke - i - 1);
    i = ke + 2;  // past '":'
    if (json[i] == '"') {
      const size_t ve = json.find('"', i + 1);
      m->Add(key, json.substr(i + 1, ve - i - 1), 's');
      i = ve + 1;
    } else {
      size_t ve = i;
      while (ve < json.size() && json[ve] != ',' && json[ve] != '}') ++ve;
      const std::string v = json.substr(i, ve - i);
      if (v == "true" || v == "false") {
        m->Add(key, v, 'b');
      } else if (v.find('.') != std::string::npos) {
        char buf[40];
        auto r = std::to_chars(buf, buf + sizeof(buf), std::strtod(v.c_str(), nullptr));
        m->Add(key, std::string_view(buf, static_cast<size_t>(r.ptr - buf)), 'd');
      } else {
        m->Add(key, v, 'i');
      }
      i = ve;
    }
    if (i < json.size() && json[i] == ',') ++i;
  }
}

inline const char* const kUnicode[] = {"日本語のログ", "Ünïcödé ✓", "emoji 🚀🔥", "Ελληνικά", "עברית"};

}  // namespace internal

/// A batch of `rows` rows of table `id`.
inline std::unique_ptr<table::RowBatch> MakeBatch(table::TableId id, int64_t rows,
                                                  const GenOptions& o = {}) {
  using namespace table;
  using internal::Gen;
  using internal::RowCtx;
  Gen g(o.seed);
  auto batch = std::make_unique<RowBatch>(id);

  // Traces: each contributes 1..24 consecutive "spans" in call order; rows are then shuffled
  // into arrival order so a batch interleaves traces like a flush window does.
  std::vector<RowCtx> ctx;
  ctx.reserve(rows);
  while (static_cast<int64_t>(ctx.size()) < rows) {
    RowCtx root;
    root.trace_id = o.trace_prefix + g.Hex(16).substr(o.trace_prefix.size());
    root.ts_ns = (o.base_ms + g.Int(0, o.window_ms - 1)) * 1'000'000 + g.Int(0, 999'999);
    root.svc = 0;
    root.route = static_cast<int>(g.Int(0, 7));
    const int spans = static_cast<int>(g.Int(1, 24));
    std::string parent;
    for (int k = 0; k < spans && static_cast<int64_t>(ctx.size()) < rows; ++k) {
      RowCtx c = root;
      c.svc = k == 0 ? 0 : static_cast<int>(g.Int(0, 7));
      c.instance = static_cast<int>(g.Int(0, 2));
      c.span_id = g.Hex(8);
      c.parent_span_id = parent;
      c.ts_ns = root.ts_ns + k * g.Int(100'000, 5'000'000);
      c.status = g.Chance(0.95) ? 200 : (g.Chance(0.5) ? 404 : 500);
      parent = c.span_id;
      ctx.push_back(std::move(c));
    }
  }
  std::shuffle(ctx.begin(), ctx.end(), std::mt19937_64(o.seed + 7));

  const auto defs = Columns(id);
  AttrMap last_map;  // the map column's entries, whose letters the `_types` column after it takes
  for (int64_t r = 0; r < rows; ++r) {
    const RowCtx& c = ctx[r];
    const std::string svc = internal::kServices[c.svc];
    const int64_t ts_ms = c.ts_ns / 1'000'000;
    const bool weird = o.exotic && r % 7 == 3;
    const bool huge = o.exotic && r % 97 == 5;
    const std::string uni = internal::kUnicode[r % 5];
    for (int col = 0; col < static_cast<int>(defs.size()); ++col) {
      const ColumnDef& d = defs[col];
      const std::string name = d.name;
      if (d.nullable && o.exotic && (r + col) % 5 == 0) {
        batch->AppendNull(col);
        continue;
      }
      switch (d.type) {
        case ColType::kInt64: {
          int64_t v = g.Int(0, 3);
          if (name == "event_ts") v = ts_ms;
          else if (name == "schema_version") v = kCurrentSchemaVersion;
          else if (name == "end_time_unix_nano") v = c.ts_ns + g.Int(50'000, 90'000'000);
          else if (name.ends_with("unix_nano")) v = c.ts_ns;
          else if (name == "flags") v = 1;
          else if (name == "severity_number") v = c.status >= 500 ? 17 : 9;
          else if (name == "count") v = g.Int(1, 10'000);
          else if (name == "exp_scale") v = g.Int(-2, 8);
          else if (name == "value_int") v = g.Int(-1'000'000, 1'000'000);
          else if (name.find("dropped") != std::string::npos) v = g.Chance(0.99) ? 0 : 1;
          batch->AppendInt(col, v);
          break;
        }
        case ColType::kDouble: {
          double v = g.Real() * 1000.0;
          if (name == "duration_ms") v = static_cast<double>(g.Int(50, 90'000)) / 1000.0;
          if (weird && name == "value") v = -0.5;
          batch->AppendDouble(col, v);
          break;
        }
        case ColType::kBool: batch->AppendBool(col, r % 2 == 0); break;
        case ColType::kMap: {
          std::string v;
          if (name == "resource_attrs") v = internal::ResourceJson(c);
          else if (name == "span_attrs") v = internal::SpanAttrs(g, c, o.attrs_per_span);
          else v = R"({"http.route":")" + std::string(internal::kRoutes[c.route]) + R"("})";
          if (huge) v = R"({"big":")" + std::string(100'000, 'x') + R"("})";
          last_map.clear();
          internal::FlatJsonToMap(v, &last_map);
          batch->AppendMap(col, last_map);
          break;
        }
        case ColType::kString: {
          if (name.ends_with("_attrs_types")) {
            batch->AppendString(col, last_map.types);
            break;
          }
          std::string v;
          if (name == "project_id") v = "default";
          else if (name == "service_name") v = svc;
          else if (name == "service_namespace") v = "shop";
          else if (name == "service_instance_id") v = svc + "-" + std::to_string(c.instance);
          else if (name == "service_version") v = "1.4." + std::to_string(c.svc % 3);
          else if (name == "deployment_env") v = "prod";
          else if (name.ends_with("schema_url")) v = "https://opentelemetry.io/schemas/1.24.0";
          else if (name == "scope_name") v = "io.opentelemetry.http." + svc;
          else if (name == "scope_version") v = "0.52.0";
          else if (name == "event_date") v = internal::DateOf(ts_ms);
          else if (name == "trace_id" || name == "linked_trace_id") v = c.trace_id;
          else if (name == "span_id" || name == "linked_span_id") v = c.span_id;
          else if (name == "parent_span_id") v = c.parent_span_id;
          else if (name == "kind") v = c.parent_span_id.empty() ? "SERVER" : "CLIENT";
          else if (name == "status_code") v = c.status >= 500 ? "ERROR" : "UNSET";
          else if (name == "status_message") v = c.status >= 500 ? "upstream failed" : "";
          else if (name == "name") v = std::string(internal::kMethods[c.route % 6]) + " " + internal::kRoutes[c.route];
          else if (name == "severity_text") v = c.status >= 500 ? "ERROR" : "INFO";
          else if (name == "body")
            v = "request " + std::string(internal::kRoutes[c.route]) + " served in " +
                std::to_string(g.Int(1, 900)) + "ms for user " + std::to_string(g.Int(1, 5000));
          else if (name == "body_type") v = "string";
          else if (name == "instrument_name") v = std::string("http.server.") + (c.route % 2 ? "request.duration" : "active_requests");
          else if (name == "instrument_type") v = c.route % 2 ? "histogram" : "gauge";
          else if (name == "unit") v = c.route % 2 ? "s" : "{request}";
          else if (name == "aggregation_temporality") v = "CUMULATIVE";
          else if (name.ends_with("_json")) v = R"({"http.route":")" + std::string(internal::kRoutes[c.route]) + R"("})";
          else if (name.starts_with("user_") || name.starts_with("session_")) v = "";
          else v = name + "-" + std::to_string(r % 3);
          if (weird && d.stats && name != "event_date" && name.find("trace_id") == std::string::npos &&
              name.find("span_id") == std::string::npos)
            v += " " + uni;
          if (huge && (name == "body" || name == "name")) {
            v += std::string(100'000, 'x');
          }
          batch->AppendString(col, v);
          break;
        }
      }
    }
    batch->FinishRow();
  }
  return batch;
}

}  // namespace otlake::lake::testing
