// The generated day shared by the benchmarks (query_bench, ship_bench): OTLP protobuf traces
// requests as a fleet of 1,000 services sends them -- 8 ResourceSpans of 64 spans, 20 attributes
// per span, traces of 8 spans spread over 8 services. Header-only; bench code, not a library.
#pragma once

#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "otlake/otlp/proto_writer.h"

namespace otlake::bench {


inline constexpr int64_t kDayStartMs = 1795651200000;  // 2026-11-26T00:00:00Z
inline constexpr const char* kDay = "2026-11-26";

inline double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

inline double WallMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// KeyValue{key=1, value=AnyValue{string=1 | bool=2 | int=3 | double=4}} in `field`.
inline void KvString(otlp::ProtoWriter* w, uint32_t field, std::string_view k, std::string_view v) {
  w->BeginMessage(field);
  w->String(1, k);
  w->BeginMessage(2);
  w->String(1, v);
  w->EndMessage();
  w->EndMessage();
}
inline void KvInt(otlp::ProtoWriter* w, uint32_t field, std::string_view k, int64_t v) {
  w->BeginMessage(field);
  w->String(1, k);
  w->BeginMessage(2);
  w->Int64(3, v);
  w->EndMessage();
  w->EndMessage();
}
inline void KvDouble(otlp::ProtoWriter* w, uint32_t field, std::string_view k, double v) {
  w->BeginMessage(field);
  w->String(1, k);
  w->BeginMessage(2);
  w->Double(4, v);
  w->EndMessage();
  w->EndMessage();
}
inline void KvBool(otlp::ProtoWriter* w, uint32_t field, std::string_view k, bool v) {
  w->BeginMessage(field);
  w->String(1, k);
  w->BeginMessage(2);
  w->Bool(2, v);
  w->EndMessage();
  w->EndMessage();
}

inline std::string RandomBytes(std::mt19937_64& rng, int n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

inline std::string Hex(std::string_view raw) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

inline const char* const kRoutes[] = {"/api/cart", "/api/cart/{id}", "/api/checkout", "/api/products/{id}",
                               "/api/orders", "/api/users/{id}", "/healthz", "/api/search"};
inline const char* const kChildNames[] = {"SELECT orders", "redis GET", "grpc.Call", "render", "kafka publish",
                                   "SELECT users", "http GET", "cache lookup"};

// One request: 8 ResourceSpans (random services) x 64 spans; 64 traces of 8 spans, span k of each
// trace in resource k. `t_ms` is the arrival time; spans start within the preceding 5 s.
inline std::string MakeRequest(std::mt19937_64& rng, int64_t t_ms, std::vector<std::string>* sample_ids,
                        bool sample) {
  struct TraceIds { std::string trace, root; };
  std::vector<TraceIds> traces(64);
  for (auto& t : traces) {
    t.trace = RandomBytes(rng, 16);
    t.root = RandomBytes(rng, 8);
  }
  if (sample) sample_ids->push_back(Hex(traces[rng() % 64].trace));
  otlp::ProtoWriter w;
  for (int r = 0; r < 8; ++r) {
    const int svc = static_cast<int>(rng() % 1000);
    char svc_name[32];
    std::snprintf(svc_name, sizeof svc_name, "svc-%04d", svc);
    w.BeginMessage(1);  // ResourceSpans
    w.BeginMessage(1);  // Resource
    KvString(&w, 1, "service.name", svc_name);
    KvString(&w, 1, "service.version", "1." + std::to_string(svc % 7) + ".0");
    KvString(&w, 1, "deployment.environment.name", "prod");
    KvString(&w, 1, "host.name", "node-" + std::to_string(rng() % 200));
    KvString(&w, 1, "k8s.pod.name", std::string(svc_name) + "-" + Hex(RandomBytes(rng, 3)));
    KvString(&w, 1, "telemetry.sdk.language", svc % 3 ? "go" : "java");
    w.EndMessage();
    w.BeginMessage(2);  // ScopeSpans
    w.BeginMessage(1);
    w.String(1, std::string(svc_name) + ".instrumentation");
    w.String(2, "0.45.0");
    w.EndMessage();
    for (int i = 0; i < 64; ++i) {
      const TraceIds& t = traces[i];
      const bool root = r == 0;
      const char* route = kRoutes[(i + svc) % 8];
      const int64_t start = (t_ms - 5000) * 1'000'000 + static_cast<int64_t>(rng() % 5'000'000'000ULL) + r * 1000;
      const int64_t dur = static_cast<int64_t>(std::exp(13 + 1.5 * std::normal_distribution<double>()(rng)));
      w.BeginMessage(2);  // Span
      w.Bytes(1, t.trace);
      w.Bytes(2, root ? t.root : RandomBytes(rng, 8));
      if (!root) w.Bytes(4, t.root);
      w.String(5, root ? std::string("GET ") + route : kChildNames[rng() % 8]);
      w.Varint(6, root ? 2 : 3);
      w.Fixed64(7, static_cast<uint64_t>(start));
      w.Fixed64(8, static_cast<uint64_t>(start + std::max<int64_t>(dur, 1000)));
      KvString(&w, 9, "http.request.method", "GET");
      KvString(&w, 9, "http.route", route);
      KvInt(&w, 9, "http.response.status_code", rng() % 50 ? 200 : 500);
      KvString(&w, 9, "url.path", std::string(route) + "?id=" + std::to_string(rng() % 100000));
      KvString(&w, 9, "server.address", std::string(svc_name) + ".svc.cluster.local");
      KvInt(&w, 9, "server.port", 8080);
      KvString(&w, 9, "network.protocol.version", "1.1");
      KvString(&w, 9, "user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)");
      KvString(&w, 9, "client.address", "10." + std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) + ".7");
      KvString(&w, 9, "app.user.id", "user-" + std::to_string(rng() % 50000));
      KvInt(&w, 9, "app.cart.items", static_cast<int64_t>(rng() % 13));
      KvDouble(&w, 9, "app.cart.total", static_cast<double>(rng() % 50000) / 100.0);
      KvBool(&w, 9, "app.feature.enabled", rng() % 2);
      KvString(&w, 9, "db.system", "postgresql");
      KvString(&w, 9, "db.name", "shop");
      KvString(&w, 9, "thread.name", "worker-" + std::to_string(rng() % 32));
      KvString(&w, 9, "code.function", "handleRequest");
      KvString(&w, 9, "code.namespace", std::string("com.shop.") + svc_name);
      KvString(&w, 9, "messaging.system", "kafka");
      KvString(&w, 9, "app.request.id", Hex(RandomBytes(rng, 8)));
      if (rng() % 50 == 0) {
        w.BeginMessage(15);
        w.Varint(3, 2);
        w.EndMessage();
      }
      w.EndMessage();
    }
    w.EndMessage();
    w.EndMessage();
  }
  return w.Release();
}

}  // namespace otlake::bench
