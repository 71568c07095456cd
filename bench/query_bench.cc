// query_bench: read-side numbers on a generated day, through the same QueryEngine the HTTP API
// and `otlake view` use. Not part of ctest (numbers in bench/README.md).
//
//   build/release/query_bench [--spans N] [--dir DIR] [--reuse] [--flush-rows R] [--lookups K]
//
// Generation: OTLP protobuf requests (8 ResourceSpans of 64 spans, 20 attributes per span, 1,000
// services, traces of 8 spans spread over 8 services) decoded by the real decoder and appended
// to the day's spans table by the real Delta writer, `flush-rows` rows per commit (a day as the
// ingest path writes it), measured as written and again after compaction (DeltaTableWriter::
// Compact run until nothing is left to merge, as the server does during the day). Event times cover the 24 hours of the day in
// arrival order. `--reuse` keeps an existing generated day.
// Queries (wall-clock latency; rows scanned and compressed bytes read from the engine's stats):
//  - trace by id with no date range (K random traces): p50/p99;
//  - one service over a one-hour window, newest 100 rows;
//  - an attribute filter that matches few rows, over the whole day (scans every row group).
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "day_gen.h"
#include "otlake/common/time_util.h"
#include "otlake/lake/delta_table.h"
#include "otlake/otlp/decode.h"
#include "otlake/otlp/proto_writer.h"
#include "otlake/query/query.h"

namespace {

using namespace otlake;
using namespace otlake::bench;

struct Lat {
  std::vector<double> ms, cpu;
  int64_t rows_scanned = 0, bytes_read = 0, row_groups = 0, files = 0;
  double P(double q) {
    std::sort(ms.begin(), ms.end());
    return ms.empty() ? 0 : ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  }
  void Add(double t, const query::ScanStats& s, double cpu_ms = 0) {
    ms.push_back(t);
    cpu.push_back(cpu_ms);
    rows_scanned += s.rows_scanned;
    bytes_read += s.bytes_read;
    row_groups += s.row_groups_read;
    files += s.files_read;
  }
  void Print(const char* what) {
    const double n = std::max<size_t>(ms.size(), 1);
    std::sort(cpu.begin(), cpu.end());
    const double cpu50 = cpu.empty() ? 0 : cpu[cpu.size() / 2];
    std::printf("%-40s p50 %7.1f ms  p99 %7.1f ms  cpu p50 %7.1f ms  (n=%zu; per query: %.0f files, %.1f row groups, %.0f rows scanned, %.1f MB read)\n",
                what, P(0.5), P(0.99), cpu50, ms.size(), files / n, row_groups / n, rows_scanned / n, bytes_read / n / 1e6);
  }
};

}  // namespace

int main(int argc, char** argv) {
  int64_t spans = 10'000'000, flush_rows = 65536;
  int lookups = 200;
  int64_t row_group_rows = lake::WriterOptions{}.max_row_group_rows;
  bool trace_only = false;
  std::string dir = "/tmp/otlake-query-bench";
  bool reuse = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--spans") spans = std::atoll(next().c_str());
    else if (a == "--dir") dir = next();
    else if (a == "--reuse") reuse = true;
    else if (a == "--flush-rows") flush_rows = std::atoll(next().c_str());
    else if (a == "--lookups") lookups = std::atoi(next().c_str());
    else if (a == "--row-group-rows") row_group_rows = std::atoll(next().c_str());
    else if (a == "--trace-only") trace_only = true;
    else {
      std::fprintf(stderr, "usage: query_bench [--spans N] [--dir DIR] [--reuse] [--flush-rows R] [--lookups K] [--row-group-rows G] [--trace-only]\n");
      return 2;
    }
  }
  const std::string instance = dir + "/default";
  const std::string table_dir = instance + "/staging/days/" + kDay + "/otel/spans";
  const std::string ids_file = dir + "/trace_ids.txt";
  std::vector<std::string> sample_ids;
  struct stat st;
  if (reuse && ::stat(ids_file.c_str(), &st) == 0) {
    FILE* f = std::fopen(ids_file.c_str(), "r");
    char line[64];
    while (std::fgets(line, sizeof line, f)) sample_ids.emplace_back(line, 32);
    std::fclose(f);
    std::printf("reusing the generated day in %s (%zu sampled trace ids)\n", dir.c_str(), sample_ids.size());
  } else {
    std::string cmd = "rm -rf '" + dir + "' && mkdir -p '" + table_dir + "'";
    if (std::system(cmd.c_str()) != 0) return 1;
    lake::WriterOptions wo;
    wo.max_row_group_rows = row_group_rows;
    auto writer = lake::DeltaTableWriter::Open(table_dir, table::TableId::kSpans, wo);
    if (!writer.ok()) {
      std::fprintf(stderr, "%s\n", writer.status().ToString().c_str());
      return 1;
    }
    std::mt19937_64 rng(42);
    const int64_t requests = spans / 512;
    const int64_t every = std::max<int64_t>(requests / (lookups * 4), 1);
    std::vector<std::unique_ptr<table::RowBatch>> pending;
    int64_t pending_rows = 0, bytes = 0, files = 0;
    const double c0 = CpuSeconds(), w0 = WallMs();
    double decode_cpu = 0, write_cpu = 0;
    auto flush = [&] {
      std::vector<const table::RowBatch*> ptrs;
      for (auto& b : pending) ptrs.push_back(b.get());
      const double t = CpuSeconds();
      auto r = (*writer)->Append(ptrs);
      write_cpu += CpuSeconds() - t;
      if (!r.ok()) {
        std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
        std::exit(1);
      }
      bytes += r->file_bytes;
      ++files;
      pending.clear();
      pending_rows = 0;
    };
    for (int64_t q = 0; q < requests; ++q) {
      const int64_t t_ms = kDayStartMs + 5000 + q * (86'400'000 - 10'000) / requests;
      std::string body = MakeRequest(rng, t_ms, &sample_ids, q % every == 0);
      otlp::DecodeOptions o;
      o.now_unix_nano = t_ms * 1'000'000;
      otlp::DecodeResult res;
      const double t = CpuSeconds();
      Status s = otlp::DecodeProtobuf(otlp::Signal::kTraces, body, o, &res);
      decode_cpu += CpuSeconds() - t;
      if (!s.ok()) {
        std::fprintf(stderr, "decode: %s\n", s.ToString().c_str());
        return 1;
      }
      auto b = res.batches.Release(table::TableId::kSpans);
      pending_rows += b->num_rows();
      pending.push_back(std::move(b));
      if (pending_rows >= flush_rows) flush();
      if (q % 2000 == 0) {
        std::fprintf(stderr, "\rgenerating: %lld/%lld spans", static_cast<long long>(q * 512),
                     static_cast<long long>(requests * 512));
      }
    }
    if (pending_rows) flush();
    std::fprintf(stderr, "\n");
    std::printf("generated %lld spans in %lld files, %.1f B/span, in %.0f s wall (%.0f s CPU: decode %.0f s, Parquet+Delta %.0f s)\n",
                static_cast<long long>(requests * 512), static_cast<long long>(files),
                static_cast<double>(bytes) / static_cast<double>(requests * 512), (WallMs() - w0) / 1000,
                CpuSeconds() - c0, decode_cpu, write_cpu);
    std::shuffle(sample_ids.begin(), sample_ids.end(), rng);
    if (static_cast<int>(sample_ids.size()) > lookups) sample_ids.resize(lookups);
    FILE* f = std::fopen(ids_file.c_str(), "w");
    for (const auto& id : sample_ids) std::fprintf(f, "%s\n", id.c_str());
    std::fclose(f);
  }

  auto measure = [&](const char* state) {
    std::printf("--- %s ---\n", state);
    query::EngineOptions eo;
    eo.instance_dir = instance;
    eo.limits.timeout_ms = 600'000;
    query::QueryEngine engine(eo);
    auto run = [&](const std::vector<std::pair<std::string, std::string>>& params, Lat* lat, int64_t* rows) {
      auto q = query::ParseQuery(table::TableId::kSpans, params, kDayStartMs + 86'400'000, engine.limits());
      if (!q.ok()) {
        std::fprintf(stderr, "%s\n", q.status().ToString().c_str());
        std::exit(1);
      }
      const double t = WallMs(), c = CpuSeconds();
      auto rs = engine.Run(*q);
      if (!rs.ok()) {
        std::fprintf(stderr, "%s\n", rs.status().ToString().c_str());
        std::exit(1);
      }
      lat->Add(WallMs() - t, rs->stats, (CpuSeconds() - c) * 1000);
      if (rows) *rows = static_cast<int64_t>(rs->rows.size());
    };

    {  // warm the snapshot cache once, as a running server has it
      Lat warm;
      const double t = WallMs();
      run({{"date_from", kDay}, {"max_rows", "1"}}, &warm, nullptr);
      std::printf("first query (loads the Delta snapshot): %.1f ms\n", WallMs() - t);
    }
    Lat trace;
    int64_t found = 0;
    for (const std::string& id : sample_ids) {
      const double t = WallMs(), c = CpuSeconds();
      auto tr = engine.GetTrace(id);
      if (!tr.ok()) {
        std::fprintf(stderr, "%s\n", tr.status().ToString().c_str());
        std::exit(1);
      }
      query::ScanStats s = tr->spans.stats;
      for (const auto* r : {&tr->events, &tr->links}) {
        s.rows_scanned += r->stats.rows_scanned;
        s.bytes_read += r->stats.bytes_read;
        s.row_groups_read += r->stats.row_groups_read;
        s.files_read += r->stats.files_read;
      }
      trace.Add(WallMs() - t, s, (CpuSeconds() - c) * 1000);
      found += tr->spans.rows.size() == 8;
    }
    trace.Print("trace by id, no date range");
    std::printf("  (%lld of %zu traces complete with 8 spans)\n", static_cast<long long>(found), sample_ids.size());

    if (trace_only) return;
    Lat svc;
    int64_t rows = 0;
    std::mt19937_64 rng(7);
    for (int i = 0; i < 20; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "svc-%04d", static_cast<int>(rng() % 1000));
      const int64_t from = kDayStartMs + static_cast<int64_t>(rng() % 23) * 3'600'000;
      run({{"service_name", name}, {"time_ms_from", std::to_string(from)}, {"time_ms_to", std::to_string(from + 3'599'999)}},
          &svc, &rows);
    }
    svc.Print("service + one-hour window, newest 100");

    Lat attr;
    for (int i = 0; i < 3; ++i) {
      run({{"date_from", kDay}, {"attr.app.user.id", "user-" + std::to_string(4242 + i)}, {"max_rows", "1000"}}, &attr, &rows);
    }
    attr.Print("attribute filter over the whole day");
    std::printf("  (last: %lld rows matched)\n", static_cast<long long>(rows));

  };
  measure(reuse ? "reused day (compacted if an earlier run compacted it)" : "as ingested (one file per flush)");

  {  // Compaction as the server runs it during the day (DeltaTableWriter::Compact), to the end.
    lake::WriterOptions wo;
    wo.max_row_group_rows = row_group_rows;
    auto writer = lake::DeltaTableWriter::Open(table_dir, table::TableId::kSpans, wo);
    if (!writer.ok()) return 1;
    lake::CompactOptions co;
    co.min_files = 2;
    const int64_t files0 = (*writer)->num_files();
    const double c0 = CpuSeconds(), w0 = WallMs();
    int64_t runs = 0, rows = 0, bytes_in = 0, bytes_out = 0;
    for (;;) {
      auto r = (*writer)->Compact(co);
      if (!r.ok()) {
        std::fprintf(stderr, "compact: %s\n", r.status().ToString().c_str());
        return 1;
      }
      if (r->version < 0) break;
      ++runs;
      rows += r->rows;
      bytes_in += r->bytes_in;
      bytes_out += r->bytes_out;
    }
    if (runs > 0) {
      std::printf("compaction: %lld runs, %lld -> %lld files, %lld rows in %.1f s wall / %.1f s CPU (%.0f rows/CPU-s); %.1f -> %.1f B/span\n",
                  static_cast<long long>(runs), static_cast<long long>(files0),
                  static_cast<long long>((*writer)->num_files()), static_cast<long long>(rows),
                  (WallMs() - w0) / 1000, CpuSeconds() - c0, rows / std::max(CpuSeconds() - c0, 1e-9),
                  static_cast<double>(bytes_in) / rows, static_cast<double>(bytes_out) / rows);
    }
  }
  measure("after compaction");
  return 0;
}
