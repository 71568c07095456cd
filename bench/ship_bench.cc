// ship_bench: seal + ship numbers for a generated day (bench/day_gen.h, the same day query_bench
// generates), against a real S3 server (moto_server started here). Not part of ctest; numbers in
// bench/README.md.
//
//   build/release/ship_bench [--spans N] [--dir DIR] [--reuse] [--lookups K] [--zstd19-spans M]
//                            [--seal-zstd-level L] [--seal-file-rows R] [--parallelism P]
//
//  1. generate: N spans as OTLP protobuf requests, decoded by the real decoder and appended by the
//     real Delta writer 65,536 rows per commit (a day as ingest writes it). Alongside: the same
//     requests' protobuf bytes, zstd-3 per request (what an OTLP exporter with compression sends),
//     and zstd-19 over the day's protobuf as one stream (the first M spans; zstd-19's 8 MiB window
//     makes the ratio of a long stretch the ratio of the whole day).
//  2. seal: ship::Shipper, local-only (what every instance does after midnight): time, CPU, bytes.
//  3. ship: upload + verify to moto_server (keeps the local copy): time, bytes, requests.
//  4. trace by id on the S3 day (storage=s3) and on the local day: the first lookup (cold: Delta
//     log, footers, bloom filters from S3) and K more (p50/p99).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "day_gen.h"
#include "otlake/lake/delta_table.h"
#include "otlake/otlp/decode.h"
#include "otlake/query/query.h"
#include "otlake/ship/s3_config.h"
#include "otlake/ship/s3_fs.h"
#include "otlake/ship/shipper.h"

extern char** environ;

namespace {

using namespace otlake;
using namespace otlake::bench;

int64_t DirBytes(const std::string& dir) {
  int64_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) n += static_cast<int64_t>(it->file_size(ec));
  }
  return n;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

double Pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

struct GenStats {
  int64_t spans = 0, files = 0, parquet_bytes = 0, proto_bytes = 0, zstd3_bytes = 0;
  int64_t z19_spans = 0, z19_in = 0, z19_out = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int64_t spans = 10'000'000, zstd19_spans = 1'000'000;
  int lookups = 200, parallelism = 4;
  lake::SealOptions seal;
  std::string dir = "/tmp/otlake-ship-bench";
  bool reuse = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--spans") spans = std::atoll(next().c_str());
    else if (a == "--dir") dir = next();
    else if (a == "--reuse") reuse = true;
    else if (a == "--lookups") lookups = std::atoi(next().c_str());
    else if (a == "--zstd19-spans") zstd19_spans = std::atoll(next().c_str());
    else if (a == "--seal-zstd-level") seal.zstd_level = std::atoi(next().c_str());
    else if (a == "--seal-file-rows") seal.target_file_rows = std::atoll(next().c_str());
    else if (a == "--parallelism") parallelism = std::atoi(next().c_str());
    else {
      std::fprintf(stderr, "usage: ship_bench [--spans N] [--dir DIR] [--reuse] [--lookups K] [--zstd19-spans M] "
                           "[--seal-zstd-level L] [--seal-file-rows R] [--parallelism P]\n");
      return 2;
    }
  }
  const std::string root = dir + "/default";
  const std::string day_dir = root + "/staging/days/" + kDay;
  const std::string table_dir = day_dir + "/otel/spans";
  const std::string ids_file = dir + "/trace_ids.txt";
  const std::string stats_file = dir + "/gen_stats.txt";
  std::vector<std::string> ids;
  GenStats g;

  // 1. generate -------------------------------------------------------------------------------
  if (reuse && std::filesystem::exists(stats_file)) {
    FILE* f = std::fopen(stats_file.c_str(), "r");
    long long v[8];
    if (std::fscanf(f, "%lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8) return 1;
    std::fclose(f);
    g = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
    f = std::fopen(ids_file.c_str(), "r");
    char line[64];
    while (std::fgets(line, sizeof line, f)) ids.emplace_back(line, 32);
    std::fclose(f);
    std::printf("reusing %s: %lld spans\n", dir.c_str(), static_cast<long long>(g.spans));
    // The S3 server is new: ship again (sealing a sealed day rewrites nothing).
    std::filesystem::remove(root + "/index/days.jsonl");
  } else {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(table_dir);
    std::filesystem::create_directories(root + "/index");
    auto writer = lake::DeltaTableWriter::Open(table_dir, table::TableId::kSpans, {});
    if (!writer.ok()) {
      std::fprintf(stderr, "%s\n", writer.status().ToString().c_str());
      return 1;
    }
    std::mt19937_64 rng(42);
    const int64_t requests = spans / 512;
    const int64_t every = std::max<int64_t>(requests / (lookups * 4), 1);
    ZSTD_CCtx* z19 = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(z19, ZSTD_c_compressionLevel, 19);
    std::vector<char> zbuf(ZSTD_CStreamOutSize() * 4), rbuf;
    std::vector<std::unique_ptr<table::RowBatch>> pending;
    int64_t pending_rows = 0;
    const double w0 = WallMs();
    auto flush = [&] {
      std::vector<const table::RowBatch*> ptrs;
      for (auto& b : pending) ptrs.push_back(b.get());
      auto r = (*writer)->Append(ptrs);
      if (!r.ok()) {
        std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
        std::exit(1);
      }
      g.parquet_bytes += r->file_bytes;
      ++g.files;
      pending.clear();
      pending_rows = 0;
    };
    for (int64_t q = 0; q < requests; ++q) {
      const int64_t t_ms = kDayStartMs + 5000 + q * (86'400'000 - 10'000) / requests;
      std::string body = MakeRequest(rng, t_ms, &ids, q % every == 0);
      g.proto_bytes += static_cast<int64_t>(body.size());
      rbuf.resize(ZSTD_compressBound(body.size()));
      g.zstd3_bytes += static_cast<int64_t>(ZSTD_compress(rbuf.data(), rbuf.size(), body.data(), body.size(), 3));
      if (g.z19_spans < zstd19_spans) {
        ZSTD_inBuffer in{body.data(), body.size(), 0};
        while (in.pos < in.size) {
          ZSTD_outBuffer out{zbuf.data(), zbuf.size(), 0};
          ZSTD_compressStream2(z19, &out, &in, ZSTD_e_continue);
          g.z19_out += static_cast<int64_t>(out.pos);
        }
        g.z19_in += static_cast<int64_t>(body.size());
        g.z19_spans += 512;
        if (g.z19_spans >= zstd19_spans || q + 1 == requests) {
          size_t left;
          do {
            ZSTD_outBuffer out{zbuf.data(), zbuf.size(), 0};
            ZSTD_inBuffer none{nullptr, 0, 0};
            left = ZSTD_compressStream2(z19, &out, &none, ZSTD_e_end);
            g.z19_out += static_cast<int64_t>(out.pos);
          } while (left != 0);
        }
      }
      otlp::DecodeOptions o;
      o.now_unix_nano = t_ms * 1'000'000;
      otlp::DecodeResult res;
      if (Status s = otlp::DecodeProtobuf(otlp::Signal::kTraces, body, o, &res); !s.ok()) {
        std::fprintf(stderr, "decode: %s\n", s.ToString().c_str());
        return 1;
      }
      auto b = res.batches.Release(table::TableId::kSpans);
      pending_rows += b->num_rows();
      g.spans += b->num_rows();
      pending.push_back(std::move(b));
      if (pending_rows >= 65536) flush();
      if (q % 2000 == 0) std::fprintf(stderr, "\rgenerating: %lld spans", static_cast<long long>(g.spans));
    }
    if (pending_rows) flush();
    ZSTD_freeCCtx(z19);
    std::fprintf(stderr, "\n");
    std::printf("generated %lld spans in %lld files (%.1f B/span as ingested) in %.0f s\n",
                static_cast<long long>(g.spans), static_cast<long long>(g.files),
                static_cast<double>(g.parquet_bytes) / g.spans, (WallMs() - w0) / 1000);
    std::shuffle(ids.begin(), ids.end(), rng);
    if (static_cast<int>(ids.size()) > lookups + 1) ids.resize(lookups + 1);
    FILE* f = std::fopen(ids_file.c_str(), "w");
    for (const auto& id : ids) std::fprintf(f, "%s\n", id.c_str());
    std::fclose(f);
    f = std::fopen(stats_file.c_str(), "w");
    std::fprintf(f, "%lld %lld %lld %lld %lld %lld %lld %lld\n", static_cast<long long>(g.spans),
                 static_cast<long long>(g.files), static_cast<long long>(g.parquet_bytes),
                 static_cast<long long>(g.proto_bytes), static_cast<long long>(g.zstd3_bytes),
                 static_cast<long long>(g.z19_spans), static_cast<long long>(g.z19_in), static_cast<long long>(g.z19_out));
    std::fclose(f);
  }
  const double n = static_cast<double>(g.spans);
  const int64_t before_bytes = DirBytes(table_dir);

  // 2. seal ---------------------------------------------------------------------------------
  ship::ShipperOptions so;
  so.instance_id = "default";
  so.instance_root = root;
  so.seal = seal;
  so.clean = false;
  double w = WallMs(), c = CpuSeconds();
  {
    ship::Shipper local(so);
    auto st = local.Run(kDay, ship::Phase::kSealed);
    if (!st.ok()) {
      std::fprintf(stderr, "seal: %s\n", st.status().ToString().c_str());
      return 1;
    }
  }
  const double seal_wall = (WallMs() - w) / 1000, seal_cpu = CpuSeconds() - c;
  const int64_t sealed_bytes = DirBytes(table_dir);
  int64_t sealed_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(table_dir)) sealed_files += e.path().extension() == ".parquet";

  // 3. ship to moto ---------------------------------------------------------------------------
  const int port = FreePort();
  const std::string port_s = std::to_string(port);
  std::string moto = std::filesystem::absolute(".venv/bin/moto_server").string();
  pid_t moto_pid = 0;
  const char* margv[] = {moto.c_str(), "-H", "127.0.0.1", "-p", port_s.c_str(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  if (posix_spawn(&moto_pid, moto.c_str(), &fa, nullptr, const_cast<char**>(margv), environ) != 0) {
    std::fprintf(stderr, "cannot start %s (run from the repository root)\n", moto.c_str());
    return 1;
  }
  std::string curl = "for i in $(seq 100); do curl -sf -X PUT http://127.0.0.1:" + port_s +
                     "/bench >/dev/null && exit 0; sleep 0.1; done; exit 1";
  if (std::system(curl.c_str()) != 0) {
    std::fprintf(stderr, "moto_server did not come up\n");
    ::kill(moto_pid, SIGTERM);
    return 1;
  }
  ship::S3Config cfg;
  cfg.bucket = "bench";
  cfg.access_key_id = "bench";
  cfg.secret_access_key = "bench";
  cfg.endpoint_url = "http://127.0.0.1:" + port_s;
  auto fs = ship::MakeS3FileSystem(cfg);
  if (!fs.ok()) return 1;
  so.s3 = *fs;
  so.s3_days_root = cfg.DaysRoot("default");
  so.s3_days_uri = cfg.DaysUri("default");
  so.upload_parallelism = parallelism;
  double upload_s = 0, verify_s = 0;
  int64_t uploaded_bytes = 0, uploaded_files = 0;
  {
    ship::Shipper remote(so);
    w = WallMs();
    c = CpuSeconds();
    auto st = remote.Run(kDay, ship::Phase::kVerified);
    if (!st.ok()) {
      std::fprintf(stderr, "ship: %s\n", st.status().ToString().c_str());
      ::kill(moto_pid, SIGTERM);
      return 1;
    }
    auto recs = remote.index()->ReadAll();
    for (const auto& r : *recs) {
      if (r.phase == ship::Phase::kUploaded && r.ok) {
        upload_s = r.duration_ms / 1000.0;
        uploaded_bytes = r.bytes;
        uploaded_files = r.uploaded;
      }
      if (r.phase == ship::Phase::kVerified && r.ok) verify_s = r.duration_ms / 1000.0;
    }
  }
  const double ship_wall = (WallMs() - w) / 1000, ship_cpu = CpuSeconds() - c;

  // 4. trace by id --------------------------------------------------------------------------
  auto lookups_on = [&](query::Storage storage, const char* what) {
    query::EngineOptions eo;
    eo.instance_dir = root;
    eo.s3 = *fs;
    eo.s3_days_root = cfg.DaysRoot("default");
    eo.limits.timeout_ms = 600'000;
    query::QueryEngine engine(eo);
    std::vector<double> ms, cpu;
    double first = 0;
    int64_t found = 0, row_groups = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      const double t = WallMs(), tc = CpuSeconds();
      auto tr = engine.GetTrace(ids[i], storage);
      const double dt = WallMs() - t;
      if (!tr.ok()) {
        std::fprintf(stderr, "trace: %s\n", tr.status().ToString().c_str());
        std::exit(1);
      }
      found += tr->spans.rows.size();
      row_groups += tr->spans.stats.row_groups_read;
      if (i == 0) {
        first = dt;
        continue;
      }
      ms.push_back(dt);
      cpu.push_back((CpuSeconds() - tc) * 1000);
    }
    std::printf("trace by id, %-6s first (cold) %7.1f ms; then n=%zu: p50 %6.1f ms, p99 %6.1f ms, cpu p50 %5.1f ms; "
                "%.1f spans/trace, %.1f span row groups read/lookup\n",
                what, first, ms.size(), Pct(ms, 0.5), Pct(ms, 0.99), Pct(cpu, 0.5),
                static_cast<double>(found) / ids.size(), static_cast<double>(row_groups) / ids.size());
  };
  lookups_on(query::Storage::kS3, "s3");
  lookups_on(query::Storage::kLocal, "local");

  std::printf("\n=== %lld spans, seal zstd-%d, <= %lld rows per file ===\n", static_cast<long long>(g.spans),
              seal.zstd_level, static_cast<long long>(seal.target_file_rows));
  std::printf("as ingested      %8.1f MB  %6.1f B/span  (%lld files)\n", before_bytes / 1e6, before_bytes / n,
              static_cast<long long>(g.files));
  std::printf("sealed           %8.1f MB  %6.1f B/span  (%lld files; data + log)\n", sealed_bytes / 1e6, sealed_bytes / n,
              static_cast<long long>(sealed_files));
  std::printf("OTLP protobuf    %8.1f MB  %6.1f B/span\n", g.proto_bytes / 1e6, g.proto_bytes / n);
  std::printf("  + zstd-3/req   %8.1f MB  %6.1f B/span  (sealed / this = %.2f)\n", g.zstd3_bytes / 1e6, g.zstd3_bytes / n,
              static_cast<double>(sealed_bytes) / g.zstd3_bytes);
  std::printf("  zstd-19 stream %8.1f MB  %6.1f B/span  over the first %lld spans (sealed / this = %.2f)\n",
              g.z19_out / 1e6, static_cast<double>(g.z19_out) / g.z19_spans, static_cast<long long>(g.z19_spans),
              (sealed_bytes / n) / (static_cast<double>(g.z19_out) / g.z19_spans));
  std::printf("seal             %8.1f s wall  %6.1f s CPU  (%.0f k spans/CPU-s)\n", seal_wall, seal_cpu, n / seal_cpu / 1000);
  std::printf("ship             %8.1f s wall  %6.1f s CPU  (upload %.1f s: %lld files, %.1f MB, %.1f MB/s; verify %.1f s)\n",
              ship_wall, ship_cpu, upload_s, static_cast<long long>(uploaded_files), uploaded_bytes / 1e6,
              upload_s > 0 ? uploaded_bytes / 1e6 / upload_s : 0, verify_s);
  fs->reset();
  so.s3.reset();
  ::kill(moto_pid, SIGTERM);
  ::waitpid(moto_pid, nullptr, 0);
  ship::ShutdownS3();
  return 0;
}
