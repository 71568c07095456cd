#include "otlake/receiver/log_tail.h"

#include <chrono>
#include <functional>
#include <unordered_map>

#include "otlake/common/log.h"
#include "otlake/common/time_util.h"
#include "otlake/query/query.h"

namespace otlake::receiver {

struct LogTail::Subscriber {
  query::Query query;  // the filters; the time window and order are set per poll
  int64_t max_bytes = 0;
  std::mutex mu;
  std::string pending;   // SSE text not yet taken by the connection (guarded by mu)
  bool ended = false;    // dropped or the tail stopped: the stream ends once pending is sent
  // Rows already sent (or present when the subscription started): hash -> event_ts. Only the
  // poller touches it.
  std::unordered_map<uint64_t, int64_t> seen;
  int64_t last_send_ms = 0;
  int64_t full_since_ms = 0;  // when its queue was first found full (0: not full); poller only
};

namespace {

constexpr size_t kMaxSeen = 200'000;

int64_t SteadyNanosForTail() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

void FailJson(server::HttpResponse* res, int status, std::string_view message) {
  res->status = status;
  res->content_type = "application/json";
  res->body = "{\"error\":" + Quote(message) + ",\"status\":" + std::to_string(status) + "}";
}

// A row's identity across polls: a hash of its cells (cheaper than rendering it).
uint64_t RowHash(const std::vector<query::Cell>& row) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  for (const query::Cell& c : row) {
    mix(c.index());
    if (const auto* s = std::get_if<std::string>(&c)) mix(std::hash<std::string>{}(*s));
    else if (const auto* i = std::get_if<int64_t>(&c)) mix(static_cast<uint64_t>(*i));
    else if (const auto* d = std::get_if<double>(&c)) mix(std::hash<double>{}(*d));
    else if (const auto* b = std::get_if<bool>(&c)) mix(*b);
  }
  return h;
}

}  // namespace

LogTail::LogTail(query::QueryEngine* engine, LogTailOptions options)
    : engine_(engine), options_(options), thread_([this] { Run(); }) {}

LogTail::~LogTail() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::lock_guard lk(mu_);
  for (auto& w : subs_) {
    if (auto s = w.lock()) {
      std::lock_guard sl(s->mu);
      s->ended = true;
    }
  }
}

LogTail::Stats LogTail::stats() const {
  Stats st;
  {
    std::lock_guard lk(mu_);
    for (const auto& w : subs_) st.subscribers += !w.expired();
  }
  st.subscribed_total = subscribed_total_.load();
  st.dropped_total = dropped_total_.load();
  st.events_sent = events_sent_.load();
  st.polls = polls_.load();
  st.poll_us = poll_us_.load();
  return st;
}

void LogTail::Subscribe(std::vector<std::pair<std::string, std::string>> params, std::string_view project,
                        const server::HttpRequest& req, server::HttpResponse* res) {
  int64_t buffer = options_.max_buffer_bytes;
  for (auto it = params.begin(); it != params.end(); ++it) {
    if (it->first != "buffer_kb") continue;
    char* end = nullptr;
    const long long kb = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || kb < 16 || kb * 1024 > options_.max_buffer_bytes) {
      return FailJson(res, 400, "parameter 'buffer_kb' must be 16.." + std::to_string(options_.max_buffer_bytes / 1024) +
                                    ", got '" + it->second + "'");
    }
    buffer = kb * 1024;
    params.erase(it);
    break;
  }
  for (const auto& [k, v] : params) {
    for (const char* refused : {"select", "max_rows", "limit", "cursor", "order", "format", "date_from", "date_to",
                                "time_ms_from", "time_ms_to"}) {
      if (k == refused) return FailJson(res, 400, "parameter '" + k + "' is not accepted by /api/logs/tail (it follows new records)");
    }
  }
  if (!project.empty()) params.emplace_back("project_id", std::string(project));
  auto q = query::ParseQuery(table::TableId::kLogs, params, NowUnixMillis(), engine_->limits());
  if (!q.ok()) return FailJson(res, 400, q.status().message());
  auto sub = std::make_shared<Subscriber>();
  sub->query = std::move(*q);
  sub->max_bytes = buffer;
  {
    std::lock_guard lk(mu_);
    std::erase_if(subs_, [](const auto& w) { return w.expired(); });
    if (static_cast<int>(subs_.size()) >= options_.max_subscribers) {
      res->headers.emplace_back("Retry-After", "5");
      return FailJson(res, 503, "too many live tail subscribers (" + std::to_string(options_.max_subscribers) + ")");
    }
  }
  // What the lake holds now is "already seen": only records that land after this are sent.
  Poll(*sub, /*prime=*/true);
  sub->pending = "retry: 2000\nevent: hello\ndata: {\"poll_ms\":" + std::to_string(options_.poll_ms) +
                 ",\"lookback_ms\":" + std::to_string(options_.lookback_ms) + ",\"buffer_bytes\":" +
                 std::to_string(buffer) + "}\n\n";
  sub->last_send_ms = NowUnixMillis();
  {
    std::lock_guard lk(mu_);
    subs_.push_back(sub);
  }
  ++subscribed_total_;
  cv_.notify_all();
  res->status = 200;
  res->content_type = "text/event-stream; charset=utf-8";
  res->headers.emplace_back("Cache-Control", "no-cache");
  res->headers.emplace_back("X-Accel-Buffering", "no");
  // The connection pulls what is queued; when it ends (client gone, server stopping) the
  // function -- and with it the subscriber -- is destroyed, which unsubscribes it.
  res->stream = [sub](std::string* out) {
    std::lock_guard lk(sub->mu);
    out->swap(sub->pending);
    sub->pending.clear();
    return !sub->ended;
  };
  (void)req;
}

void LogTail::Run() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    std::erase_if(subs_, [](const auto& w) { return w.expired(); });
    if (subs_.empty()) {
      cv_.wait(lk, [&] { return stop_ || !subs_.empty(); });
      continue;
    }
    // A subscriber with rows left over (its queue was full) is polled again soon: it gets them
    // as fast as it reads, not one queue per poll interval.
    const int wait_ms = backlog_.exchange(false) ? 50 : options_.poll_ms;
    cv_.wait_for(lk, std::chrono::milliseconds(wait_ms), [&] { return stop_; });
    if (stop_) break;
    std::vector<std::shared_ptr<Subscriber>> live;
    for (auto& w : subs_) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
    lk.unlock();
    for (auto& s : live) {
      {
        std::lock_guard sl(s->mu);
        if (s->ended) continue;
      }
      Poll(*s, /*prime=*/false);
    }
    live.clear();
    lk.lock();
  }
}

void LogTail::Poll(Subscriber& s, bool prime) {
  const int64_t now = NowUnixMillis();
  const int64_t t0 = SteadyNanosForTail();
  query::Query q = s.query;
  const int64_t from = now - options_.lookback_ms;
  q.time_ms_from = s.query.time_ms_from ? std::max(*s.query.time_ms_from, from) : from;
  q.time_ms_to.reset();
  q.day_from.reset();
  q.day_to.reset();
  q.ascending = false;
  q.max_rows = options_.rows_per_poll;
  q.cancelled = [this] {
    std::lock_guard lk(mu_);
    return stop_;
  };
  auto rs = engine_->Run(q);
  ++polls_;
  if (!rs.ok()) {
    if (!rs.status().IsCancelled()) OTLAKE_LOG(WARN) << "log tail: query failed: " << rs.status().ToString();
    return;
  }
  size_t ts_col = 0;
  while (ts_col < rs->columns.size() && rs->columns[ts_col] != "event_ts") ++ts_col;
  size_t room;
  {
    std::lock_guard lk(s.mu);
    if (s.ended) return;
    room = static_cast<size_t>(s.max_bytes) > s.pending.size() ? s.max_bytes - s.pending.size() : 0;
    if (s.pending.empty()) room = std::max<size_t>(room, 1);  // one row larger than the buffer still goes
  }
  std::string events, row, event;
  int64_t new_rows = 0, sent = 0;
  bool full = false;
  // Oldest first, so the client sees them in time order. A row that does not fit in the
  // subscriber's queue is left unseen: the next poll offers it again.
  for (size_t i = rs->rows.size(); i-- > 0;) {
    const uint64_t h = RowHash(rs->rows[i]);
    if (s.seen.count(h)) continue;
    ++new_rows;
    if (!prime) {
      row.clear();
      query::AppendRowJson(*rs, i, &row);  // only rows not sent before are rendered
      event = "event: log\ndata: " + row + "\n\n";
      if (events.size() + event.size() > room && !(events.empty() && room == 1)) {
        full = true;
        break;
      }
      events += event;
      ++sent;
    }
    const auto* ts = ts_col < rs->columns.size() ? std::get_if<int64_t>(&rs->rows[i][ts_col]) : nullptr;
    s.seen.emplace(h, ts ? *ts : now);
  }
  // Forget rows that left the window; a set still too large starts over (a gap is reported).
  std::erase_if(s.seen, [&](const auto& e) { return e.second < from - 1000; });
  const bool gap = !prime && !full && (new_rows >= options_.rows_per_poll || s.seen.size() > kMaxSeen);
  if (s.seen.size() > kMaxSeen) s.seen.clear();
  if (gap) events += "event: gap\ndata: {\"message\":\"more new records than one poll reads: some were skipped\"}\n\n";
  if (!prime && events.empty() && !full && now - s.last_send_ms >= options_.keepalive_ms) events = ": keepalive\n\n";
  poll_us_ += (SteadyNanosForTail() - t0) / 1000;
  if (prime) return;
  if (!events.empty()) s.last_send_ms = now;
  std::lock_guard lk(s.mu);
  if (s.ended) return;
  // Slow: its queue has stayed full for slow_after_ms (it does not take what it is sent).
  if (full) backlog_ = true;
  if (!full) {
    s.full_since_ms = 0;
  } else if (s.full_since_ms == 0) {
    s.full_since_ms = now;
  } else if (now - s.full_since_ms >= options_.slow_after_ms) {
    // What it had not taken is discarded; the notice is its last event.
    s.pending = "event: dropped\ndata: {\"message\":" +
                Quote("subscriber too slow: its queue of " + std::to_string(s.max_bytes) + " bytes stayed full for " +
                      std::to_string(options_.slow_after_ms) + " ms; reconnect to resume") + "}\n\n";
    s.ended = true;
    ++dropped_total_;
    OTLAKE_LOG(INFO) << "log tail: dropped a slow subscriber (queue of " << s.max_bytes << " bytes full for "
                     << now - s.full_since_ms << " ms)";
    return;
  }
  events_sent_ += sent;
  s.pending += events;
}

}  // namespace otlake::receiver
