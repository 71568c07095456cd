// LogTail: live tail of the logs table for GET /api/logs/tail (server-sent events).
//
// Source: the lake itself. One poller thread (running only while someone subscribes) runs each
// subscriber's query -- the row API's filters, applied server-side -- every `poll_ms` over the
// last `lookback_ms` of event time, newest first, and sends the rows it has not sent before
// (a bounded set of row hashes remembers them). A record therefore appears once its batch is
// committed (--flush-age-ms, default 5 s) and is missed only if its event time is older than
// the lookback when it lands. Nothing is added to the ingest path: ingest never waits for, or
// pays for, a subscriber.
//
// Memory per subscriber is bounded: events wait in a queue of at most `buffer_bytes` (default
// 1 MiB, `buffer_kb` parameter 16..1024) until the connection takes them. Rows that do not fit
// stay unsent and are offered again at the next poll (a burst larger than the queue reaches a
// reader in pieces); a subscriber whose queue stays full for `slow_after_ms` (it reads slower
// than logs arrive) is dropped: its queue is replaced by one `event: dropped` notice and the
// stream ends. At most `max_subscribers` at once (503 beyond).
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "otlake/server/http_server.h"

namespace otlake::query {
class QueryEngine;
}

namespace otlake::receiver {

struct LogTailOptions {
  int poll_ms = 500;
  int64_t lookback_ms = 60'000;
  int64_t max_buffer_bytes = 1 << 20;
  int max_subscribers = 64;
  int keepalive_ms = 15'000;
  int slow_after_ms = 5'000;  ///< a queue full this long drops its subscriber
  int64_t rows_per_poll = 2000;  ///< newest rows read per poll and subscriber
};

class LogTail {
 public:
  LogTail(query::QueryEngine* engine, LogTailOptions options = {});
  ~LogTail();  ///< stops the poller; open streams end with their next pull
  LogTail(const LogTail&) = delete;
  LogTail& operator=(const LogTail&) = delete;

  /// Answers GET /api/logs/tail: 400 for a bad filter, 503 when full, else a streaming
  /// text/event-stream response (HttpResponse::stream).
  void Subscribe(std::vector<std::pair<std::string, std::string>> params, std::string_view project,
                 const server::HttpRequest& request, server::HttpResponse* response);

  struct Stats {
    int64_t subscribers = 0, subscribed_total = 0, dropped_total = 0, events_sent = 0, polls = 0, poll_us = 0;
  };
  Stats stats() const;

  struct Subscriber;

 private:
  void Run();
  void Poll(Subscriber& s, bool prime);

  query::QueryEngine* engine_;
  LogTailOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::weak_ptr<Subscriber>> subs_;  // guarded by mu_
  bool stop_ = false;                            // guarded by mu_
  std::atomic<bool> backlog_{false};  // a subscriber's queue was full at its last poll
  std::thread thread_;
  std::atomic<int64_t> subscribed_total_{0}, dropped_total_{0}, events_sent_{0}, polls_{0}, poll_us_{0};
};

}  // namespace otlake::receiver
