#include "otlake/archive/replay.h"

#include <arpa/inet.h>
#include <arrow/buffer.h>
#include <arrow/filesystem/filesystem.h>
#include <arrow/io/interfaces.h>
#include <netdb.h>
#include <poll.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>

#include "otlake/common/file_util.h"
#include "otlake/server/decompress.h"
#include "otlake/otlp/json_to_proto.h"
#include "otlake/otlp/proto_writer.h"
#include "otlake/otlp/wire.h"

namespace otlake::archive {
namespace {

using Clock = std::chrono::steady_clock;

void SleepMs(int64_t ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

otlp::Signal ToOtlp(Signal s) {
  switch (s) {
    case Signal::kTraces: return otlp::Signal::kTraces;
    case Signal::kLogs: return otlp::Signal::kLogs;
    case Signal::kMetrics: return otlp::Signal::kMetrics;
  }
  return otlp::Signal::kTraces;
}

// Runs fn(i) for i in [0, n) on up to `parallelism` threads.
void ParallelFor(int64_t n, int parallelism, const std::function<void(int64_t)>& fn) {
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t i = next++; i < n; i = next++) fn(i);
  };
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(parallelism, n));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

// A DecodeObject message starts with the key; the report shows the key on its own.
std::string Reason(const Status& st, const std::string& key) {
  std::string m = st.message();
  for (const std::string& prefix : {key + ": ", "'" + key + "': "}) {
    if (m.rfind(prefix, 0) == 0) return m.substr(prefix.size());
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// A small synchronous HTTP/1.1 client: one connection per request (Connection: close).

struct HttpUrl {
  std::string host;
  int port = 80;
  std::string base_path;  // without trailing '/'
  bool tls = false;       // https://
};

Result<HttpUrl> ParseHttpUrl(const std::string& url) {
  HttpUrl u;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
    u.tls = true;
    u.port = 443;
  } else {
    return Status::Invalid("--to-otlp: '", url, "' is not an http:// or https:// URL");
  }
  const size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) u.base_path = rest.substr(slash);
  while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  const size_t colon = hostport.rfind(':');
  if (colon != std::string::npos && hostport.find(']') == std::string::npos) {
    const std::string p = hostport.substr(colon + 1);
    char* end = nullptr;
    const long port = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end != '\0' || port < 1 || port > 65535) {
      return Status::Invalid("--to-otlp: bad port in '", url, "'");
    }
    u.port = static_cast<int>(port);
    hostport = hostport.substr(0, colon);
  }
  if (hostport.empty()) return Status::Invalid("--to-otlp: no host in '", url, "'");
  u.host = hostport;
  return u;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int64_t MsLeft(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
}

// Parses the status line and headers of `resp` once complete; false while incomplete.
bool ParseHead(const std::string& resp, size_t* head_end, HttpAnswer* a, int64_t* content_length) {
  const size_t e = resp.find("\r\n\r\n");
  if (e == std::string::npos) return false;
  *head_end = e + 4;
  const size_t sp = resp.find(' ');
  a->status = sp < e ? std::atoi(resp.c_str() + sp + 1) : 0;
  *content_length = -1;
  size_t pos = resp.find("\r\n");
  while (pos < e) {
    const size_t next = resp.find("\r\n", pos + 2);
    const std::string line = resp.substr(pos + 2, next - pos - 2);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::string value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
      if (::strcasecmp(name.c_str(), "Retry-After") == 0) a->retry_after = value;
      if (::strcasecmp(name.c_str(), "Content-Length") == 0) {
        *content_length = std::strtoll(value.c_str(), nullptr, 10);
      }
    }
    pos = next;
  }
  return true;
}

// Sends one request; an IOError for anything that kept a complete answer from arriving.
Result<HttpAnswer> HttpRequest(const HttpUrl& url, const std::string& method, const std::string& path,
                               const std::vector<std::string>& headers, const std::string& body,
                               double timeout_s, const server::TlsClientSettings& tls_settings) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(url.host.c_str(), std::to_string(url.port).c_str(), &hints, &res); rc != 0) {
    return Status::IOError("cannot resolve '", url.host, "': ", gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, freeaddrinfo);
  Fd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return Status::IOError("socket: ", std::strerror(errno));
  const std::string where = url.host + ":" + std::to_string(url.port);
  if (::connect(fd.get(), res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
    return Status::IOError("cannot connect to ", where, ": ", std::strerror(errno));
  }
  pollfd p{fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, MsLeft(deadline)))) <= 0) {
    return Status::IOError("timeout connecting to ", where);
  }
  int soerr = 0;
  socklen_t len = sizeof soerr;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soerr, &len);
  if (soerr != 0) return Status::IOError("cannot connect to ", where, ": ", std::strerror(soerr));
  // https: the socket turns blocking, each TLS read and write bounded by what is left of the
  // deadline (SO_RCVTIMEO/SO_SNDTIMEO, checked again between reads).
  std::unique_ptr<server::TlsClient> tls;
  if (url.tls) {
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
    const int64_t left = std::max<int64_t>(1, MsLeft(deadline));
    timeval tv{static_cast<time_t>(left / 1000), static_cast<suseconds_t>((left % 1000) * 1000)};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    OTLAKE_ASSIGN_OR_RAISE(tls, server::TlsClient::Connect(fd.get(), url.host, url.port, tls_settings));
  }

  std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + where +
                    "\r\nUser-Agent: otlake-replay\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  req += "\r\n";
  req += body;
  size_t sent = 0;
  bool send_failed = false;
  if (tls) {
    send_failed = !tls->WriteAll(req);  // an early answer (413) is still read below
    sent = req.size();
  }
  while (sent < req.size()) {
    const int64_t left = MsLeft(deadline);
    if (left <= 0) return Status::IOError("timeout sending to ", where);
    pollfd w{fd.get(), POLLOUT, 0};
    if (::poll(&w, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = ::send(fd.get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {  // the server may have answered early (413) and closed: read what it said
      send_failed = true;
      break;
    }
    sent += static_cast<size_t>(n);
  }
  std::string resp;
  HttpAnswer a;
  size_t head_end = 0;
  int64_t content_length = -1;
  bool have_head = false;
  for (;;) {
    if (have_head && content_length >= 0 &&
        resp.size() >= head_end + static_cast<size_t>(content_length)) {
      break;
    }
    const int64_t left = MsLeft(deadline);
    if (left <= 0) return Status::IOError("timeout waiting for the answer of ", where);
    char buf[16384];
    if (tls) {
      const int n = tls->Read(buf, sizeof buf);
      if (n < 0) return Status::IOError("TLS: no complete answer from ", where, ": ", tls->error());
      if (n == 0) break;
      resp.append(buf, static_cast<size_t>(n));
      if (!have_head) have_head = ParseHead(resp, &head_end, &a, &content_length);
      continue;
    }
    pollfd r{fd.get(), POLLIN, 0};
    if (::poll(&r, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
    if (!have_head) have_head = ParseHead(resp, &head_end, &a, &content_length);
  }
  if (!have_head || a.status < 100) {
    return Status::IOError(send_failed ? "connection closed while sending to " : "no HTTP answer from ", where);
  }
  a.body = resp.substr(head_end);
  if (content_length >= 0 && a.body.size() > static_cast<size_t>(content_length)) {
    a.body.resize(static_cast<size_t>(content_length));
  }
  return a;
}

// The first bytes of an answer body, printable, for a failure reason.
std::string Excerpt(const std::string& body) {
  std::string s = body.substr(0, 200);
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = ' ';
  }
  return s;
}

class OtlpHttpSink final : public ReplaySink {
 public:
  OtlpHttpSink(OtlpHttpOptions o, HttpUrl url) : o_(std::move(o)), url_(std::move(url)) {
    if (!o_.sleep) o_.sleep = SleepMs;
  }

  Status Send(PreparedObject& obj) override {
    const std::string path = url_.base_path + "/v1/" + std::string(SignalName(obj.decoded.name.signal));
    for (size_t i = 0; i < obj.protobuf.size(); ++i) {
      std::vector<std::string> headers = {"Content-Type: application/x-protobuf"};
      std::string body = obj.protobuf[i];
      if (o_.gzip) {
        OTLAKE_ASSIGN_OR_RAISE(body, server::GzipCompress(body));
        headers.push_back("Content-Encoding: gzip");
      }
      const std::string doc = obj.protobuf.size() > 1
                                  ? " (document " + std::to_string(i + 1) + " of " +
                                        std::to_string(obj.protobuf.size()) + ")"
                                  : "";
      for (int attempt = 1;; ++attempt) {
        auto answer = HttpRequest(url_, "POST", path, headers, body, o_.timeout_s, o_.tls);
        int64_t retry_after = -1;
        std::string why;
        if (answer.ok()) {
          const HttpVerdict v = ClassifyHttpStatus(answer->status);
          if (v == HttpVerdict::kOk) {
            int64_t rejected = 0;
            std::string message;
            if (ParsePartialSuccess(answer->body, &rejected, &message) && rejected > 0) {
              rejected_ += rejected;
              std::lock_guard<std::mutex> lock(mu_);
              rejections_.push_back({obj.listed->key, std::to_string(rejected) + " records rejected" +
                                                          doc + ": " + Excerpt(message)});
            }
            break;
          }
          if (v == HttpVerdict::kPermanent) {
            return Status::Invalid("HTTP ", answer->status, " from POST ", path, doc, ": ",
                                   Excerpt(answer->body));
          }
          why = "HTTP " + std::to_string(answer->status);
          retry_after = ParseRetryAfterMs(answer->retry_after, std::time(nullptr));
        } else {
          why = answer.status().message();
        }
        if (attempt >= o_.retry.max_attempts) {
          return Status::IOError("POST ", path, doc, " gave up after ", attempt, " attempts: ", why);
        }
        ++retries_;
        o_.sleep(RetryDelayMs(o_.retry, attempt, retry_after));
      }
    }
    return Status::OK();
  }

  int64_t retries() const override { return retries_.load(); }
  int64_t rejected() const override { return rejected_.load(); }
  std::vector<ObjectFailure> rejections() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return rejections_;
  }

 private:
  OtlpHttpOptions o_;
  HttpUrl url_;
  std::atomic<int64_t> retries_{0};
  std::atomic<int64_t> rejected_{0};
  mutable std::mutex mu_;
  std::vector<ObjectFailure> rejections_;  // GUARDED_BY(mu_)
};

std::string StripSuffix(std::string s, std::string_view suffix) {
  if (!suffix.empty() && s.size() >= suffix.size() &&
      s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0) {
    s.resize(s.size() - suffix.size());
  }
  return s;
}

class DirSink final : public ReplaySink {
 public:
  explicit DirSink(std::string dir) : dir_(std::move(dir)) {}

  Status Send(PreparedObject& obj) override {
    const std::string path = dir_ + "/" + DirSinkRelativePath(*obj.listed);
    const size_t slash = path.rfind('/');
    OTLAKE_RETURN_NOT_OK(MakeDirs(path.substr(0, slash)));
    std::string out;
    const size_t n = obj.decoded.documents.size();
    if (obj.decoded.name.marshaler == Marshaler::kOtlpProto) {
      for (size_t i = 0; i < n; ++i) out += obj.DocumentBody(i);  // .binpb holds exactly one
    } else {
      for (size_t i = 0; i < n; ++i) {
        std::string line = obj.DocumentBody(i);
        // Raw CR/LF can only be whitespace between tokens in well-formed JSON (DecodeObject
        // checked it): inside strings they must be escaped. So this keeps the document intact.
        std::replace(line.begin(), line.end(), '\n', ' ');
        std::replace(line.begin(), line.end(), '\r', ' ');
        out += line;
        out += '\n';
      }
    }
    return WriteFileAtomic(path, out);
  }

 private:
  std::string dir_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Listing

int64_t ObjectListing::bytes() const {
  int64_t b = 0;
  for (const auto& o : objects) b += o.size;
  return b;
}

Result<ObjectListing> ListReplayObjects(const ReplaySource& source, const ListOptions& options) {
  if (options.signals.empty()) return Status::Invalid("no signal to replay");
  // Each signal's listing prefixes; the partitions are the same for every signal.
  std::vector<WindowListing> windows;
  for (Signal s : options.signals) {
    OTLAKE_ASSIGN_OR_RAISE(auto w, ListWindow(options.window, s));
    windows.push_back(std::move(w));
  }
  ObjectListing out;
  out.step = windows[0].step;
  out.partitions = static_cast<int64_t>(windows[0].partitions.size());
  // Directories in time order, each once, with the name prefixes wanted in it.
  struct Dir {
    std::string dir;
    std::vector<std::string> prefixes;
  };
  std::vector<Dir> dirs;
  std::map<std::string, size_t> dir_index;
  for (size_t i = 0; i < windows[0].partitions.size(); ++i) {
    for (const auto& w : windows) {
      if (i >= w.partitions.size()) continue;
      const std::string& lp = w.partitions[i].list_prefix;
      const size_t slash = lp.rfind('/');
      std::string dir = slash == std::string::npos ? "" : lp.substr(0, slash);
      std::string prefix = slash == std::string::npos ? lp : lp.substr(slash + 1);
      auto [it, inserted] = dir_index.emplace(dir, dirs.size());
      if (inserted) dirs.push_back({dir, {}});
      auto& ps = dirs[it->second].prefixes;
      if (std::find(ps.begin(), ps.end(), prefix) == ps.end()) ps.push_back(std::move(prefix));
    }
  }
  out.listings = static_cast<int64_t>(dirs.size());
  std::vector<std::vector<arrow::fs::FileInfo>> found(dirs.size());
  std::vector<Status> errors(dirs.size());
  std::atomic<bool> failed{false};  // one listing that keeps failing ends the listing
  ParallelFor(static_cast<int64_t>(dirs.size()), options.parallelism, [&](int64_t i) {
    if (failed.load()) return;
    arrow::fs::FileSelector sel;
    sel.base_dir = dirs[i].dir.empty() ? source.root : source.root + "/" + dirs[i].dir;
    sel.allow_not_found = true;
    sel.recursive = false;
    for (int attempt = 1;; ++attempt) {
      auto infos = source.fs->GetFileInfo(sel);
      if (infos.ok()) {
        found[i] = std::move(*infos);
        return;
      }
      if (attempt >= options.list_attempts) {
        errors[i] = Status::IOError("cannot list ", source.display, "/", dirs[i].dir, ": ",
                                    infos.status().message());
        failed = true;
        return;
      }
      SleepMs(options.list_backoff_ms << (attempt - 1));
    }
  });
  for (const Status& st : errors) OTLAKE_RETURN_NOT_OK(st);
  for (size_t i = 0; i < dirs.size(); ++i) {
    std::vector<ListedObject> here;
    for (const auto& info : found[i]) {
      if (info.type() != arrow::fs::FileType::File) continue;
      const std::string base = info.base_name();
      bool wanted = false;
      for (const auto& p : dirs[i].prefixes) wanted = wanted || base.rfind(p, 0) == 0;
      if (!wanted) continue;
      const std::string key = dirs[i].dir.empty() ? base : dirs[i].dir + "/" + base;
      auto name = ParseObjectName(key, options.window.file_prefix);
      if (!name.ok()) {
        out.skipped.push_back({key, name.status().message()});
        continue;
      }
      if (std::find(options.signals.begin(), options.signals.end(), name->signal) ==
          options.signals.end()) {
        continue;  // file_prefix_include_telemetry_type off: another signal's object
      }
      const int64_t mtime = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                info.mtime().time_since_epoch())
                                .count();
      here.push_back({key, info.path(), info.size(), std::move(*name), mtime});
    }
    std::sort(here.begin(), here.end(),
              [](const ListedObject& a, const ListedObject& b) { return a.key < b.key; });
    for (auto& o : here) out.objects.push_back(std::move(o));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Records and retries

Result<int64_t> CountRecords(Signal signal, std::string_view protobuf) {
  using otlp::WireField;
  using otlp::WireReader;
  using otlp::WireType;
  int64_t n = 0;
  // Calls fn on each length-delimited field `number` of `msg`.
  auto each = [](std::string_view msg, uint32_t number, auto&& fn) -> Status {
    WireReader r(msg);
    WireField f;
    while (r.Next(&f)) {
      if (f.number == number && f.type == WireType::kLen) OTLAKE_RETURN_NOT_OK(fn(f.data));
    }
    if (!r.ok()) return Status::Invalid("bad protobuf: ", r.error());
    return Status::OK();
  };
  // resource_* (1) -> scope_* (2) -> spans / log_records / metrics (2)
  Status st = each(protobuf, 1, [&](std::string_view resource) {
    return each(resource, 2, [&](std::string_view scope) {
      return each(scope, 2, [&](std::string_view record) -> Status {
        if (signal != Signal::kMetrics) {
          ++n;
          return Status::OK();
        }
        // Metric: gauge 5, sum 7, histogram 9, exponential_histogram 10, summary 11; each holds
        // its data_points in field 1.
        WireReader r(record);
        WireField f;
        while (r.Next(&f)) {
          if (f.type != WireType::kLen) continue;
          if (f.number == 5 || f.number == 7 || f.number == 9 || f.number == 10 || f.number == 11) {
            OTLAKE_RETURN_NOT_OK(each(f.data, 1, [&](std::string_view) {
              ++n;
              return Status::OK();
            }));
          }
        }
        if (!r.ok()) return Status::Invalid("bad protobuf: ", r.error());
        return Status::OK();
      });
    });
  });
  OTLAKE_RETURN_NOT_OK(st);
  return n;
}

namespace {

void CopyField(otlp::ProtoWriter* w, const otlp::WireField& f) {
  switch (f.type) {
    case otlp::WireType::kVarint: w->Varint(f.number, f.value); break;
    case otlp::WireType::kFixed64: w->Fixed64(f.number, f.value); break;
    case otlp::WireType::kFixed32: w->Fixed32(f.number, static_cast<uint32_t>(f.value)); break;
    case otlp::WireType::kLen: w->Bytes(f.number, f.data); break;
    default: break;  // groups: not used by OTLP, dropped
  }
}

// A child message rewritten: its new bytes, or nullopt to drop it.
using ChildFn = std::function<Result<std::optional<std::string>>(std::string_view)>;

// Copies `msg`, passing each length-delimited field whose number `is_child` accepts through fn.
// *kept counts the children kept.
Result<std::string> Rewrite(std::string_view msg, const std::function<bool(uint32_t)>& is_child,
                            const ChildFn& fn, int64_t* kept) {
  otlp::ProtoWriter w;
  otlp::WireReader r(msg);
  otlp::WireField f;
  while (r.Next(&f)) {
    if (f.type == otlp::WireType::kLen && is_child(f.number)) {
      OTLAKE_ASSIGN_OR_RAISE(auto child, fn(f.data));
      if (child) {
        w.Bytes(f.number, *child);
        ++*kept;
      }
      continue;
    }
    CopyField(&w, f);
  }
  if (!r.ok()) return Status::Invalid("bad protobuf: ", r.error());
  return w.Release();
}

// The fixed64 fields `a` (else `b`, when a is 0 or absent) of `msg`; 0 if neither is set.
Result<uint64_t> TimeOf(std::string_view msg, uint32_t a, uint32_t b) {
  uint64_t va = 0, vb = 0;
  otlp::WireReader r(msg);
  otlp::WireField f;
  while (r.Next(&f)) {
    if (f.type != otlp::WireType::kFixed64) continue;
    if (f.number == a) va = f.value;
    if (f.number == b) vb = f.value;
  }
  if (!r.ok()) return Status::Invalid("bad protobuf: ", r.error());
  return va != 0 ? va : vb;
}

}  // namespace

Result<std::string> FilterByEventTime(Signal signal, std::string_view protobuf,
                                      int64_t start_unix_nanos, int64_t end_unix_nanos,
                                      int64_t* dropped) {
  auto in_window = [&](uint64_t t) {
    return t == 0 || (t >= static_cast<uint64_t>(std::max<int64_t>(0, start_unix_nanos)) &&
                      t < static_cast<uint64_t>(std::max<int64_t>(0, end_unix_nanos)));
  };
  auto is = [](uint32_t n) { return [n](uint32_t x) { return x == n; }; };
  // A leaf record (span, log record, data point) with its time fields.
  auto leaf = [&](uint32_t a, uint32_t b) -> ChildFn {
    return [&, a, b](std::string_view rec) -> Result<std::optional<std::string>> {
      OTLAKE_ASSIGN_OR_RAISE(uint64_t t, TimeOf(rec, a, b));
      if (in_window(t)) return std::optional<std::string>(std::string(rec));
      ++*dropped;
      return std::optional<std::string>();
    };
  };
  // A container kept only if some child is.
  auto container = [](std::function<bool(uint32_t)> is_child, ChildFn fn) -> ChildFn {
    return [is_child, fn](std::string_view msg) -> Result<std::optional<std::string>> {
      int64_t kept = 0;
      OTLAKE_ASSIGN_OR_RAISE(auto out, Rewrite(msg, is_child, fn, &kept));
      if (kept == 0) return std::optional<std::string>();
      return std::optional<std::string>(std::move(out));
    };
  };
  ChildFn record;
  switch (signal) {
    case Signal::kTraces: record = leaf(7, 7); break;   // start_time_unix_nano
    case Signal::kLogs: record = leaf(1, 11); break;    // time_unix_nano, observed_time_unix_nano
    case Signal::kMetrics: {
      // gauge 5, sum 7, histogram 9, exponential_histogram 10, summary 11 -> data_points 1,
      // each with time_unix_nano 3.
      ChildFn data = container(is(1), leaf(3, 3));
      record = container([](uint32_t n) { return n == 5 || n == 7 || n == 9 || n == 10 || n == 11; },
                         data);
      break;
    }
  }
  ChildFn scope = container(is(2), record);
  ChildFn resource = container(is(2), scope);
  int64_t kept = 0;
  return Rewrite(protobuf, is(1), resource, &kept);
}

bool ParsePartialSuccess(std::string_view response, int64_t* rejected, std::string* message) {
  *rejected = 0;
  message->clear();
  otlp::WireReader r(response);
  otlp::WireField f;
  while (r.Next(&f)) {
    if (f.number != 1 || f.type != otlp::WireType::kLen) continue;
    otlp::WireReader p(f.data);
    otlp::WireField g;
    while (p.Next(&g)) {
      if (g.number == 1 && g.type == otlp::WireType::kVarint) *rejected = g.AsInt64();
      if (g.number == 2 && g.type == otlp::WireType::kLen) *message = std::string(g.data);
    }
    if (!p.ok()) return false;
  }
  return r.ok();
}

HttpVerdict ClassifyHttpStatus(int status) {
  if (status >= 200 && status < 300) return HttpVerdict::kOk;
  if (status == 429 || status == 502 || status == 503 || status == 504) return HttpVerdict::kRetry;
  return HttpVerdict::kPermanent;
}

int64_t ParseRetryAfterMs(std::string_view value, int64_t now_unix_s) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return -1;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return int64_t{999999999} * 1000;
    return std::strtoll(std::string(value).c_str(), nullptr, 10) * 1000;
  }
  // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  std::tm tm{};
  const std::string s(value);
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return -1;
  const int64_t t = ::timegm(&tm);
  return std::max<int64_t>(0, t - now_unix_s) * 1000;
}

int64_t RetryDelayMs(const RetryPolicy& p, int retry, int64_t retry_after_ms) {
  if (retry_after_ms >= 0) return std::min(retry_after_ms, p.max_retry_after_ms);
  int64_t d = p.initial_backoff_ms;
  for (int i = 1; i < retry && d < p.max_backoff_ms; ++i) d *= 2;
  return std::min(d, p.max_backoff_ms);
}

Result<HttpAnswer> HttpExchange(const std::string& url, const std::string& method,
                                const std::string& path, const std::vector<std::string>& headers,
                                const std::string& body, double timeout_s,
                                const server::TlsClientSettings& tls) {
  OTLAKE_ASSIGN_OR_RAISE(HttpUrl u, ParseHttpUrl(url));
  return HttpRequest(u, method, u.base_path + path, headers, body, timeout_s, tls);
}

// ---------------------------------------------------------------------------------------------
// Sinks

Result<std::unique_ptr<ReplaySink>> MakeOtlpHttpSink(OtlpHttpOptions options) {
  OTLAKE_ASSIGN_OR_RAISE(HttpUrl url, ParseHttpUrl(options.url));
  if (options.retry.max_attempts < 1) options.retry.max_attempts = 1;
  return std::unique_ptr<ReplaySink>(new OtlpHttpSink(std::move(options), std::move(url)));
}

std::unique_ptr<ReplaySink> MakeDirSink(std::string dir) {
  return std::make_unique<DirSink>(std::move(dir));
}

std::string DirSinkRelativePath(const ListedObject& object) {
  std::string key = StripSuffix(object.key, CompressionSuffix(object.name.compression));
  if (object.name.marshaler == Marshaler::kOtlpJson) return StripSuffix(key, ".json") + ".jsonl";
  return key;  // .jsonl and .binpb keep their extension
}

// ---------------------------------------------------------------------------------------------
// Running

Result<PreparedObject> PrepareObject(const ListedObject& object, std::string_view bytes,
                                     const ObjectDecodeOptions& options,
                                     const std::optional<EventTimeWindow>& event_time, bool sink_decodes) {
  PreparedObject p;
  p.listed = &object;
  OTLAKE_ASSIGN_OR_RAISE(p.decoded, DecodeObjectBytes(object.key, object.name, bytes, options));
  if (sink_decodes && !event_time && object.name.marshaler != Marshaler::kOtlpProto) {
    p.json_bodies = true;  // the sink decodes (and counts) them
    p.bodies_moved = true;
    for (Document& d : p.decoded.documents) p.protobuf.push_back(std::move(d.body));
    return p;
  }
  // Without a filter a protobuf document is sent as it is: moved, not copied.
  p.bodies_moved = !event_time && object.name.marshaler == Marshaler::kOtlpProto;
  for (Document& d : p.decoded.documents) {
    std::string pb;
    if (d.content_type == kProtobufContentType) {
      pb = p.bodies_moved ? std::move(d.body) : d.body;
    } else {
      auto converted = otlp::OtlpJsonToProtobuf(ToOtlp(p.decoded.name.signal), d.body);
      if (!converted.ok()) {
        return Status::Invalid(d.line > 0 ? "line " + std::to_string(d.line) + ": " : "",
                               "not OTLP/JSON: ", converted.status().message());
      }
      pb = std::move(*converted);
    }
    if (event_time) {
      auto filtered = FilterByEventTime(p.decoded.name.signal, pb, event_time->start_unix_nanos,
                                        event_time->end_unix_nanos, &p.records_dropped);
      if (!filtered.ok()) {
        return Status::Invalid(d.line > 0 ? "line " + std::to_string(d.line) + ": " : "",
                               filtered.status().message());
      }
      if (filtered->empty()) continue;  // nothing of this document is in the window
      pb = std::move(*filtered);
    }
    if (!sink_decodes || event_time) {
      auto n = CountRecords(p.decoded.name.signal, pb);
      if (!n.ok()) {
        return Status::Invalid(d.line > 0 ? "line " + std::to_string(d.line) + ": " : "",
                               n.status().message());
      }
      p.records += *n;
    }
    p.protobuf.push_back(std::move(pb));
  }
  return p;
}

ReplayReport RunReplay(const ReplaySource& source, const ObjectListing& listing, ReplaySink* sink,
                       const ReplayOptions& options) {
  const auto t0 = Clock::now();
  const int64_t total = static_cast<int64_t>(listing.objects.size());
  ReplayCounters c;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ObjectFailure> failures;
  auto fail = [&](const ListedObject& o, std::string reason) {
    std::lock_guard<std::mutex> lock(mu);
    failures.push_back({o.key, std::move(reason)});
  };
  auto one = [&](int64_t i) {
    const ListedObject& o = listing.objects[static_cast<size_t>(i)];
    auto finish = [&] {
      c.objects_done++;
      cv.notify_one();
    };
    if (options.cancel != nullptr && options.cancel->load()) {
      c.objects_cancelled++;
      return finish();
    }
    if (int64_t records = 0; sink != nullptr && sink->AlreadyDone(o, &records)) {
      c.objects_already++;
      c.records_already += records;
      return finish();
    }
    std::shared_ptr<arrow::Buffer> data;
    Status last;
    for (int attempt = 1; attempt <= std::max(1, options.download_attempts); ++attempt) {
      if (attempt > 1) SleepMs(options.download_backoff_ms << (attempt - 2));
      arrow::fs::FileInfo info(o.path, arrow::fs::FileType::File);
      info.set_size(o.size);
      auto file = source.fs->OpenInputFile(info);
      if (!file.ok()) {
        last = file.status();
        continue;
      }
      auto buf = (*file)->ReadAt(0, o.size);
      (void)(*file)->Close();
      if (!buf.ok()) {
        last = buf.status();
        continue;
      }
      if ((*buf)->size() != o.size) {
        last = Status::IOError("short read: ", (*buf)->size(), " of ", o.size, " bytes");
        continue;
      }
      data = std::move(*buf);
      break;
    }
    bool ok = false;
    if (!data) {
      fail(o, "download failed: " + last.message());
    } else {
      c.bytes += data->size();
      auto prepared = PrepareObject(o, std::string_view(reinterpret_cast<const char*>(data->data()),
                                                        static_cast<size_t>(data->size())),
                                    options.decode, options.event_time, options.sink_decodes);
      if (!prepared.ok()) {
        fail(o, Reason(prepared.status(), o.key));
      } else {
        Status st = sink ? sink->Send(*prepared) : Status::OK();
        if (!st.ok()) {
          fail(o, Reason(st, o.key));
        } else {
          ok = true;
          c.records += prepared->records;
          c.documents += static_cast<int64_t>(prepared->protobuf.size());
          c.records_dropped += prepared->records_dropped;
        }
      }
    }
    (ok ? c.objects_ok : c.objects_failed)++;
    finish();
  };
  auto snapshot = [&] {
    ReplayProgress p;
    p.objects_total = total;
    p.bytes_total = listing.bytes();
    p.objects_done = c.objects_done.load();
    p.objects_failed = c.objects_failed.load();
    p.bytes = c.bytes.load();
    p.records = c.records.load();
    p.records_dropped = c.records_dropped.load();
    p.objects_already = c.objects_already.load();
    p.objects_cancelled = c.objects_cancelled.load();
    p.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return p;
  };
  std::thread runner([&] { ParallelFor(total, options.parallelism, one); });
  {
    const auto interval = std::chrono::milliseconds(std::max<int64_t>(10, options.progress_interval_ms));
    auto next_report = Clock::now();
    std::unique_lock<std::mutex> lock(mu);
    while (c.objects_done.load() < total) {
      cv.wait_for(lock, interval);
      if (options.progress && Clock::now() >= next_report) {
        next_report = Clock::now() + interval;
        lock.unlock();
        options.progress(snapshot());
        lock.lock();
      }
    }
  }
  runner.join();
  if (options.progress) options.progress(snapshot());
  ReplayReport r;
  r.objects = total;
  r.objects_ok = c.objects_ok.load();
  r.objects_failed = c.objects_failed.load();
  r.bytes = c.bytes.load();
  r.records = c.records.load();
  r.documents = c.documents.load();
  r.records_dropped = c.records_dropped.load();
  r.objects_already = c.objects_already.load();
  r.records_already = c.records_already.load();
  r.objects_cancelled = c.objects_cancelled.load();
  r.retries = sink ? sink->retries() : 0;
  r.records_rejected = sink ? sink->rejected() : 0;
  if (sink) r.rejections = sink->rejections();
  std::sort(r.rejections.begin(), r.rejections.end(),
            [](const ObjectFailure& a, const ObjectFailure& b) { return a.key < b.key; });
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.failures = std::move(failures);
  std::sort(r.failures.begin(), r.failures.end(),
            [](const ObjectFailure& a, const ObjectFailure& b) { return a.key < b.key; });
  return r;
}

}  // namespace otlake::archive
