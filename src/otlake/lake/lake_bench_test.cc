// Measurements behind docs/delta.md (zstd level, sort orders). Slow-ish (~30 s), so they run
// only with OTLAKE_BENCH=1:
//   OTLAKE_BENCH=1 otlake_lake_test --gtest_filter='LakeBench.*'
// Each prints a table; the assertions only guard against nonsense (an empty or absurd file).
#include <gtest/gtest.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <parquet/page_index.h>
#include <parquet/schema.h>

#include "otlake/lake/data_file.h"
#include "otlake/lake/delta_table.h"
#include "otlake/lake/stats.h"
#include "otlake/lake/test_data.h"
#include "otlake/lake/test_util.h"

namespace otlake::lake {
namespace {

using table::TableId;

bool BenchEnabled() {
  const char* v = std::getenv("OTLAKE_BENCH");
  return v != nullptr && *v != '\0' && *v != '0';
}

double Seconds(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Timing {
  double cpu_s = 1e9;   // best of the repetitions
  double wall_s = 1e9;
  int64_t bytes = 0;
};

// Converts + sorts + writes (+ fsync) `batch` `reps` times; keeps the fastest run.
Timing Measure(const table::RowBatch& batch, const DataFileOptions& o, const std::string& dir,
            int reps = 3) {
  Timing best;
  for (int i = 0; i < reps; ++i) {
    const std::string path = dir + "/bench-" + std::to_string(i) + ".parquet";
    const double c0 = Seconds(CLOCK_PROCESS_CPUTIME_ID), w0 = Seconds(CLOCK_MONOTONIC);
    auto info = WriteDataFile({&batch}, o, path);
    const double c1 = Seconds(CLOCK_PROCESS_CPUTIME_ID), w1 = Seconds(CLOCK_MONOTONIC);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    if (!info.ok()) return best;
    best.cpu_s = std::min(best.cpu_s, c1 - c0);
    best.wall_s = std::min(best.wall_s, w1 - w0);
    best.bytes = info->bytes;
    std::filesystem::remove(path);
  }
  return best;
}

// Metrics as exporters send them: a fixed set of series (8 services x 3 instances x 10
// instruments x 8 attribute sets), each reported every 10 s, requests grouped per instance.
std::unique_ptr<table::RowBatch> MakeSeriesMetrics(int64_t rows) {
  namespace mp = table::metrics_points;
  testing::GenOptions go;
  go.seed = 5;
  auto b = testing::MakeBatch(TableId::kMetricsPoints, rows, go);  // shared columns, types
  auto out = std::make_unique<table::RowBatch>(TableId::kMetricsPoints);
  static const char* kInstr[] = {"http.server.request.duration", "http.server.active_requests",
                                 "process.cpu.time", "process.memory.usage", "jvm.gc.duration",
                                 "db.client.connections.usage", "rpc.server.duration",
                                 "messaging.process.duration", "app.orders.placed",
                                 "app.cart.size"};
  std::mt19937_64 rng(9);
  int64_t r = 0;
  std::vector<double> counters(8 * 3 * 10 * 8, 0.0);
  for (int64_t tick = 0; r < rows; ++tick) {
    for (int svc = 0; svc < 8 && r < rows; ++svc) {
      for (int inst = 0; inst < 3 && r < rows; ++inst) {
        for (int m = 0; m < 10 && r < rows; ++m) {
          for (int a = 0; a < 8 && r < rows; ++a, ++r) {
            const int series = ((svc * 3 + inst) * 10 + m) * 8 + a;
            const bool counter = m % 2 == 0;
            counters[series] += counter ? static_cast<double>(rng() % 100) : 0;
            const double v = counter ? counters[series] : static_cast<double>(rng() % 1000) / 10;
            const int64_t ts_ms = 1795824000000 + tick * 10'000 + svc * 37 + inst * 5;
            for (int c = 0; c < b->num_columns(); ++c) {
              const auto& src = b->column(c);
              switch (c) {
                case table::kServiceName: out->AppendString(c, testing::internal::kServices[svc]); continue;
                case table::kServiceInstanceId:
                  out->AppendString(c, std::string(testing::internal::kServices[svc]) + "-" + std::to_string(inst));
                  continue;
                case table::kEventTs: out->AppendInt(c, ts_ms); continue;
                case mp::kInstrumentName: out->AppendString(c, kInstr[m]); continue;
                case mp::kInstrumentType: out->AppendString(c, counter ? "sum" : "gauge"); continue;
                case mp::kTimeUnixNano: out->AppendInt(c, ts_ms * 1'000'000); continue;
                case mp::kStartTimeUnixNano: out->AppendInt(c, 1795820000000LL * 1'000'000); continue;
                case mp::kValue: out->AppendDouble(c, v); continue;
                case mp::kValueInt: out->AppendNull(c); continue;
                case mp::kPointAttrs: {
                  table::AttrMap m;
                  m.Add("http.route", testing::internal::kRoutes[a], 's');
                  m.Add("http.request.method", testing::internal::kMethods[a % 6], 's');
                  out->AppendMap(c, m);
                  continue;
                }
                case mp::kPointAttrsTypes: out->AppendString(c, "ss"); continue;
                default: break;
              }
              // Everything else: the generated row's value (per-service resource etc. differ a
              // little from svc here, which only makes the comparison conservative).
              const int64_t sr = r % b->num_rows();
              if (src.IsNull(sr)) {
                out->AppendNull(c);
                continue;
              }
              switch (src.type) {
                case table::ColType::kString: out->AppendString(c, src.StringAt(sr)); break;
                case table::ColType::kInt64: out->AppendInt(c, src.ints[sr]); break;
                case table::ColType::kDouble: out->AppendDouble(c, src.doubles[sr]); break;
                case table::ColType::kBool: out->AppendBool(c, src.bools[sr] != 0); break;
                case table::ColType::kMap: {
                  table::AttrMap m;
                  for (int64_t k = src.MapBegin(sr); k < src.MapEnd(sr); ++k) {
                    m.Add(src.MapKey(k), src.MapValue(k), src.val_valid[k] ? 's' : 'e');
                  }
                  out->AppendMap(c, m);
                  break;
                }
              }
            }
            out->FinishRow();
          }
        }
      }
    }
  }
  return out;
}

// Fraction of the file's rows that sit in data pages whose page-index [min, max] of `column`
// admits `value`: what a reader using the page index must decode for `column = value`.
double PageFraction(const std::string& path, const std::string& column, const std::string& value) {
  auto reader = parquet::ParquetFileReader::OpenFile(path);
  auto md = reader->metadata();
  const int col = md->schema()->ColumnIndex(column);
  auto pages = reader->GetPageIndexReader();
  int64_t hit = 0;
  for (int g = 0; g < md->num_row_groups(); ++g) {
    const int64_t rg_rows = md->RowGroup(g)->num_rows();
    auto rg = pages ? pages->RowGroup(g) : nullptr;
    auto ci = rg ? rg->GetColumnIndex(col) : nullptr;
    auto oi = rg ? rg->GetOffsetIndex(col) : nullptr;
    if (!ci || !oi) {
      hit += rg_rows;
      continue;
    }
    const auto& locs = oi->page_locations();
    for (size_t p = 0; p < locs.size(); ++p) {
      const int64_t end = p + 1 < locs.size() ? locs[p + 1].first_row_index : rg_rows;
      if (ci->null_pages()[p]) continue;
      if (ci->encoded_min_values()[p] <= value && value <= ci->encoded_max_values()[p]) {
        hit += end - locs[p].first_row_index;
      }
    }
  }
  return static_cast<double>(hit) / static_cast<double>(md->num_rows());
}

struct Lookup {
  std::string column, value;
};

void CompareOrders(TableId id, const table::RowBatch& batch,
                   const std::vector<std::vector<std::string>>& orders, const Lookup& lookup) {
  testing::TempDir tmp;
  std::printf("%s, %lld rows; pages read for %s = '%s':\n", std::string(table::TableName(id)).c_str(),
              static_cast<long long>(batch.num_rows()), lookup.column.c_str(), lookup.value.c_str());
  for (const auto& key : orders) {
    DataFileOptions o = DataFileOptions::Defaults(id, 3, 128 * 1024);
    o.sort_key = key;
    std::string name;
    for (const auto& k : key) name += (name.empty() ? "" : ", ") + k;
    if (key.empty()) name = "arrival order, unsorted";
    const std::string path = tmp / "order.parquet";
    const double c0 = Seconds(CLOCK_PROCESS_CPUTIME_ID);
    auto info = WriteDataFile({&batch}, o, path);
    const double cpu = Seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    std::printf("  %-66s %6.1f B/row %6.0f ms %5.1f%% rows\n", ("(" + name + ")").c_str(),
                static_cast<double>(info->bytes) / batch.num_rows(), cpu * 1e3,
                100 * PageFraction(path, lookup.column, lookup.value));
    std::filesystem::remove(path);
  }
}

void CompareLevels(TableId id, const table::RowBatch& batch) {
  testing::TempDir tmp;
  std::printf("%s: %lld rows, %.1f MB in RowBatch (%.0f B/row)\n",
              std::string(table::TableName(id)).c_str(), static_cast<long long>(batch.num_rows()),
              batch.ByteSize() / 1e6, static_cast<double>(batch.ByteSize()) / batch.num_rows());
  const double c0 = Seconds(CLOCK_PROCESS_CPUTIME_ID);
  const FileStats s = ComputeStats(id, {&batch});
  std::printf("  stats: %.1f ms CPU (%zu B of JSON)\n",
              (Seconds(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3, s.json.size());
  std::printf("  %-6s %10s %10s %12s %10s\n", "zstd", "cpu_ms", "wall_ms", "rows/cpu_s", "B/row");
  for (int level : {1, 3, 6, 9}) {
    const DataFileOptions o = DataFileOptions::Defaults(id, level, 128 * 1024);
    const Timing r = Measure(batch, o, tmp.path());
    ASSERT_GT(r.bytes, 0);
    std::printf("  %-6d %10.1f %10.1f %12.0f %10.1f\n", level, r.cpu_s * 1e3, r.wall_s * 1e3,
                batch.num_rows() / r.cpu_s, static_cast<double>(r.bytes) / batch.num_rows());
  }
}

TEST(LakeBench, ZstdLevels) {
  if (!BenchEnabled()) GTEST_SKIP() << "set OTLAKE_BENCH=1 to run measurements";
  CompareLevels(TableId::kSpans, *testing::MakeBatch(TableId::kSpans, 100'000));
  CompareLevels(TableId::kLogs, *testing::MakeBatch(TableId::kLogs, 100'000));
  CompareLevels(TableId::kMetricsPoints, *MakeSeriesMetrics(100'000));
}

TEST(LakeBench, SpansAppendEndToEnd) {
  if (!BenchEnabled()) GTEST_SKIP() << "set OTLAKE_BENCH=1 to run measurements";
  testing::TempDir tmp;
  auto spans = testing::MakeBatch(TableId::kSpans, 100'000);
  std::printf("DeltaTableWriter::Append of 100000 spans (stats + convert + sort + write + fsync +"
              " commit):\n");
  for (int level : {1, 3, 6}) {
    WriterOptions o;
    o.zstd_level = level;
    auto w = DeltaTableWriter::Open(tmp / ("t" + std::to_string(level)), TableId::kSpans, o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    double best_cpu = 1e9, best_wall = 1e9;
    int64_t bytes = 0;
    for (int i = 0; i < 3; ++i) {
      const double c0 = Seconds(CLOCK_PROCESS_CPUTIME_ID), w0 = Seconds(CLOCK_MONOTONIC);
      auto r = (*w)->Append({spans.get()});
      const double c1 = Seconds(CLOCK_PROCESS_CPUTIME_ID), w1 = Seconds(CLOCK_MONOTONIC);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      best_cpu = std::min(best_cpu, c1 - c0);
      best_wall = std::min(best_wall, w1 - w0);
      bytes = r->file_bytes;
    }
    std::printf("  zstd %d: %6.1f ms CPU, %6.1f ms wall, %7.0f spans/CPU-s, %5.1f B/span\n", level,
                best_cpu * 1e3, best_wall * 1e3, spans->num_rows() / best_cpu,
                static_cast<double>(bytes) / spans->num_rows());
  }
}

TEST(LakeBench, SpanPagesAndBloomFilters) {
  if (!BenchEnabled()) GTEST_SKIP() << "set OTLAKE_BENCH=1 to run measurements";
  testing::TempDir tmp;
  auto spans = testing::MakeBatch(TableId::kSpans, 100'000);
  const std::string trace(spans->column(table::spans::kTraceId).StringAt(50'000));
  std::printf("spans, 100000 rows, sorted by trace_id; pages read for one trace_id:\n");
  for (int64_t page_rows : {20'000, 8'192, 4'096, 2'048, 1'024}) {
    for (bool bloom : {false, true}) {
      DataFileOptions o = DataFileOptions::Defaults(TableId::kSpans, 3, 128 * 1024);
      o.max_rows_per_page = page_rows;
      if (!bloom) o.bloom_filter_columns.clear();
      const std::string path = tmp / "pages.parquet";
      const double c0 = Seconds(CLOCK_PROCESS_CPUTIME_ID);
      auto info = WriteDataFile({spans.get()}, o, path);
      const double cpu = Seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
      ASSERT_TRUE(info.ok()) << info.status().ToString();
      std::printf("  max_rows_per_page %6lld bloom(trace_id) %-3s %6.1f B/row %6.0f ms %6.2f%% rows\n",
                  static_cast<long long>(page_rows), bloom ? "yes" : "no",
                  static_cast<double>(info->bytes) / spans->num_rows(), cpu * 1e3,
                  100 * PageFraction(path, "trace_id", trace));
      std::filesystem::remove(path);
    }
  }
}

TEST(LakeBench, SortOrders) {
  if (!BenchEnabled()) GTEST_SKIP() << "set OTLAKE_BENCH=1 to run measurements";
  auto spans = testing::MakeBatch(TableId::kSpans, 100'000);
  const std::string trace(spans->column(table::spans::kTraceId).StringAt(50'000));
  CompareOrders(TableId::kSpans, *spans,
                {{},
                 {"event_ts"},
                 {"trace_id", "span_id"},
                 {"trace_id", "start_time_unix_nano", "span_id"},
                 {"service_name", "trace_id", "start_time_unix_nano"},
                 {"service_name", "name", "event_ts"}},
                {"trace_id", trace});
  auto logs = testing::MakeBatch(TableId::kLogs, 100'000);
  CompareOrders(TableId::kLogs, *logs,
                {{},
                 {"event_ts"},
                 {"service_name", "event_ts"},
                 {"service_name", "severity_number", "event_ts"},
                 {"trace_id", "event_ts"}},
                {"service_name", "payment"});
  auto points = MakeSeriesMetrics(100'000);
  CompareOrders(TableId::kMetricsPoints, *points,
                {{},
                 {"event_ts"},
                 {"service_name", "event_ts"},
                 {"service_name", "instrument_name", "event_ts"},
                 {"instrument_name", "service_name", "event_ts"},
                 {"service_name", "instrument_name", "event_ts"}},
                {"instrument_name", "process.cpu.time"});
}

}  // namespace
}  // namespace otlake::lake
