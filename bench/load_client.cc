// load_client: the native load generator of bench/ingest_bench.py's load modes. Python clients
// on the same 2 cores as the server cost it CPU and add their own scheduling delays to every
// latency; this one sends the same stamped requests from one thread per connection with blocking
// sockets and no per-request allocation beyond the body copy.
//
//   load_client --port P --templates FILE --connections C [--first-conn N] [--rate R]
//               [--duration S] [--start-in-ms MS] [--sequential 1] [--progress 1]
//               [--content-type application/json]
//
// FILE (written by ingest_bench.py): per template, u32 body length, the body, u32 n, n u32 byte
// offsets of its span ids (little-endian). Request i (1-based) of connection c is template
// (c * 7 + i) % count with every span id set to big-endian (i: u32, c: u16, span index: u16) --
// the same bytes as ingest_bench.py's stamp(), so its stored check works unchanged.
//
// --sequential 1 (ingest_bench.py's CPU mode): connection c sends templates c, c + C, c + 2C, ...
// once each, as they are (no stamping), closed loop, and stops. --progress 1: the number of 200s
// so far on stderr every 100 ms (the bench's steady-state sampler follows it).
// --rate R: open loop, R requests/s over all connections, request i of a connection scheduled at
// start + (i - 1) / (R / C) and timed from that instant (a stall counts against every request it
// delays); 0: closed loop. Prints one JSON object: statuses, Retry-After values of refusals,
// latencies and service times (seconds) of the 200s, acknowledged (connection, request) pairs and
// connection errors.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// The requests' Content-Type (--content-type; application/json for ingest_bench.py --json).
std::string g_content_type = "application/x-protobuf";

using Clock = std::chrono::steady_clock;

struct Template {
  std::string body;
  std::vector<uint32_t> offsets;
};

struct ConnResult {
  std::map<int, int64_t> statuses;
  std::map<std::string, int64_t> retry_after;
  std::vector<double> lat, svc;
  std::vector<int64_t> acked;  // request numbers answered 200
  int64_t errors = 0;
};

bool ReadTemplates(const char* path, std::vector<Template>* out) {
  std::ifstream in(path, std::ios::binary);
  auto u32 = [&](uint32_t* v) { return static_cast<bool>(in.read(reinterpret_cast<char*>(v), 4)); };
  uint32_t len;
  while (u32(&len)) {
    Template t;
    t.body.resize(len);
    uint32_t n;
    if (!in.read(t.body.data(), len) || !u32(&n)) return false;
    t.offsets.resize(n);
    for (uint32_t& off : t.offsets) {
      if (!u32(&off) || off + 8 > len) return false;
    }
    out->push_back(std::move(t));
  }
  return !out->empty();
}

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv{120, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

bool SendAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Reads one response (the server always sends Content-Length); `buf` keeps bytes past it.
bool ReadResponse(int fd, std::string* buf, int* status, std::string* retry_after, bool* close) {
  size_t end;
  char tmp[16384];
  while ((end = buf->find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf->append(tmp, static_cast<size_t>(n));
  }
  const std::string head = buf->substr(0, end + 4);
  buf->erase(0, end + 4);
  if (head.size() < 12) return false;
  *status = std::atoi(head.c_str() + 9);
  auto header = [&](const char* name) -> std::string {
    const size_t at = head.find(name);
    if (at == std::string::npos) return {};
    const size_t from = at + std::strlen(name);
    return head.substr(from, head.find("\r\n", from) - from);
  };
  const size_t len = std::strtoul(header("Content-Length: ").c_str(), nullptr, 10);
  *retry_after = header("Retry-After: ");
  *close = header("Connection: ") == "close";
  while (buf->size() < len) {
    const ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf->append(tmp, static_cast<size_t>(n));
  }
  buf->erase(0, len);
  return true;
}

std::atomic<int64_t> g_acked{0};

void RunConnection(int port, int conn_no, const std::vector<Template>& templates,
                   double rate_per_conn, Clock::time_point start, Clock::time_point end,
                   int sequential_of, ConnResult* res) {
  int fd = -1;
  std::string request, buf;
  for (int64_t i = 1;; ++i) {
    Clock::time_point sched;
    size_t which = static_cast<size_t>(conn_no * 7 + i) % templates.size();
    if (sequential_of > 0) {
      which = static_cast<size_t>(conn_no + (i - 1) * sequential_of);
      if (which >= templates.size()) break;
      if (i == 1) std::this_thread::sleep_until(start);
      sched = Clock::now();
    } else if (rate_per_conn > 0) {
      sched = start + std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>(static_cast<double>(i - 1) / rate_per_conn));
      if (sched >= end || Clock::now() >= end) break;
      std::this_thread::sleep_until(sched);
    } else {
      if (i == 1) std::this_thread::sleep_until(start);
      sched = Clock::now();
      if (sched >= end) break;
    }
    const Template& t = templates[which];
    request = "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + g_content_type +
              "\r\nContent-Length: " + std::to_string(t.body.size()) + "\r\n\r\n";
    const size_t head = request.size();
    request += t.body;
    for (size_t k = 0; k < t.offsets.size(); ++k) {
      unsigned char* id = reinterpret_cast<unsigned char*>(request.data() + head + t.offsets[k]);
      const uint32_t req = static_cast<uint32_t>(i);
      const uint16_t c = static_cast<uint16_t>(conn_no), s = static_cast<uint16_t>(k);
      const unsigned char v[8] = {static_cast<unsigned char>(req >> 24), static_cast<unsigned char>(req >> 16),
                                  static_cast<unsigned char>(req >> 8), static_cast<unsigned char>(req),
                                  static_cast<unsigned char>(c >> 8), static_cast<unsigned char>(c),
                                  static_cast<unsigned char>(s >> 8), static_cast<unsigned char>(s)};
      std::memcpy(id, v, 8);
    }
    if (fd < 0) {
      fd = Connect(port);
      buf.clear();
    }
    const Clock::time_point t0 = Clock::now();
    int status = 0;
    std::string retry_after;
    bool close = false;
    if (fd < 0 || !SendAll(fd, request.data(), request.size()) ||
        !ReadResponse(fd, &buf, &status, &retry_after, &close)) {
      ++res->errors;
      if (fd >= 0) ::close(fd);
      fd = -1;
      continue;
    }
    const Clock::time_point t1 = Clock::now();
    ++res->statuses[status];
    if (status == 200) {
      g_acked.fetch_add(1, std::memory_order_relaxed);
      res->acked.push_back(i);
      res->lat.push_back(std::chrono::duration<double>(t1 - sched).count());
      res->svc.push_back(std::chrono::duration<double>(t1 - t0).count());
    } else {
      ++res->retry_after[retry_after];
    }
    if (close) {
      ::close(fd);
      fd = -1;
    }
  }
  if (fd >= 0) ::close(fd);
}

template <typename T>
void JsonList(const char* key, const std::vector<T>& v, const char* fmt) {
  std::printf("\"%s\":[", key);
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) std::printf(",");
    std::printf(fmt, v[i]);
  }
  std::printf("]");
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, connections = 4, first_conn = 0;
  bool sequential = false, progress = false;
  double rate = 0, duration = 20, start_in_ms = 1000;
  const char* templates_path = nullptr;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--port") port = std::atoi(v);
    else if (k == "--templates") templates_path = v;
    else if (k == "--connections") connections = std::atoi(v);
    else if (k == "--first-conn") first_conn = std::atoi(v);
    else if (k == "--rate") rate = std::atof(v);
    else if (k == "--duration") duration = std::atof(v);
    else if (k == "--start-in-ms") start_in_ms = std::atof(v);
    else if (k == "--sequential") sequential = std::atoi(v) != 0;
    else if (k == "--progress") progress = std::atoi(v) != 0;
    else if (k == "--content-type") g_content_type = v;
    else {
      std::fprintf(stderr, "load_client: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  std::vector<Template> templates;
  if (port <= 0 || templates_path == nullptr || connections < 1 ||
      !ReadTemplates(templates_path, &templates)) {
    std::fprintf(stderr, "usage: load_client --port P --templates FILE --connections C [--first-conn N] "
                         "[--rate R] [--duration S] [--start-in-ms MS] (see the header)\n");
    return 2;
  }
  const Clock::time_point start =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(start_in_ms / 1000));
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
  std::vector<ConnResult> results(static_cast<size_t>(connections));
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back(RunConnection, port, sequential ? c : first_conn + c, std::cref(templates),
                         rate / connections, start, sequential ? Clock::time_point::max() : end,
                         sequential ? connections : 0, &results[static_cast<size_t>(c)]);
  }
  std::atomic<bool> done{false};
  std::thread reporter;
  if (progress) {
    reporter = std::thread([&] {
      while (!done.load()) {
        std::fprintf(stderr, "%lld\n", static_cast<long long>(g_acked.load()));
        std::fflush(stderr);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  if (reporter.joinable()) reporter.join();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();

  ConnResult all;
  std::vector<std::pair<int, int64_t>> acked;
  for (int c = 0; c < connections; ++c) {
    ConnResult& r = results[static_cast<size_t>(c)];
    for (auto& [s, n] : r.statuses) all.statuses[s] += n;
    for (auto& [s, n] : r.retry_after) all.retry_after[s] += n;
    all.lat.insert(all.lat.end(), r.lat.begin(), r.lat.end());
    all.svc.insert(all.svc.end(), r.svc.begin(), r.svc.end());
    for (int64_t i : r.acked) acked.emplace_back(first_conn + c, i);
    all.errors += r.errors;
  }
  std::printf("{\"wall\":%.6f,\"errors\":%lld,\"statuses\":{", wall, static_cast<long long>(all.errors));
  bool first = true;
  for (auto& [s, n] : all.statuses) {
    std::printf("%s\"%d\":%lld", first ? "" : ",", s, static_cast<long long>(n));
    first = false;
  }
  std::printf("},\"retry_after\":{");
  first = true;
  for (auto& [s, n] : all.retry_after) {
    std::printf("%s\"%s\":%lld", first ? "" : ",", s.c_str(), static_cast<long long>(n));
    first = false;
  }
  std::printf("},");
  JsonList("lat", all.lat, "%.7f");
  std::printf(",");
  JsonList("svc", all.svc, "%.7f");
  std::printf(",\"acked\":[");
  for (size_t i = 0; i < acked.size(); ++i) {
    std::printf("%s[%d,%lld]", i ? "," : "", acked[i].first, static_cast<long long>(acked[i].second));
  }
  std::printf("]}\n");
  return 0;
}
