// wal_bench: what the ack point costs. Not part of ctest; build with the release preset, then
//   build/release/wal_bench [dir on the disk to measure, default ./wal_bench_data] [seconds, 3]
// Prints: fdatasync latency of a 64 KiB append; records/s and syncs/s for 1, 4 and 16 concurrent
// appenders of 400 KB records (each appender: Append, then SyncUpTo its LSN, like a request);
// and MB/s with and without zstd level 1 on a realistic ~400 KB OTLP traces request.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "otlake/otlp/proto_writer.h"
#include "otlake/wal/env.h"
#include "otlake/wal/wal_writer.h"

namespace {

using namespace otlake;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// An ExportTraceServiceRequest of about `target` bytes: 8 services, spans with random IDs and
// times, typical HTTP/DB attributes (field numbers from the OTLP spec).
std::string OtlpTraces(size_t target, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const char* routes[] = {"/api/v1/orders", "/api/v1/cart", "/healthz", "/api/v1/users/{id}",
                          "/checkout", "/api/v2/search"};
  const char* names[] = {"GET /api/v1/orders", "SELECT orders", "redis GET", "POST /checkout",
                         "grpc.Payment/Charge", "render"};
  otlp::ProtoWriter w;
  auto attr_str = [&](uint32_t field, const char* k, const std::string& v) {
    w.BeginMessage(field);
    w.String(1, k);
    w.BeginMessage(2);
    w.String(1, v);
    w.EndMessage();
    w.EndMessage();
  };
  auto attr_int = [&](uint32_t field, const char* k, int64_t v) {
    w.BeginMessage(field);
    w.String(1, k);
    w.BeginMessage(2);
    w.Int64(3, v);
    w.EndMessage();
    w.EndMessage();
  };
  auto bytes = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>(rng()));
    return s;
  };
  uint64_t t = 1700000000000000000ull;
  for (int svc = 0; w.data().size() < target; ++svc) {
    w.BeginMessage(1);  // ResourceSpans
    w.BeginMessage(1);  // Resource
    attr_str(1, "service.name", "service-" + std::to_string(svc % 8));
    attr_str(1, "service.version", "1.4." + std::to_string(svc % 3));
    attr_str(1, "host.name", "ip-10-0-" + std::to_string(svc % 8) + "-17.ec2.internal");
    attr_str(1, "telemetry.sdk.language", "go");
    attr_str(1, "deployment.environment", "production");
    w.EndMessage();
    w.BeginMessage(2);  // ScopeSpans
    w.BeginMessage(1);
    w.String(1, "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp");
    w.String(2, "0.49.0");
    w.EndMessage();
    const std::string trace = bytes(16);
    for (int i = 0; i < 64; ++i) {
      w.BeginMessage(2);  // Span
      w.Bytes(1, rng() % 4 == 0 ? bytes(16) : trace);
      w.Bytes(2, bytes(8));
      w.Bytes(4, bytes(8));
      w.String(5, names[rng() % 6]);
      w.Varint(6, 1 + rng() % 3);
      t += rng() % 1000000;
      w.Fixed64(7, t);
      w.Fixed64(8, t + rng() % 50000000);
      attr_str(9, "http.method", rng() % 3 ? "GET" : "POST");
      attr_str(9, "http.route", routes[rng() % 6]);
      attr_int(9, "http.status_code", rng() % 10 ? 200 : 503);
      attr_str(9, "net.peer.name", "10.0." + std::to_string(rng() % 256) + "." +
                                       std::to_string(rng() % 256));
      attr_int(9, "http.response_content_length", static_cast<int64_t>(rng() % 100000));
      attr_str(9, "user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0");
      w.BeginMessage(15);  // Status
      w.Varint(3, rng() % 10 ? 1 : 2);
      w.EndMessage();
      w.EndMessage();
    }
    w.EndMessage();
    w.EndMessage();
  }
  return w.Release();
}

void FsyncLatency(const std::string& dir) {
  auto file = *wal::Env::Default()->NewWritableFile(dir + "/fsync-probe");
  const std::string block(64 * 1024, 'x');
  std::vector<double> us;
  for (int i = 0; i < 300; ++i) {
    const auto t0 = Clock::now();
    if (!file->Append(block).ok() || !file->Sync().ok()) {
      std::printf("fsync probe failed\n");
      return;
    }
    us.push_back(Seconds(Clock::now() - t0) * 1e6);
  }
  (void)file->Close();
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (double u : us) sum += u;
  std::printf("append 64 KiB + fdatasync: median %.0f us, p90 %.0f us, p99 %.0f us, mean %.0f us"
              "\n",
              us[us.size() / 2], us[us.size() * 9 / 10], us[us.size() * 99 / 100],
              sum / static_cast<double>(us.size()));
}

void Run(const std::string& dir, int threads, double seconds, bool compress,
         const std::vector<std::string>& payloads, const char* what) {
  std::filesystem::remove_all(dir + "/wal");
  wal::WalOptions o;
  o.dir = dir + "/wal";
  o.compress = compress;
  auto w = std::move(*wal::WalWriter::Open(o, 1));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> acked{0}, input_bytes{0}, errors{0};
  const double cpu0 = CpuSeconds();
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); !stop.load(std::memory_order_relaxed); ++i) {
        const std::string& p = payloads[i % payloads.size()];
        auto lsn = w->Append(p);
        if (!lsn.ok() || !w->SyncUpTo(*lsn).ok()) {
          ++errors;
          continue;
        }
        ++acked;
        input_bytes += static_cast<int64_t>(p.size());
        if (t == 0 && i % 64 == 0) (void)w->DeleteSegmentsUpTo(*lsn - 1);  // bounded disk use
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double wall = Seconds(Clock::now() - t0), cpu = CpuSeconds() - cpu0;
  (void)w->Close();
  const auto s = w->stats();
  std::printf("%-22s %2d appenders: %7.0f records/s %6.0f syncs/s %5.1f rec/sync  in %7.1f MB/s"
              "  disk %7.1f MB/s  cpu %.2f s/GB  errors %lld\n",
              what, threads, static_cast<double>(acked) / wall,
              static_cast<double>(s.syncs) / wall,
              static_cast<double>(s.records) / std::max<double>(1, static_cast<double>(s.syncs)),
              static_cast<double>(input_bytes) / wall / 1e6,
              static_cast<double>(s.bytes_written) / wall / 1e6,
              cpu / (static_cast<double>(input_bytes) / 1e9),
              static_cast<long long>(errors.load()));
  std::filesystem::remove_all(dir + "/wal");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "wal_bench_data";
  const double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  std::filesystem::create_directories(dir);
  FsyncLatency(dir);

  std::vector<std::string> random_payloads, otlp_payloads;
  std::mt19937_64 rng(1);
  for (int i = 0; i < 16; ++i) {
    std::string p(400 * 1000, '\0');
    for (char& c : p) c = static_cast<char>(rng());
    random_payloads.push_back(std::move(p));
    otlp_payloads.push_back(OtlpTraces(400 * 1000, static_cast<uint64_t>(i)));
  }
  std::printf("OTLP traces payload: %zu bytes\n", otlp_payloads[0].size());
  for (int threads : {1, 4, 16}) Run(dir, threads, seconds, false, random_payloads, "400KB raw");
  for (int threads : {1, 4, 16}) {
    Run(dir, threads, seconds, false, otlp_payloads, "400KB OTLP, no zstd");
    Run(dir, threads, seconds, true, otlp_payloads, "400KB OTLP, zstd 1");
  }
  std::filesystem::remove_all(dir);
  return 0;
}
