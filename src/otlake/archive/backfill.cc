#include "otlake/archive/backfill.h"

#include <arrow/filesystem/filesystem.h>
#include <arrow/util/key_value_metadata.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <utility>

#include "otlake/archive/marshal.h"
#include "otlake/otlp/decode.h"
#include "otlake/otlp/json_to_proto.h"
#include "otlake/query/query.h"

namespace otlake::archive {
namespace {

constexpr int64_t kNs = 1000000000;
constexpr uint64_t kBackfillDomain = 0x6261636b66696c6cull;  // "backfill": keys apart from the writer's

// A window bound ListWindow can read back exactly: RFC 3339 UTC with nanoseconds.
std::string Rfc3339(int64_t ns) {
  const int64_t secs = ns >= 0 ? ns / kNs : (ns - kNs + 1) / kNs;
  const int64_t frac = ns - secs * kNs;
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  return buf;
}

// More than the longest period of each step (DST, leap days), so [t - it, t + it] spans the
// period holding t and both its neighbours.
int64_t StepSpan(Step s) {
  switch (s) {
    case Step::kMinute: return 120 * kNs;
    case Step::kHour: return 7200 * kNs;
    case Step::kDay: return 26 * 3600 * kNs;
    case Step::kMonth: return 32 * 86400 * kNs;
    case Step::kYear: return 367 * 86400 * kNs;
  }
  return 120 * kNs;
}

struct Period {
  int64_t start = 0, end = 0;  // [start, end) in Unix ns
};

// The partition period holding instant `t`, by the same calendar walk ListWindow lists with.
Result<Period> PeriodOf(const KeyLayoutOptions& lo, Step step, int64_t t) {
  WindowOptions wo;
  wo.s3_partition_format = lo.s3_partition_format;
  wo.s3_partition_timezone = lo.s3_partition_timezone;
  const int64_t span = StepSpan(step);
  wo.starttime = Rfc3339(t - span);
  wo.endtime = Rfc3339(t + span);
  OTLAKE_ASSIGN_OR_RAISE(WindowListing l, ListWindow(wo, Signal::kTraces));
  // partitions[0] starts at the window's start (unaligned); every later one on a boundary.
  for (size_t i = l.partitions.size(); i-- > 1;) {
    if (l.partitions[i].start_unix_nanos <= t) {
      if (i + 1 >= l.partitions.size()) break;
      return Period{l.partitions[i].start_unix_nanos, l.partitions[i + 1].start_unix_nanos};
    }
  }
  return Status::Invalid("s3_partition_format: cannot find the partition of ", Rfc3339(t), " in '",
                         lo.s3_partition_format, "'");
}

// Calls fn with each page of the rows of `table` whose event_ts (ms) is in [from_ms, to_ms],
// oldest first. fn may move the rows out of the page.
Status ForEachPage(query::QueryEngine* engine, table::TableId table, int64_t from_ms, int64_t to_ms,
                   const std::function<Status(query::ResultSet&)>& fn) {
  query::Query q;
  q.table = table;
  q.time_ms_from = from_ms;
  q.time_ms_to = to_ms;
  q.ascending = true;
  q.max_rows = std::min<int64_t>(engine->limits().max_rows, 20000);
  for (;;) {
    OTLAKE_ASSIGN_OR_RAISE(query::ResultSet rs, engine->Run(q));
    if (!rs.warnings.empty()) {
      return Status::IOError("lake: ", rs.warnings.front(), " (configure S3 as for otlake view)");
    }
    const std::string cursor = rs.next_cursor;
    OTLAKE_RETURN_NOT_OK(fn(rs));
    if (cursor.empty()) return Status::OK();
    const size_t us = cursor.find('_');
    q.after_ts = std::stoll(cursor.substr(0, us));
    q.after_skip = std::stoll(cursor.substr(us + 1));
  }
}

// Every row of `table` whose event_ts (ms) is in [from_ms, to_ms], oldest first.
Result<query::ResultSet> ReadAll(query::QueryEngine* engine, table::TableId table, int64_t from_ms, int64_t to_ms) {
  query::ResultSet all;
  bool first = true;
  OTLAKE_RETURN_NOT_OK(ForEachPage(engine, table, from_ms, to_ms, [&](query::ResultSet& rs) {
    if (first) {
      all.table = rs.table;
      all.columns = rs.columns;
      all.kinds = rs.kinds;
      first = false;
    }
    for (auto& row : rs.rows) all.rows.push_back(std::move(row));
    return Status::OK();
  }));
  return all;
}

int Col(const query::ResultSet& rs, std::string_view name) {
  for (size_t j = 0; j < rs.columns.size(); ++j) {
    if (rs.columns[j] == name) return static_cast<int>(j);
  }
  return -1;
}

int64_t IntAt(const query::ResultSet& rs, size_t r, int col) {
  if (col < 0) return 0;
  const auto* v = std::get_if<int64_t>(&rs.rows[r][col]);
  return v ? *v : 0;
}

std::string StrAt(const query::ResultSet& rs, size_t r, int col) {
  if (col < 0) return {};
  const auto* v = std::get_if<std::string>(&rs.rows[r][col]);
  return v ? *v : std::string();
}

// About the bytes a row takes in a request: its text cells' lengths, 8 per other cell.
int64_t Weight(const query::ResultSet& rs, size_t r) {
  int64_t w = 0;
  for (const query::Cell& c : rs.rows[r]) {
    const auto* s = std::get_if<std::string>(&c);
    w += s ? static_cast<int64_t>(s->size()) : 8;
  }
  return w;
}

class Backfill {
 public:
  Backfill(const BackfillOptions& o, KeyLayout layout, Step step, query::QueryEngine* engine)
      : o_(o), layout_(std::move(layout)), step_(step), engine_(engine) {
    const std::string_view enc = ContentEncoding(o.layout.compression);
    if (!enc.empty()) meta_ = arrow::key_value_metadata({"Content-Encoding"}, {std::string(enc)});
  }

  BackfillReport& report() { return report_; }

  // Writes the records of [from, to) (whole partitions), then removes the objects an earlier run
  // left beyond this run's last index of each period written.
  Status Slice(int64_t from, int64_t to) {
    const int64_t from_ms = from / 1000000, to_ms = to / 1000000 - 1;
    for (Signal s : o_.signals) {
      if (s == Signal::kTraces) {
        OTLAKE_RETURN_NOT_OK(Stream(table::TableId::kSpans, from_ms, to_ms, [&](query::ResultSet&& spans, const Period& p) {
          return TraceObject(std::move(spans), p);
        }));
      }
      if (s == Signal::kLogs) {
        OTLAKE_RETURN_NOT_OK(Stream(table::TableId::kLogs, from_ms, to_ms, [&](query::ResultSet&& logs, const Period& p) {
          const int64_t n = static_cast<int64_t>(logs.rows.size());
          SortAll(&logs);
          OTLAKE_ASSIGN_OR_RAISE(std::string json, query::LogsToOtlpJson(logs));
          report_.logs += n;
          report_.records += n;
          return WriteObject(Signal::kLogs, p, std::move(json));
        }));
      }
      if (s == Signal::kMetrics) {
        const query::ResultSet empty_points = EmptyOf(table::TableId::kMetricsPoints);
        const query::ResultSet empty_hist = EmptyOf(table::TableId::kMetricsHist);
        for (table::TableId t : {table::TableId::kMetricsPoints, table::TableId::kMetricsHist}) {
          OTLAKE_RETURN_NOT_OK(Stream(t, from_ms, to_ms, [&](query::ResultSet&& points, const Period& p) {
            const int64_t n = static_cast<int64_t>(points.rows.size());
            SortAll(&points);
            auto json = t == table::TableId::kMetricsPoints ? query::MetricsToOtlpJson(points, empty_hist)
                                                             : query::MetricsToOtlpJson(empty_points, points);
            if (!json.ok()) return json.status();
            report_.points += n;
            report_.records += n;
            return WriteObject(Signal::kMetrics, p, std::move(*json));
          }));
        }
      }
    }
    for (int s = 0; s < 3; ++s) {
      for (const auto& [start, next] : next_index_[s]) {
        OTLAKE_RETURN_NOT_OK(RemoveLeftovers(static_cast<Signal>(s), periods_.at(start), next));
      }
      next_index_[s].clear();
    }
    return Status::OK();
  }

 private:
  static query::ResultSet EmptyOf(table::TableId t) {
    query::ResultSet rs;
    rs.table = t;
    return rs;  // no columns: the converters read no cell of an empty set
  }

  static void SortAll(query::ResultSet* rs) { std::sort(rs->rows.begin(), rs->rows.end()); }

  // Streams the rows of `table` with event_ts in [from_ms, to_ms] (oldest first, a page at a
  // time) into objects: a new object starts at each partition period, and once the rows held
  // weigh max_object_bytes at the next change of event_ts -- rows of one event_ts are never split,
  // so the cuts depend on the rows alone, not on the order of equal timestamps.
  Status Stream(table::TableId table, int64_t from_ms, int64_t to_ms,
                const std::function<Status(query::ResultSet&&, const Period&)>& object) {
    query::ResultSet buf;
    Period cur{1, 0};
    int64_t weight = 0, last_ts = 0;
    int ts_col = -1;
    auto flush = [&]() -> Status {
      if (buf.rows.empty()) return Status::OK();
      query::ResultSet out;
      out.table = buf.table;
      out.columns = buf.columns;
      out.kinds = buf.kinds;
      std::swap(out.rows, buf.rows);
      weight = 0;
      return object(std::move(out), cur);
    };
    OTLAKE_RETURN_NOT_OK(ForEachPage(engine_, table, from_ms, to_ms, [&](query::ResultSet& page) -> Status {
      if (ts_col < 0) {
        buf.table = page.table;
        buf.columns = page.columns;
        buf.kinds = page.kinds;
        ts_col = Col(page, "event_ts");
      }
      for (size_t r = 0; r < page.rows.size(); ++r) {
        const int64_t ts = IntAt(page, r, ts_col);
        const int64_t t = ts * 1000000;
        if (t < cur.start || t >= cur.end) {
          OTLAKE_RETURN_NOT_OK(flush());
          OTLAKE_ASSIGN_OR_RAISE(cur, PeriodOf(o_.layout, step_, t));
        } else if (weight >= o_.max_object_bytes && ts != last_ts) {
          OTLAKE_RETURN_NOT_OK(flush());
        }
        weight += Weight(page, r);
        last_ts = ts;
        buf.rows.push_back(std::move(page.rows[r]));
      }
      return Status::OK();
    }));
    return flush();
  }

  // One object of spans with their events and links.
  Status TraceObject(query::ResultSet&& spans, const Period& p) {
    SortAll(&spans);
    const int st = Col(spans, "start_time_unix_nano"), en = Col(spans, "end_time_unix_nano");
    const int ts = Col(spans, "event_ts"), tcol = Col(spans, "trace_id"), scol = Col(spans, "span_id");
    int64_t lo = INT64_MAX, hi = INT64_MIN, ts_lo = INT64_MAX, ts_hi = INT64_MIN;
    for (size_t r = 0; r < spans.rows.size(); ++r) {
      lo = std::min(lo, IntAt(spans, r, st) / 1000000);
      hi = std::max(hi, std::max(IntAt(spans, r, en), IntAt(spans, r, st)) / 1000000);
      ts_lo = std::min(ts_lo, IntAt(spans, r, ts));
      ts_hi = std::max(ts_hi, IntAt(spans, r, ts));
    }
    // Links are filed at their span's start (the same event_ts); events at their own time:
    // looked for within a minute around the spans' [start, end].
    OTLAKE_ASSIGN_OR_RAISE(query::ResultSet links, ReadAll(engine_, table::TableId::kSpanLinks, ts_lo, ts_hi));
    OTLAKE_ASSIGN_OR_RAISE(query::ResultSet events,
                           ReadAll(engine_, table::TableId::kSpanEvents, lo - 60000, hi + 60000));
    using SpanKey = std::pair<std::string, std::string>;
    std::set<SpanKey> keys;
    for (size_t r = 0; r < spans.rows.size(); ++r) keys.insert({StrAt(spans, r, tcol), StrAt(spans, r, scol)});
    // Only this object's spans' rows, each once, in index order.
    auto own = [&](query::ResultSet* rs, const char* index_col) {
      const int t = Col(*rs, "trace_id"), s = Col(*rs, "span_id"), ix = Col(*rs, index_col);
      std::vector<std::vector<query::Cell>> kept;
      for (size_t r = 0; r < rs->rows.size(); ++r) {
        if (keys.count({StrAt(*rs, r, t), StrAt(*rs, r, s)})) kept.push_back(std::move(rs->rows[r]));
      }
      std::sort(kept.begin(), kept.end(), [&](const auto& a, const auto& b) {
        if (a[t] != b[t]) return a[t] < b[t];
        if (a[s] != b[s]) return a[s] < b[s];
        if (a[ix] != b[ix]) return a[ix] < b[ix];
        return a < b;
      });
      rs->rows = std::move(kept);
    };
    own(&events, "event_index");
    own(&links, "link_index");
    const int64_t n = static_cast<int64_t>(spans.rows.size());
    query::Trace tr;
    tr.spans = std::move(spans);
    tr.events = std::move(events);
    tr.links = std::move(links);
    OTLAKE_ASSIGN_OR_RAISE(std::string json, query::TraceToOtlpJson(tr));
    report_.spans += n;
    report_.records += n;
    return WriteObject(Signal::kTraces, p, std::move(json));
  }

  // Writes object <next index of (signal, period)> from its OTLP/JSON request.
  Status WriteObject(Signal signal, const Period& p, std::string json) {
    OTLAKE_ASSIGN_OR_RAISE(std::string proto, otlp::OtlpJsonToProtobuf(static_cast<otlp::Signal>(signal), json));
    json = std::string();
    std::string storage;
    OTLAKE_ASSIGN_OR_RAISE(std::string_view body, MarshalObject(signal, proto, o_.layout.marshaler, o_.layout.compression,
                                                                o_.compression_level, &storage));
    int64_t& index = next_index_[static_cast<int>(signal)][p.start];
    const std::string key =
        layout_.Key(p.start, signal, BackfillUuid(o_.salt, signal, p.start / 1000000, p.end / 1000000, index));
    OTLAKE_RETURN_NOT_OK(Put(key, body));
    ++index;
    ++report_.objects;
    report_.bytes += static_cast<int64_t>(body.size());
    report_.keys.push_back(key);
    periods_[p.start] = p;
    report_.partitions = static_cast<int64_t>(periods_.size());
    return Status::OK();
  }

  // Objects of (signal, period) from index `next` on are left from a run over more rows.
  Status RemoveLeftovers(Signal signal, const Period& p, int64_t next) {
    for (int64_t j = next;; ++j) {
      const std::string path = o_.bucket + "/" +
                               layout_.Key(p.start, signal, BackfillUuid(o_.salt, signal, p.start / 1000000, p.end / 1000000, j));
      auto info = o_.fs->GetFileInfo(path);
      if (!info.ok()) return Status::IOError("archive backfill: cannot check ", path, ": ", info.status().message());
      if (info->type() != arrow::fs::FileType::File) return Status::OK();
      Status st = o_.fs->DeleteFile(path);
      if (!st.ok()) return Status::IOError("archive backfill: cannot delete ", path, ": ", st.message());
      ++report_.objects_removed;
    }
  }

  Status Put(const std::string& key, std::string_view body) {
    const std::string path = o_.bucket + "/" + key;
    Status st = PutObject(*o_.fs, path, meta_, body, o_.create_dirs);
    if (!st.ok()) return Status::IOError("archive backfill: cannot write ", path, ": ", st.message());
    return Status::OK();
  }

  const BackfillOptions& o_;
  const KeyLayout layout_;
  const Step step_;
  query::QueryEngine* engine_;
  std::shared_ptr<const arrow::KeyValueMetadata> meta_;
  std::map<int64_t, Period> periods_;         // periods written to (the report's partitions)
  std::map<int64_t, int64_t> next_index_[3];  // per signal: period start -> objects written (this slice)
  BackfillReport report_;
};

}  // namespace

std::string BackfillUuid(uint64_t salt, Signal signal, int64_t period_start_ms, int64_t period_end_ms,
                         int64_t index) {
  // Negative "LSNs": the writer's keys use LSN ranges >= 1, and the salt differs too.
  return ArchiveUuidV7(period_start_ms, salt ^ kBackfillDomain, signal, -1 - index, period_end_ms);
}

Status AlignWindow(const KeyLayoutOptions& layout, int64_t from, int64_t to, int64_t* aligned_from,
                   int64_t* aligned_to) {
  if (to <= from) return Status::Invalid("--to: ", Rfc3339(to), " is not after --from ", Rfc3339(from));
  OTLAKE_ASSIGN_OR_RAISE(Step step, InferStep(layout.s3_partition_format));
  OTLAKE_ASSIGN_OR_RAISE(Period first, PeriodOf(layout, step, from));
  OTLAKE_ASSIGN_OR_RAISE(Period last, PeriodOf(layout, step, to - 1));
  *aligned_from = first.start;
  *aligned_to = last.end;
  return Status::OK();
}

Result<BackfillReport> RunBackfill(const BackfillOptions& o, query::QueryEngine* engine) {
  if (o.layout.marshaler == Marshaler::kJsonLines) {
    return Status::Invalid("marshaler: jsonl is not written by the archive (otlp_json or otlp_proto)");
  }
  if (!o.fs) return Status::Invalid("archive: no filesystem");
  if (o.bucket.empty()) return Status::Invalid("s3_bucket: required");
  OTLAKE_ASSIGN_OR_RAISE(KeyLayout layout, KeyLayout::Make(o.layout));
  OTLAKE_ASSIGN_OR_RAISE(Step step, InferStep(o.layout.s3_partition_format));
  int64_t from = 0, to = 0;
  OTLAKE_RETURN_NOT_OK(AlignWindow(o.layout, o.from_unix_nanos, o.to_unix_nanos, &from, &to));
  Backfill b(o, std::move(layout), step, engine);
  BackfillReport& rep = b.report();
  rep.window_from_unix_nanos = from;
  rep.window_to_unix_nanos = to;
  rep.window_done_unix_nanos = from;
  rep.step = std::string(StepName(step));
  // Slices of up to ten minutes of whole partitions (one partition for hourly and coarser
  // layouts): the rows of one slice are in memory at a time.
  for (int64_t s = from; s < to;) {
    OTLAKE_ASSIGN_OR_RAISE(Period p, PeriodOf(o.layout, step, std::min(to, s + 600 * kNs) - 1));
    const int64_t e = std::min(to, p.end);
    OTLAKE_RETURN_NOT_OK(b.Slice(s, e));
    rep.window_done_unix_nanos = e;
    if (o.progress) o.progress(rep);
    s = e;
  }
  return rep;
}

}  // namespace otlake::archive
