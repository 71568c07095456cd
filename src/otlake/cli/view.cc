#include "otlake/cli/view.h"
#include "otlake/cli/ship_cmds.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>

#include "otlake/common/file_util.h"
#include "otlake/common/time_util.h"
#include "otlake/query/query.h"

namespace otlake::cli {
namespace {

using query::ResultSet;
using table::TableId;

int TerminalWidth() {
  struct winsize ws {};
  if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  return 0;
}

bool ParseTable(const std::string& s, TableId* t) {
  if (s.size() == 1 && s[0] >= '1' && s[0] <= '6') {
    *t = table::kAllTables[s[0] - '1'];
    return true;
  }
  return table::ParseTableName(s, t);
}

// Asks for a table on a terminal (Depths' picker); false if not interactive or no answer.
bool PickTable(TableId* t) {
  if (!::isatty(STDIN_FILENO) || !::isatty(STDOUT_FILENO)) return false;
  std::cout << "Tables:\n";
  for (int i = 0; i < table::kNumTables; ++i) {
    std::cout << "  " << i + 1 << ") " << table::TableName(table::kAllTables[i]) << "\n";
  }
  std::cout << "Pick a table [1-6]: " << std::flush;
  std::string line;
  if (!std::getline(std::cin, line)) return false;
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  return ParseTable(line, t);
}

std::string Text(const query::Cell& c) {
  if (const auto* s = std::get_if<std::string>(&c)) return *s;
  if (const auto* i = std::get_if<int64_t>(&c)) return std::to_string(*i);
  return "";
}

int Column(const ResultSet& rs, std::string_view name) {
  for (size_t j = 0; j < rs.columns.size(); ++j) {
    if (rs.columns[j] == name) return static_cast<int>(j);
  }
  return -1;
}

// "YYYY-MM-DD HH:MM:SS.mmm" (UTC) of a Unix time in ms; "" for 0 (OTLP's "absent").
std::string ReadableTime(int64_t unix_ms) {
  if (unix_ms == 0) return "";
  std::string iso = UtcIso8601(unix_ms);  // YYYY-MM-DDTHH:MM:SS.mmmZ
  if (iso.size() > 10 && iso[10] == 'T') iso[10] = ' ';
  if (!iso.empty() && iso.back() == 'Z') iso.pop_back();
  return iso;
}

bool IsTimeColumn(std::string_view c) {
  return c == "event_ts" || (c.size() > 10 && c.substr(c.size() - 10) == "_unix_nano");
}

// One column of the readable default table: its header and the table columns it is made from
// (the first non-empty one is shown, e.g. severity_text else severity_number).
struct DefaultColumn {
  const char* header;
  std::vector<const char*> sources;
};

// The columns `otlake view` shows in a table when -s is not given (docs/cli.md).
std::vector<DefaultColumn> DefaultColumns(TableId t) {
  switch (t) {
    case TableId::kSpans:
      return {{"start", {"start_time_unix_nano"}}, {"service", {"service_name"}}, {"name", {"name"}},
              {"duration_ms", {"duration_ms"}}, {"status", {"status_code"}}, {"trace_id", {"trace_id"}}};
    case TableId::kSpanEvents:
      return {{"time", {"time_unix_nano", "event_ts"}}, {"service", {"service_name"}}, {"name", {"name"}},
              {"trace_id", {"trace_id"}}, {"span_id", {"span_id"}}};
    case TableId::kSpanLinks:
      return {{"start", {"event_ts"}}, {"service", {"service_name"}}, {"trace_id", {"trace_id"}},
              {"span_id", {"span_id"}}, {"linked_trace_id", {"linked_trace_id"}},
              {"linked_span_id", {"linked_span_id"}}};
    case TableId::kLogs:
      return {{"time", {"event_ts"}}, {"service", {"service_name"}},
              {"severity", {"severity_text", "severity_number"}}, {"body", {"body"}}, {"trace_id", {"trace_id"}}};
    case TableId::kMetricsPoints:
      return {{"time", {"time_unix_nano", "event_ts"}}, {"service", {"service_name"}},
              {"instrument", {"instrument_name"}}, {"type", {"instrument_type"}}, {"value", {"value"}},
              {"unit", {"unit"}}, {"attributes", {"point_attrs_json"}}};
    case TableId::kMetricsHist:
      return {{"time", {"time_unix_nano", "event_ts"}}, {"service", {"service_name"}},
              {"instrument", {"instrument_name"}}, {"type", {"instrument_type"}}, {"count", {"count"}},
              {"sum", {"sum"}}, {"unit", {"unit"}}, {"attributes", {"point_attrs_json"}}};
  }
  return {};
}

std::string DefaultSelect(TableId t) {
  std::string sel;
  for (const DefaultColumn& d : DefaultColumns(t)) {
    for (const char* s : d.sources) {
      if (!sel.empty()) sel += ',';
      sel += s;
    }
  }
  return sel;
}

// OTLP's short name of a severity number: 9 INFO, 10 INFO2, 17 ERROR, ...; the number if outside 1-24.
std::string SeverityName(int64_t n) {
  static const char* kNames[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
  if (n < 1 || n > 24) return std::to_string(n);
  std::string s = kNames[(n - 1) / 4];
  if ((n - 1) % 4) s += std::to_string((n - 1) % 4 + 1);
  return s;
}

bool Empty(const query::Cell& c) {
  if (std::holds_alternative<std::monostate>(c)) return true;
  if (const auto* s = std::get_if<std::string>(&c)) return s->empty();
  if (const auto* i = std::get_if<int64_t>(&c)) return *i == 0;
  return false;
}

// A time cell (ms for event_ts, ns for *_unix_nano) as a readable UTC string cell.
query::Cell TimeCell(const std::string& column, const query::Cell& c) {
  const auto* v = std::get_if<int64_t>(&c);
  if (!v) return c;
  return ReadableTime(column == "event_ts" ? *v : *v / 1000000);
}

// The rows as a terminal shows them: the default columns under short headers (when `defaults`),
// and every time column as a readable UTC timestamp.
ResultSet ForDisplay(const ResultSet& rs, bool defaults) {
  ResultSet out;
  out.table = rs.table;
  if (!defaults) {
    out = rs;
    for (size_t j = 0; j < rs.columns.size(); ++j) {
      if (!IsTimeColumn(rs.columns[j]) || rs.kinds[j] != query::CellKind::kInt64) continue;
      out.kinds[j] = query::CellKind::kString;
      for (auto& row : out.rows) row[j] = TimeCell(rs.columns[j], row[j]);
    }
    return out;
  }
  std::vector<std::vector<int>> src;
  for (const DefaultColumn& d : DefaultColumns(rs.table)) {
    std::vector<int> cols;
    for (const char* s : d.sources) cols.push_back(Column(rs, s));
    if (cols.empty() || cols.front() < 0) continue;
    out.columns.push_back(d.header);
    const bool time = IsTimeColumn(d.sources[0]);
    out.kinds.push_back(time ? query::CellKind::kString : rs.kinds[cols.front()]);
    src.push_back(std::move(cols));
  }
  for (const auto& row : rs.rows) {
    std::vector<query::Cell> r;
    for (size_t j = 0; j < src.size(); ++j) {
      int pick = src[j].front();
      for (int c : src[j]) {
        if (c >= 0 && !Empty(row[c])) {
          pick = c;
          break;
        }
      }
      query::Cell cell = row[pick];
      if (IsTimeColumn(rs.columns[pick])) cell = TimeCell(rs.columns[pick], cell);
      if (out.kinds[j] == query::CellKind::kString && std::holds_alternative<int64_t>(cell)) {
        cell = SeverityName(std::get<int64_t>(cell));  // the number standing in for an empty text
      }
      r.push_back(std::move(cell));
    }
    out.rows.push_back(std::move(r));
  }
  return out;
}

// The instance id is the last component of its root folder.
std::string InstanceIdOf(const std::string& root) {
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  const size_t p = r.rfind('/');
  return p == std::string::npos ? r : r.substr(p + 1);
}

bool InstanceExists(const std::string& root) {
  if (PathExists(root)) return true;
  std::cerr << "otlake: no instance at " << root << " (run 'otlake init' first)\n";
  return false;
}

}  // namespace

std::vector<OptionSpec> ViewSpecs() {
  std::vector<OptionSpec> v = {{"I", "instance-id", "ID", "default", "Instance name (a folder under --dir)"},
          {"D", "dir", "DIR", "./otlake_data", "Parent directory of instances"},
          {"t", "table", "TABLE", "", "spans, span_events, span_links, logs, metrics_points, metrics_hist (or 1-6)"},
          {"S", "storage", "WHERE", "auto", "auto, local or s3"},
          {"n", "rows", "N", "10", "Latest N rows by event_ts"},
          {"s", "select", "COLS", "", "Comma-separated columns to show ('*' for all)"},
          {"", "all-columns", "", "", "Show every column (same as -s '*')"},
          {"", "date-from", "YYYY-MM-DD", "", "First UTC day (arrival day folders)"},
          {"", "date-to", "YYYY-MM-DD", "", "Last UTC day"},
          {"", "order", "ORDER", "desc", "desc (newest first) or asc"},
          {"", "json", "", "", "Print {\"rows\":[...],\"count\":n}"},
          {"", "ndjson", "", "", "Print one JSON object per line"}};
  for (auto& s : S3Specs()) v.push_back(s);
  return v;
}

std::vector<OptionSpec> TraceSpecs() {
  std::vector<OptionSpec> v = {{"I", "instance-id", "ID", "default", "Instance name (a folder under --dir)"},
          {"D", "dir", "DIR", "./otlake_data", "Parent directory of instances"},
          {"S", "storage", "WHERE", "auto", "auto, local or s3"},
          {"", "json", "", "", "Print the spans as JSON (one object per line)"}};
  for (auto& s : S3Specs()) v.push_back(s);
  return v;
}

int RunView(const Args& a, const std::string& root) {
  if (!InstanceExists(root)) return 1;
  TableId t;
  const std::string& tname = a.Get("table");
  if (tname.empty()) {
    if (!PickTable(&t)) {
      std::cerr << "otlake view: -t TABLE is required (spans, span_events, span_links, logs, "
                   "metrics_points, metrics_hist)\n";
      return 2;
    }
  } else if (!ParseTable(tname, &t)) {
    std::cerr << "otlake view: unknown table '" << tname
              << "' (spans, span_events, span_links, logs, metrics_points, metrics_hist)\n";
    return 2;
  }
  // Flags and filters become the API's parameters, so both accept exactly the same things.
  std::vector<std::pair<std::string, std::string>> params = {
      {"max_rows", a.Get("rows")}, {"storage", a.Get("storage")}, {"order", a.Get("order")}};
  // A table shows a readable default set of columns unless -s names others; -s '*' or
  // --all-columns shows every column; JSON has every column unless -s narrows it.
  const bool json = a.Flag("ndjson") || a.Flag("json");
  const bool all = a.Flag("all-columns") || a.Get("select") == "*";
  const bool defaults = !json && !all && !a.Has("select");
  if (!all && a.Has("select")) params.emplace_back("select", a.Get("select"));
  if (defaults) params.emplace_back("select", DefaultSelect(t));
  if (a.Has("date-from")) params.emplace_back("date_from", a.Get("date-from"));
  if (a.Has("date-to")) params.emplace_back("date_to", a.Get("date-to"));
  for (const std::string& f : a.positional()) {
    size_t eq = f.find('=');
    params.emplace_back(f.substr(0, eq), eq == std::string::npos ? "" : f.substr(eq + 1));
  }
  query::EngineOptions eo;
  eo.instance_dir = root;
  if (!ConfigureEngineS3(a, InstanceIdOf(root), root, &eo)) return 1;
  query::QueryEngine engine(eo);
  auto q = query::ParseQuery(t, params, NowUnixMillis(), engine.limits());
  if (!q.ok()) {
    std::cerr << "otlake view: " << q.status().message() << "\n";
    return 2;
  }
  auto rs = engine.Run(*q);
  if (!rs.ok()) {
    std::cerr << "otlake view: " << rs.status().message() << "\n";
    return rs.status().IsInvalid() ? 2 : 4;
  }
  for (const std::string& w : rs->warnings) std::cerr << "otlake view: warning: " << w << "\n";
  std::string out;
  if (a.Flag("ndjson")) {
    for (size_t r = 0; r < rs->rows.size(); ++r) {
      query::AppendRowJson(*rs, r, &out);
      out += '\n';
    }
  } else if (a.Flag("json")) {
    out = "{\"rows\":";
    const int64_t n = query::AppendRowsJson(*rs, 0, rs->rows.size(), INT64_MAX, &out);
    out += ",\"count\":" + std::to_string(n) + "}\n";
  } else if (rs->rows.empty()) {
    std::cerr << "No rows in " << table::TableName(t)
              << (q->day_from ? " for those days" : " in the last 24 hours") << ".\n";
    return 0;
  } else {
    out = query::FormatTable(ForDisplay(*rs, defaults), TerminalWidth());
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int RunTrace(const Args& a, const std::string& root) {
  if (!InstanceExists(root)) return 1;
  if (a.positional().size() != 1) {
    std::cerr << "otlake trace: give exactly one trace id (32 hex characters)\n";
    return 2;
  }
  std::string id = a.positional()[0];
  if (!query::IsHexId(id, 32)) {
    std::cerr << "otlake trace: '" << id << "' is not a trace id (32 hex characters)\n";
    return 2;
  }
  for (char& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string& s = a.Get("storage");
  query::Storage storage = s == "local" ? query::Storage::kLocal
                           : s == "s3"  ? query::Storage::kS3
                                        : query::Storage::kAuto;
  if (s != "auto" && s != "local" && s != "s3") {
    std::cerr << "otlake trace: --storage must be auto, local or s3\n";
    return 2;
  }
  query::EngineOptions eo;
  eo.instance_dir = root;
  if (!ConfigureEngineS3(a, InstanceIdOf(root), root, &eo)) return 1;
  query::QueryEngine engine(eo);
  auto tr = engine.GetTrace(id, storage);
  if (!tr.ok()) {
    std::cerr << "otlake trace: " << tr.status().message() << "\n";
    return tr.status().IsInvalid() ? 2 : 4;
  }
  for (const std::string& w : tr->spans.warnings) std::cerr << "otlake trace: warning: " << w << "\n";
  const ResultSet& sp = tr->spans;
  if (sp.rows.empty()) {
    std::cerr << "Trace " << id << " not found.\n";
    return 1;
  }
  if (a.Flag("json")) {
    std::string out;
    for (size_t r = 0; r < sp.rows.size(); ++r) {
      query::AppendRowJson(sp, r, &out);
      out += '\n';
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  // An indented tree: children under their parent, by start time; orphans as roots.
  const int c_id = Column(sp, "span_id"), c_parent = Column(sp, "parent_span_id"),
            c_name = Column(sp, "name"), c_svc = Column(sp, "service_name"),
            c_start = Column(sp, "start_time_unix_nano"), c_end = Column(sp, "end_time_unix_nano"),
            c_status = Column(sp, "status_code"), c_kind = Column(sp, "kind");
  std::map<std::string, size_t> by_id;
  for (size_t r = 0; r < sp.rows.size(); ++r) by_id[Text(sp.rows[r][c_id])] = r;
  std::map<std::string, std::vector<size_t>> children;
  std::vector<size_t> roots;
  for (size_t r = 0; r < sp.rows.size(); ++r) {
    const std::string parent = Text(sp.rows[r][c_parent]);
    if (!parent.empty() && by_id.count(parent) && parent != Text(sp.rows[r][c_id])) {
      children[parent].push_back(r);
    } else {
      roots.push_back(r);
    }
  }
  auto start = [&](size_t r) {
    const auto* v = std::get_if<int64_t>(&sp.rows[r][c_start]);
    return v ? *v : 0;
  };
  auto by_start = [&](size_t x, size_t y) { return start(x) < start(y); };
  std::sort(roots.begin(), roots.end(), by_start);
  for (auto& [_, v] : children) std::sort(v.begin(), v.end(), by_start);
  const int64_t t0 = roots.empty() ? 0 : start(roots.front());
  // Each span's events, by time, printed beneath it with their offset from the trace's start.
  const ResultSet& ev = tr->events;
  const int e_span = Column(ev, "span_id"), e_time = Column(ev, "time_unix_nano"), e_name = Column(ev, "name");
  std::map<std::string, std::vector<size_t>> events_of;
  if (e_span >= 0 && e_time >= 0 && e_name >= 0) {
    for (size_t r = 0; r < ev.rows.size(); ++r) events_of[Text(ev.rows[r][e_span])].push_back(r);
  }
  auto ev_time = [&](size_t r) {
    const auto* v = std::get_if<int64_t>(&ev.rows[r][e_time]);
    return v ? *v : 0;
  };
  for (auto& [_, v] : events_of) {
    std::stable_sort(v.begin(), v.end(), [&](size_t x, size_t y) { return ev_time(x) < ev_time(y); });
  }
  const int c_msg = Column(sp, "status_message");
  size_t errors = 0;
  for (const auto& row : sp.rows) errors += Text(row[c_status]) == "ERROR";
  std::cout << "trace " << id << ": " << sp.rows.size() << " spans, " << tr->events.rows.size()
            << " events, " << tr->links.rows.size() << " links";
  if (errors) std::cout << ", " << errors << (errors == 1 ? " error" : " errors");
  if (t0) std::cout << ", started " << ReadableTime(t0 / 1000000) << " UTC";
  std::cout << "\n";
  std::vector<bool> seen(sp.rows.size());
  std::function<void(size_t, int)> print = [&](size_t r, int depth) {
    if (seen[r]) return;  // a cycle in bad data must not loop forever
    seen[r] = true;
    const auto* end = std::get_if<int64_t>(&sp.rows[r][c_end]);
    const double ms = end ? static_cast<double>(*end - start(r)) / 1e6 : 0;
    char timing[64];
    std::snprintf(timing, sizeof timing, "+%.3f ms  %.3f ms", static_cast<double>(start(r) - t0) / 1e6, ms);
    const std::string status = Text(sp.rows[r][c_status]);
    std::string mark;
    if (status == "ERROR") {
      mark = "  \u2717 ERROR";  // ✗, as the waterfall marks an error span
      const std::string msg = c_msg >= 0 ? Text(sp.rows[r][c_msg]) : "";
      if (!msg.empty()) mark += " (" + msg + ")";
    }
    const std::string indent(2 * depth, ' ');
    std::cout << indent << Text(sp.rows[r][c_name]) << "  [" << Text(sp.rows[r][c_svc]) << " "
              << Text(sp.rows[r][c_kind]) << "]  " << timing << mark << "  " << Text(sp.rows[r][c_id]) << "\n";
    if (auto e = events_of.find(Text(sp.rows[r][c_id])); e != events_of.end()) {
      for (size_t x : e->second) {
        char off[48];
        std::snprintf(off, sizeof off, "+%.3f ms", static_cast<double>(ev_time(x) - t0) / 1e6);
        std::cout << indent << "  \u2022 " << off << "  " << Text(ev.rows[x][e_name]) << "\n";  // •
      }
    }
    auto it = children.find(Text(sp.rows[r][c_id]));
    if (it == children.end()) return;
    for (size_t c : it->second) print(c, depth + 1);
  };
  for (size_t r : roots) print(r, 0);
  return 0;
}

}  // namespace otlake::cli
