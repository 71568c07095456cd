#include "otlake/archive/backfill.h"

#include <arrow/filesystem/filesystem.h>
#include <arrow/io/interfaces.h>
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

// Every row of `table` whose event_ts (ms) is in [from_ms, to_ms], oldest first.
Result<query::ResultSet> ReadAll(query::QueryEngine* engine, table::TableId table, int64_t from_ms, int64_t to_ms) {
  query::Query q;
  q.table = table;
  q.time_ms_from = from_ms;
  q.time_ms_to = to_ms;
  q.ascending = true;
  q.max_rows = engine->limits().max_rows;
  query::ResultSet all;
  bool first = true;
  for (;;) {
    OTLAKE_ASSIGN_OR_RAISE(query::ResultSet rs, engine->Run(q));
    if (!rs.warnings.empty()) {
      return Status::IOError("lake: ", rs.warnings.front(), " (configure S3 as for otlake view)");
    }
    if (first) {
      all.table = rs.table;
      all.columns = rs.columns;
      all.kinds = rs.kinds;
      first = false;
    }
    for (auto& row : rs.rows) all.rows.push_back(std::move(row));
    if (rs.next_cursor.empty()) break;
    const size_t us = rs.next_cursor.find('_');
    q.after_ts = std::stoll(rs.next_cursor.substr(0, us));
    q.after_skip = std::stoll(rs.next_cursor.substr(us + 1));
  }
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

// The rows `rows` of `rs`, moved out of it (each row goes to one object, rendered once).
query::ResultSet Take(query::ResultSet& rs, const std::vector<size_t>& rows) {
  query::ResultSet out;
  out.table = rs.table;
  out.columns = rs.columns;
  out.kinds = rs.kinds;
  out.rows.reserve(rows.size());
  for (size_t r : rows) out.rows.push_back(std::move(rs.rows[r]));
  return out;
}

// Canonical order: whole rows compared cell by cell (the same content gives the same objects).
void SortRows(const query::ResultSet& rs, std::vector<size_t>* rows) {
  std::sort(rows->begin(), rows->end(), [&](size_t a, size_t b) { return rs.rows[a] < rs.rows[b]; });
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

// Consecutive runs of `n` items whose weights add up to about `max` each (at least one item):
// the object boundaries, a function of the rows alone so the same rows give the same objects.
std::vector<std::pair<size_t, size_t>> Cut(size_t n, const std::function<int64_t(size_t)>& weight, int64_t max) {
  std::vector<std::pair<size_t, size_t>> parts;
  size_t from = 0;
  int64_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t w = weight(i);
    if (i > from && sum + w > max) {
      parts.emplace_back(from, i);
      from = i;
      sum = 0;
    }
    sum += w;
  }
  if (n > from) parts.emplace_back(from, n);
  return parts;
}

class Backfill {
 public:
  Backfill(const BackfillOptions& o, KeyLayout layout, Step step, query::QueryEngine* engine)
      : o_(o), layout_(std::move(layout)), step_(step), engine_(engine) {
    const std::string_view enc = ContentEncoding(o.layout.compression);
    if (!enc.empty()) meta_ = arrow::key_value_metadata({"Content-Encoding"}, {std::string(enc)});
  }

  BackfillReport& report() { return report_; }

  Status Slice(int64_t from, int64_t to) {
    const int64_t from_ms = from / 1000000, to_ms = to / 1000000 - 1;
    for (Signal s : o_.signals) {
      if (s == Signal::kTraces) OTLAKE_RETURN_NOT_OK(Traces(from_ms, to_ms));
      if (s == Signal::kLogs) OTLAKE_RETURN_NOT_OK(Logs(from_ms, to_ms));
      if (s == Signal::kMetrics) OTLAKE_RETURN_NOT_OK(Metrics(from_ms, to_ms));
    }
    return Status::OK();
  }

 private:
  // Rows of `rs` by the partition period of their event_ts, in time order.
  Result<std::map<int64_t, std::pair<Period, std::vector<size_t>>>> ByPeriod(const query::ResultSet& rs) {
    std::map<int64_t, std::pair<Period, std::vector<size_t>>> out;
    const int ts = Col(rs, "event_ts");
    Period cur{1, 0};
    for (size_t r = 0; r < rs.rows.size(); ++r) {
      const int64_t t = IntAt(rs, r, ts) * 1000000;
      if (t < cur.start || t >= cur.end) {
        OTLAKE_ASSIGN_OR_RAISE(cur, PeriodOf(o_.layout, step_, t));
      }
      auto& slot = out[cur.start];
      slot.first = cur;
      slot.second.push_back(r);
    }
    return out;
  }

  // Writes one period's objects for `signal`: render(j) gives object j of `n` as OTLP/JSON.
  Status WritePeriod(Signal signal, const Period& p, int64_t n, const std::function<Result<std::string>(int64_t)>& render) {
    const auto osig = static_cast<otlp::Signal>(signal);
    const int64_t start_ms = p.start / 1000000, end_ms = p.end / 1000000;
    for (int64_t j = 0; j < n; ++j) {
      OTLAKE_ASSIGN_OR_RAISE(std::string json, render(j));
      OTLAKE_ASSIGN_OR_RAISE(std::string proto, otlp::OtlpJsonToProtobuf(osig, json));
      json = std::string();
      OTLAKE_ASSIGN_OR_RAISE(std::string body,
                             MarshalObject(signal, proto, o_.layout.marshaler, o_.layout.compression, o_.compression_level));
      const std::string key = layout_.Key(p.start, signal, BackfillUuid(o_.salt, signal, start_ms, end_ms, j));
      OTLAKE_RETURN_NOT_OK(Put(key, body));
      ++report_.objects;
      report_.bytes += static_cast<int64_t>(body.size());
      report_.keys.push_back(key);
    }
    // Objects with later indexes are left from a run over more rows: this run replaces them.
    for (int64_t j = n;; ++j) {
      const std::string path =
          o_.bucket + "/" + layout_.Key(p.start, signal, BackfillUuid(o_.salt, signal, start_ms, end_ms, j));
      auto info = o_.fs->GetFileInfo(path);
      if (!info.ok()) return Status::IOError("archive backfill: cannot check ", path, ": ", info.status().message());
      if (info->type() != arrow::fs::FileType::File) break;
      Status st = o_.fs->DeleteFile(path);
      if (!st.ok()) return Status::IOError("archive backfill: cannot delete ", path, ": ", st.message());
      ++report_.objects_removed;
    }
    periods_.insert(p.start);
    report_.partitions = static_cast<int64_t>(periods_.size());
    return Status::OK();
  }

  Status Put(const std::string& key, const std::string& body) {
    const std::string path = o_.bucket + "/" + key;
    if (o_.create_dirs) {
      Status made = o_.fs->CreateDir(path.substr(0, path.rfind('/')), /*recursive=*/true);
      if (!made.ok()) return Status::IOError("archive backfill: cannot write ", path, ": ", made.message());
    }
    auto out = o_.fs->OpenOutputStream(path, meta_);
    if (!out.ok()) return Status::IOError("archive backfill: cannot write ", path, ": ", out.status().message());
    Status st = (*out)->Write(body.data(), static_cast<int64_t>(body.size()));
    Status closed = (*out)->Close();
    if (st.ok()) st = closed;
    if (!st.ok()) return Status::IOError("archive backfill: cannot write ", path, ": ", st.message());
    return Status::OK();
  }

  Status Traces(int64_t from_ms, int64_t to_ms) {
    OTLAKE_ASSIGN_OR_RAISE(query::ResultSet spans, ReadAll(engine_, table::TableId::kSpans, from_ms, to_ms));
    if (spans.rows.empty()) return Status::OK();
    OTLAKE_ASSIGN_OR_RAISE(query::ResultSet links, ReadAll(engine_, table::TableId::kSpanLinks, from_ms, to_ms));
    // Events have their own time: look within a minute around the spans' [start, end].
    const int st = Col(spans, "start_time_unix_nano"), en = Col(spans, "end_time_unix_nano");
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t r = 0; r < spans.rows.size(); ++r) {
      lo = std::min(lo, IntAt(spans, r, st) / 1000000);
      hi = std::max(hi, std::max(IntAt(spans, r, en), IntAt(spans, r, st)) / 1000000);
    }
    OTLAKE_ASSIGN_OR_RAISE(query::ResultSet events,
                           ReadAll(engine_, table::TableId::kSpanEvents, lo - 60000, hi + 60000));
    using SpanKey = std::pair<std::string, std::string>;
    auto by_span = [](const query::ResultSet& rs, const char* index_col) {
      std::map<SpanKey, std::vector<size_t>> m;
      const int t = Col(rs, "trace_id"), s = Col(rs, "span_id"), ix = Col(rs, index_col);
      for (size_t r = 0; r < rs.rows.size(); ++r) m[{StrAt(rs, r, t), StrAt(rs, r, s)}].push_back(r);
      for (auto& [k, v] : m) {
        std::sort(v.begin(), v.end(), [&](size_t a, size_t b) { return IntAt(rs, a, ix) < IntAt(rs, b, ix); });
      }
      return m;
    };
    const auto events_of = by_span(events, "event_index");
    const auto links_of = by_span(links, "link_index");
    std::vector<bool> event_taken(events.rows.size()), link_taken(links.rows.size());
    const int tcol = Col(spans, "trace_id"), scol = Col(spans, "span_id");
    OTLAKE_ASSIGN_OR_RAISE(auto periods, ByPeriod(spans));
    for (auto& [start, pr] : periods) {
      std::vector<size_t>& rows = pr.second;
      SortRows(spans, &rows);
      // Each span with its events and links (an event or link goes with the first span of its id).
      std::vector<std::vector<size_t>> ev(rows.size()), lk(rows.size());
      for (size_t i = 0; i < rows.size(); ++i) {
        const SpanKey key{StrAt(spans, rows[i], tcol), StrAt(spans, rows[i], scol)};
        auto claim = [&](const auto& index, std::vector<bool>& taken, std::vector<size_t>* out) {
          if (auto it = index.find(key); it != index.end()) {
            for (size_t r : it->second) {
              if (!taken[r]) {
                taken[r] = true;
                out->push_back(r);
              }
            }
          }
        };
        claim(events_of, event_taken, &ev[i]);
        claim(links_of, link_taken, &lk[i]);
      }
      const auto parts = Cut(
          rows.size(),
          [&](size_t i) {
            int64_t w = Weight(spans, rows[i]);
            for (size_t r : ev[i]) w += Weight(events, r);
            for (size_t r : lk[i]) w += Weight(links, r);
            return w;
          },
          o_.max_object_bytes);
      auto render = [&](int64_t j) -> Result<std::string> {
        std::vector<size_t> part, pe, pl;
        for (size_t i = parts[j].first; i < parts[j].second; ++i) {
          part.push_back(rows[i]);
          pe.insert(pe.end(), ev[i].begin(), ev[i].end());
          pl.insert(pl.end(), lk[i].begin(), lk[i].end());
        }
        query::Trace tr;
        tr.spans = Take(spans, part);
        tr.events = Take(events, pe);
        tr.links = Take(links, pl);
        return query::TraceToOtlpJson(tr);
      };
      OTLAKE_RETURN_NOT_OK(WritePeriod(Signal::kTraces, pr.first, static_cast<int64_t>(parts.size()), render));
      report_.spans += static_cast<int64_t>(rows.size());
      report_.records += static_cast<int64_t>(rows.size());
    }
    return Status::OK();
  }

  Status Logs(int64_t from_ms, int64_t to_ms) {
    OTLAKE_ASSIGN_OR_RAISE(query::ResultSet logs, ReadAll(engine_, table::TableId::kLogs, from_ms, to_ms));
    OTLAKE_ASSIGN_OR_RAISE(auto periods, ByPeriod(logs));
    for (auto& [start, pr] : periods) {
      std::vector<size_t>& rows = pr.second;
      SortRows(logs, &rows);
      const auto parts = Cut(rows.size(), [&](size_t i) { return Weight(logs, rows[i]); }, o_.max_object_bytes);
      auto render = [&](int64_t j) {
        return query::LogsToOtlpJson(
            Take(logs, std::vector<size_t>(rows.begin() + static_cast<std::ptrdiff_t>(parts[j].first),
                                           rows.begin() + static_cast<std::ptrdiff_t>(parts[j].second))));
      };
      OTLAKE_RETURN_NOT_OK(WritePeriod(Signal::kLogs, pr.first, static_cast<int64_t>(parts.size()), render));
      report_.logs += static_cast<int64_t>(rows.size());
      report_.records += static_cast<int64_t>(rows.size());
    }
    return Status::OK();
  }

  Status Metrics(int64_t from_ms, int64_t to_ms) {
    OTLAKE_ASSIGN_OR_RAISE(query::ResultSet points, ReadAll(engine_, table::TableId::kMetricsPoints, from_ms, to_ms));
    OTLAKE_ASSIGN_OR_RAISE(query::ResultSet hist, ReadAll(engine_, table::TableId::kMetricsHist, from_ms, to_ms));
    OTLAKE_ASSIGN_OR_RAISE(auto pp, ByPeriod(points));
    OTLAKE_ASSIGN_OR_RAISE(auto hp, ByPeriod(hist));
    std::map<int64_t, Period> all;
    for (auto& [s, pr] : pp) all[s] = pr.first;
    for (auto& [s, pr] : hp) all[s] = pr.first;
    for (auto& [start, period] : all) {
      std::vector<size_t> prow, hrow;
      if (auto it = pp.find(start); it != pp.end()) prow = it->second.second;
      if (auto it = hp.find(start); it != hp.end()) hrow = it->second.second;
      SortRows(points, &prow);
      SortRows(hist, &hrow);
      const int64_t n = static_cast<int64_t>(prow.size() + hrow.size());
      // Number points first, then histogram-like ones, cut by weight.
      auto at = [&](size_t i) -> std::pair<query::ResultSet*, size_t> {
        return i < prow.size() ? std::make_pair(&points, prow[i]) : std::make_pair(&hist, hrow[i - prow.size()]);
      };
      const auto parts = Cut(
          static_cast<size_t>(n), [&](size_t i) { return Weight(*at(i).first, at(i).second); }, o_.max_object_bytes);
      auto render = [&](int64_t j) {
        std::vector<size_t> pp_rows, hp_rows;
        for (size_t i = parts[j].first; i < parts[j].second; ++i) {
          (at(i).first == &points ? pp_rows : hp_rows).push_back(at(i).second);
        }
        return query::MetricsToOtlpJson(Take(points, pp_rows), Take(hist, hp_rows));
      };
      OTLAKE_RETURN_NOT_OK(WritePeriod(Signal::kMetrics, period, static_cast<int64_t>(parts.size()), render));
      report_.points += n;
      report_.records += n;
    }
    return Status::OK();
  }

  const BackfillOptions& o_;
  const KeyLayout layout_;
  const Step step_;
  query::QueryEngine* engine_;
  std::shared_ptr<const arrow::KeyValueMetadata> meta_;
  std::set<int64_t> periods_;
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
