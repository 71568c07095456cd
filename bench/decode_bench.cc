// decode_bench: OTLP decode throughput, in spans per CPU-second, for a realistic traces request
// (512 spans x 20 attributes, 8 services with typical resource attributes) in protobuf and in
// OTLP/JSON. Not part of ctest: `make bench` (or `ninja -C build/release decode_bench`), then
//   build/release/decode_bench [seconds per form, default 3] [protobuf|json|json-rapidjson]
//                              [spans per service]
// (spans per service: 64 by default, 8 for the 64-span requests of a chattier SDK; a negative
// "seconds" -N decodes exactly N requests, for instruction counts under callgrind). json-rapidjson
// is DecodeJson with the RapidJSON DOM parser it used before ParseJsonFast (same walker): an A/B
// in one binary.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "otlake/otlp/decode.h"
#include "otlake/otlp/encoding.h"
#include "otlake/otlp/json_fields.h"
#include "otlake/otlp/json_to_proto.h"
#include "otlake/otlp/typed_json.h"

namespace {

using namespace otlake;

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct JsonOut {
  std::string s;
  void Attr(const std::string& key, const std::string& typed_value, bool comma = true) {
    if (comma) s += ',';
    s += R"({"key":)";
    otlp::AppendJsonString(&s, key);
    s += R"(,"value":)" + typed_value + "}";
  }
  static std::string Str(const std::string& v) {
    std::string out = R"({"stringValue":)";
    otlp::AppendJsonString(&out, v);
    return out + "}";
  }
  static std::string Int(int64_t v) { return R"({"intValue":")" + std::to_string(v) + "\"}"; }
  static std::string Dbl(double v) {
    std::string out = R"({"doubleValue":)";
    otlp::AppendTypedDouble(&out, v);
    return out + "}";
  }
  static std::string Bool(bool v) {
    return std::string(R"({"boolValue":)") + (v ? "true" : "false") + "}";
  }
};

std::string Hex(std::mt19937_64& rng, int bytes) {
  std::string raw;
  for (int i = 0; i < bytes; ++i) raw.push_back(static_cast<char>(rng()));
  std::string out;
  otlp::AppendHex(&out, raw);
  return out;
}

// One ExportTraceServiceRequest as OTLP/JSON: 8 ResourceSpans x `per_service` spans x 20
// attributes.
std::string MakeRequestJson(uint64_t seed, int per_service) {
  std::mt19937_64 rng(seed);
  const char* services[] = {"frontend", "checkout", "cart",     "payment",
                            "shipping", "currency", "catalog", "recommendation"};
  const char* routes[] = {"/api/v1/orders/{id}", "/api/v1/cart", "/api/v1/products",
                          "/healthz", "/api/v1/checkout", "/api/v1/users/{id}/sessions"};
  const char* methods[] = {"GET", "POST", "PUT", "DELETE"};
  const uint64_t base = 1732240000000000000ULL;
  JsonOut j;
  j.s = R"({"resourceSpans":[)";
  for (int r = 0; r < 8; ++r) {
    if (r) j.s += ',';
    j.s += R"({"resource":{"attributes":[)";
    j.Attr("service.name", JsonOut::Str(services[r]), false);
    j.Attr("service.version", JsonOut::Str("1.4." + std::to_string(r)));
    j.Attr("service.instance.id", JsonOut::Str(Hex(rng, 8)));
    j.Attr("service.namespace", JsonOut::Str("shop"));
    j.Attr("deployment.environment.name", JsonOut::Str("production"));
    j.Attr("host.name", JsonOut::Str("ip-10-0-" + std::to_string(r) + "-17.ec2.internal"));
    j.Attr("telemetry.sdk.name", JsonOut::Str("opentelemetry"));
    j.Attr("telemetry.sdk.language", JsonOut::Str("go"));
    j.Attr("telemetry.sdk.version", JsonOut::Str("1.32.0"));
    j.Attr("process.pid", JsonOut::Int(1000 + r));
    j.s += R"(]},"scopeSpans":[{"scope":{"name":"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp","version":"0.57.0"},"spans":[)";
    for (int i = 0; i < per_service; ++i) {
      if (i) j.s += ',';
      const uint64_t start = base + rng() % 1000000000000ULL;
      const uint64_t dur = rng() % 500000000ULL;
      const char* route = routes[rng() % 6];
      const char* method = methods[rng() % 4];
      j.s += R"({"traceId":")" + Hex(rng, 16) + R"(","spanId":")" + Hex(rng, 8) +
             R"(","parentSpanId":")" + Hex(rng, 8) + R"(","name":")" + method + " " + route +
             R"(","kind":2,"startTimeUnixNano":")" + std::to_string(start) +
             R"(","endTimeUnixNano":")" + std::to_string(start + dur) + R"(","attributes":[)";
      j.Attr("http.request.method", JsonOut::Str(method), false);
      j.Attr("http.route", JsonOut::Str(route));
      j.Attr("http.response.status_code", JsonOut::Int(rng() % 10 ? 200 : 503));
      j.Attr("url.full", JsonOut::Str(std::string("https://shop.example.com") + route + "?page=" +
                                      std::to_string(rng() % 100)));
      j.Attr("url.scheme", JsonOut::Str("https"));
      j.Attr("server.address", JsonOut::Str("shop.example.com"));
      j.Attr("server.port", JsonOut::Int(443));
      j.Attr("client.address", JsonOut::Str("10.1." + std::to_string(rng() % 256) + "." +
                                            std::to_string(rng() % 256)));
      j.Attr("user_agent.original",
             JsonOut::Str("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0"));
      j.Attr("network.protocol.version", JsonOut::Str("1.1"));
      j.Attr("http.request.body.size", JsonOut::Int(rng() % 4096));
      j.Attr("http.response.body.size", JsonOut::Int(rng() % 65536));
      j.Attr("db.system", JsonOut::Str("postgresql"));
      j.Attr("db.query.text", JsonOut::Str("SELECT id, total FROM orders WHERE user_id = $1"));
      j.Attr("thread.id", JsonOut::Int(rng() % 64));
      j.Attr("code.function", JsonOut::Str("handleRequest"));
      j.Attr("sampling.ratio", JsonOut::Dbl(0.25));
      j.Attr("cache.hit", JsonOut::Bool(rng() % 2));
      j.Attr("session.id", JsonOut::Str(Hex(rng, 8)));
      j.Attr("user.id", JsonOut::Str("user-" + std::to_string(rng() % 10000)));
      j.s += R"(],"status":{"code":)" + std::to_string(rng() % 10 ? 0 : 2) + "}}";
    }
    j.s += "]}]}";
  }
  j.s += "]}";
  return j.s;
}

enum class Form { kProtobuf, kJson, kJsonRapidJson };

double Run(const char* label, otlp::Signal s, const std::vector<std::string>& bodies, Form form,
           double seconds) {
  otlp::DecodeOptions options;
  int64_t spans = 0, bytes = 0;
  const double t0 = CpuSeconds();
  double t = t0;
  size_t i = 0;
  const size_t requests = seconds < 0 ? static_cast<size_t>(-seconds) : SIZE_MAX;
  while (seconds < 0 ? i < requests : t - t0 < seconds) {
    otlp::DecodeResult r;
    const std::string& body = bodies[i++ % bodies.size()];
    Status st = form == Form::kJson     ? otlp::DecodeJson(s, body, options, &r)
                : form == Form::kProtobuf ? otlp::DecodeProtobuf(s, body, options, &r)
                : otlp::internal::DecodeJsonRapidJson(s, body, options, &r);
    if (!st.ok()) {
      std::fprintf(stderr, "decode failed: %s\n", st.ToString().c_str());
      std::exit(1);
    }
    spans += r.accepted;
    bytes += static_cast<int64_t>(body.size());
    t = CpuSeconds();
  }
  const double cpu = t - t0;
  std::printf("%-9s %8.0f spans/CPU-s  %7.1f MB/s  (%zu-byte requests, %.2f us/span)\n", label,
              static_cast<double>(spans) / cpu, static_cast<double>(bytes) / cpu / 1e6,
              bodies[0].size(), cpu / static_cast<double>(spans) * 1e6);
  return static_cast<double>(spans) / cpu;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  const std::string only = argc > 2 ? argv[2] : "";  // "protobuf" or "json" to run one form
  const int per_service = argc > 3 ? std::atoi(argv[3]) : 64;
  std::vector<std::string> json, proto;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    json.push_back(MakeRequestJson(seed, per_service));
    auto p = otlp::OtlpJsonToProtobuf(otlp::Signal::kTraces, json.back());
    if (!p.ok()) {
      std::fprintf(stderr, "%s\n", p.status().ToString().c_str());
      return 1;
    }
    proto.push_back(*p);
  }
  std::printf("%d spans x 20 attributes per request, 8 services\n", 8 * per_service);
  if (only.empty() || only == "protobuf") {
    Run("protobuf", otlp::Signal::kTraces, proto, Form::kProtobuf, seconds);
  }
  if (only.empty() || only == "json") {
    Run("json", otlp::Signal::kTraces, json, Form::kJson, seconds);
  }
  if (only.empty() || only == "json-rapidjson") {
    Run("json-rj", otlp::Signal::kTraces, json, Form::kJsonRapidJson, seconds);
  }
  return 0;
}
