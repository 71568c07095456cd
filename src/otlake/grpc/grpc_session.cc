#include "otlake/grpc/grpc_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "otlake/otlp/encoding.h"
#include "otlake/otlp/proto_writer.h"

namespace otlake::grpc {

namespace {

constexpr std::string_view kTracePath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
constexpr std::string_view kLogsPath = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
constexpr std::string_view kMetricsPath = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
constexpr std::string_view kAcceptEncoding = "identity,gzip,deflate,zstd";
constexpr size_t kMaxHeaderBytes = 64 << 10;

Code CodeForHttpStatus(int status) {
  switch (status) {
    case 200: return Code::kOk;
    case 400: return Code::kInvalidArgument;
    case 401: return Code::kUnauthenticated;
    case 403: return Code::kPermissionDenied;
    case 404: return Code::kUnimplemented;
    case 413: return Code::kResourceExhausted;
    case 415: return Code::kInvalidArgument;
    case 429: return Code::kResourceExhausted;
    case 503: return Code::kUnavailable;
    case 504: return Code::kDeadlineExceeded;
    default: return status >= 500 ? Code::kInternal : Code::kUnknown;
  }
}

// Reads a varint at *p (< end); false if truncated or longer than 10 bytes.
bool ReadVarint(const uint8_t** p, const uint8_t* end, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 70 && *p < end; shift += 7) {
    const uint8_t b = *(*p)++;
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// google.rpc.Status { int32 code = 1; string message = 2; } from `body`; false if it is not one.
bool ParseStatus(std::string_view body, int* code, std::string* message) {
  const auto* p = reinterpret_cast<const uint8_t*>(body.data());
  const uint8_t* end = p + body.size();
  bool any = false;
  while (p < end) {
    uint64_t tag;
    if (!ReadVarint(&p, end, &tag)) return false;
    const uint32_t field = static_cast<uint32_t>(tag >> 3);
    switch (tag & 7) {
      case 0: {
        uint64_t v;
        if (!ReadVarint(&p, end, &v)) return false;
        if (field == 1) {
          *code = static_cast<int>(v);
          any = true;
        }
        break;
      }
      case 2: {
        uint64_t n;
        if (!ReadVarint(&p, end, &n) || n > static_cast<uint64_t>(end - p)) return false;
        if (field == 2) {
          message->assign(reinterpret_cast<const char*>(p), n);
          any = true;
        }
        p += n;
        break;
      }
      case 1:
        if (end - p < 8) return false;
        p += 8;
        break;
      case 5:
        if (end - p < 4) return false;
        p += 4;
        break;
      default:
        return false;
    }
  }
  return any;
}

bool IsKnownCode(int c) { return c >= 0 && c <= 16; }

}  // namespace

std::string_view HttpPathForMethod(std::string_view grpc_path) {
  if (grpc_path == kTracePath) return "/v1/traces";
  if (grpc_path == kLogsPath) return "/v1/logs";
  if (grpc_path == kMetricsPath) return "/v1/metrics";
  return {};
}

Answer AnswerFromHttp(const server::HttpResponse& response) {
  Answer a;
  if (response.status == 200) {
    a.response = response.body;
    return a;
  }
  a.code = CodeForHttpStatus(response.status);
  int code = -1;
  std::string message;
  if (response.content_type == "application/x-protobuf" && ParseStatus(response.body, &code, &message)) {
    if (IsKnownCode(code) && code != 0) a.code = static_cast<Code>(code);
    a.message = std::move(message);
  } else {
    a.message = response.body;  // a plain-text or JSON answer: pass it on as it is
  }
  if (a.message.empty()) a.message = "HTTP status " + std::to_string(response.status);
  if (a.code == Code::kResourceExhausted || a.code == Code::kUnavailable) {
    for (const auto& [k, v] : response.headers) {
      if (k == "Retry-After") {
        int s = 0;
        for (char c : v) {
          if (c < '0' || c > '9' || s > 86400) break;
          s = s * 10 + (c - '0');
        }
        a.retry_after_seconds = s;
      }
    }
  }
  return a;
}

std::string StatusDetails(const Answer& answer) {
  if (answer.code == Code::kOk) return {};
  otlp::ProtoWriter status;  // google.rpc.Status { code = 1; message = 2; repeated Any details = 3 }
  status.Varint(1, static_cast<uint64_t>(answer.code));
  if (!answer.message.empty()) status.String(2, answer.message);
  if (answer.retry_after_seconds > 0) {
    otlp::ProtoWriter duration;  // google.protobuf.Duration { int64 seconds = 1; }
    duration.Varint(1, static_cast<uint64_t>(answer.retry_after_seconds));
    otlp::ProtoWriter retry;  // google.rpc.RetryInfo { Duration retry_delay = 1; }
    retry.Bytes(1, duration.data());
    otlp::ProtoWriter any;  // google.protobuf.Any { string type_url = 1; bytes value = 2; }
    any.String(1, "type.googleapis.com/google.rpc.RetryInfo");
    any.Bytes(2, retry.data());
    status.Bytes(3, any.data());
  }
  return status.data();
}

std::string PercentEncode(std::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (unsigned char c : message) {
    if (c < 0x20 || c > 0x7e || c == '%') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// One HTTP/2 stream: a call being received, handled, then answered.
struct Stream {
  int32_t id = 0;
  server::HttpRequest request;
  std::string method;
  std::string path;  // :path
  std::string content_type;
  std::string encoding;  // grpc-encoding
  size_t header_bytes = 0;

  // Message framing: the 5-byte prefix, then `length` bytes.
  uint8_t prefix[5] = {};
  size_t prefix_have = 0;
  bool compressed = false;
  uint64_t length = 0;
  int messages = 0;       // complete messages received
  bool discard = false;   // the rest of the stream is not kept (answered, or refused)
  int64_t too_large = -1;  // >= 0: the message length that passed the limit

  bool dispatched = false;  // handed to the handler, answer not yet submitted
  bool answered = false;    // a response has been submitted
  bool reset_after_answer = false;  // RST_STREAM NO_ERROR once the answer is sent, if still open

  // The answer being sent: 5-byte prefix + message, then trailers.
  std::string out;
  size_t out_sent = 0;
  std::vector<std::pair<std::string, std::string>> trailers;
};

class GrpcSession::Impl {
 public:
  Impl(GrpcSessionOptions options, GrpcSession::Dispatch dispatch)
      : options_(std::move(options)), dispatch_(std::move(dispatch)) {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &Impl::OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cb, &Impl::OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Impl::OnFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Impl::OnDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Impl::OnStreamClose);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, &Impl::OnFrameSend);
    nghttp2_option* opt;
    nghttp2_option_new(&opt);
    nghttp2_session_server_new2(&session_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, static_cast<uint32_t>(options_.max_concurrent_streams)},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(options_.stream_window_bytes)},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(kMaxHeaderBytes)},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, options_.connection_window_bytes);
  }

  ~Impl() { nghttp2_session_del(session_); }

  Status Receive(std::string_view bytes) {
    const ssize_t n = nghttp2_session_mem_recv(
        session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (n < 0) return Status::Invalid(std::string("HTTP/2: ") + nghttp2_strerror(static_cast<int>(n)));
    return Status::OK();
  }

  bool TakeOutput(std::string* out) {
    bool any = false;
    for (;;) {
      const uint8_t* data;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) break;  // < 0: a fatal library error; Done() then reports the session over
      out->append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
      any = true;
    }
    return any;
  }

  void Respond(int32_t id, const Answer& answer) {
    auto it = streams_.find(id);
    if (it == streams_.end() || !it->second->dispatched) return;  // cancelled meanwhile
    Stream* s = it->second.get();
    s->dispatched = false;
    --pending_;
    Answer a = answer;
    if (s->too_large >= 0) {
      a.code = Code::kResourceExhausted;
      a.message = "request message of " + std::to_string(s->too_large) +
                  " bytes exceeds the limit of " + std::to_string(options_.max_message_bytes) +
                  " bytes (--grpc-max-message-bytes)";
      a.retry_after_seconds = 0;
    }
    Submit(s, a);
  }

  void Shutdown() {
    if (shut_down_) return;
    shut_down_ = true;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
  }

  bool Done() const {
    return !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
  }

  int pending() const { return pending_; }

 private:
  static Impl* Self(void* user) { return static_cast<Impl*>(user); }

  Stream* Find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Impl* self = Self(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto s = std::make_unique<Stream>();
    s->id = frame->hd.stream_id;
    s->request.peer = self->options_.peer;
    s->request.memory = server::MemoryReservation(self->options_.memory);
    self->streams_[s->id] = std::move(s);
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    Impl* self = Self(user);
    Stream* s = self->Find(frame->hd.stream_id);
    if (s == nullptr) return 0;
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // request trailers: ignored
    s->header_bytes += namelen + valuelen + 32;
    if (s->header_bytes > kMaxHeaderBytes) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST
    if (n == ":method") {
      s->method.assign(v);
    } else if (n == ":path") {
      s->path.assign(v);
    } else if (n == "content-type") {
      s->content_type.assign(v);
    } else if (n == "grpc-encoding") {
      s->encoding.assign(v);
    } else if (!n.empty() && n[0] != ':') {
      s->request.headers.emplace_back(std::string(n), std::string(v));  // nghttp2 gives lowercase
    }
    return 0;
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Impl* self = Self(user);
    Stream* s = self->Find(frame->hd.stream_id);
    if (s == nullptr) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      self->Start(s);
    }
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      self->Finish(s);
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                         void* user) {
    Impl* self = Self(user);
    Stream* s = self->Find(stream_id);
    if (s == nullptr || s->discard) return 0;
    self->Consume(s, data, len);
    return 0;
  }

  static int OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    Stream* s = Self(user)->Find(frame->hd.stream_id);
    if (s != nullptr && s->reset_after_answer && !nghttp2_session_get_stream_remote_close(session, s->id)) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
    }
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t, void* user) {
    Impl* self = Self(user);
    auto it = self->streams_.find(stream_id);
    if (it == self->streams_.end()) return 0;
    if (it->second->dispatched) --self->pending_;  // its answer, when it comes, is dropped
    self->streams_.erase(it);
    return 0;
  }

  // The request's headers are complete: check them; a call that cannot be served is answered now.
  void Start(Stream* s) {
    if (s->method != "POST") {
      return Reject(s, 405, Code::kUnimplemented, "method " + s->method + " not allowed; gRPC uses POST");
    }
    std::string_view ct = s->content_type;
    if (ct.rfind("application/grpc", 0) != 0 ||
        (ct.size() > 16 && ct[16] != '+' && ct[16] != ';')) {
      return Reject(s, 415, Code::kInvalidArgument,
                    "unsupported content-type '" + s->content_type + "': use application/grpc");
    }
    std::string_view path = HttpPathForMethod(s->path);
    if (path.empty()) {
      return Reject(s, 200, Code::kUnimplemented,
                    "unknown method " + s->path + ": otlake serves the OTLP TraceService, LogsService and MetricsService Export calls");
    }
    if (ct.size() > 16 && ct.substr(16) != "+proto" && ct.substr(16, 1) == "+") {
      return Reject(s, 200, Code::kInvalidArgument,
                    "unsupported content-type '" + s->content_type + "': only the protobuf codec is served");
    }
    s->request.method = "POST";
    s->request.path.assign(path);
    s->request.target.assign(path);
    s->request.headers.emplace_back("content-type", "application/x-protobuf");
    if (options_.header_check) {
      server::HttpResponse refusal;
      if (!options_.header_check(s->request, &refusal)) {
        s->request.path.clear();  // never dispatched
        s->discard = true;
        const Answer a = AnswerFromHttp(refusal);
        if (options_.on_refused) options_.on_refused(a.code);
        return Submit(s, a);
      }
    }
  }

  void Consume(Stream* s, const uint8_t* data, size_t len) {
    while (len > 0 && !s->discard) {
      if (s->prefix_have < 5) {
        const size_t take = std::min(len, 5 - s->prefix_have);
        std::memcpy(s->prefix + s->prefix_have, data, take);
        s->prefix_have += take;
        data += take;
        len -= take;
        if (s->prefix_have < 5) return;
        if (s->messages >= 1) {
          return Reject(s, 200, Code::kUnimplemented, "more than one request message on a unary call");
        }
        if (s->prefix[0] > 1) {
          return Reject(s, 200, Code::kInternal,
                        "bad message flags " + std::to_string(s->prefix[0]) + " (0 or 1 expected)");
        }
        s->compressed = s->prefix[0] == 1;
        s->length = (uint64_t{s->prefix[1]} << 24) | (uint64_t{s->prefix[2]} << 16) |
                    (uint64_t{s->prefix[3]} << 8) | uint64_t{s->prefix[4]};
        if (s->compressed && (s->encoding.empty() || s->encoding == "identity")) {
          return Reject(s, 200, Code::kInternal, "compressed message without a grpc-encoding");
        }
        if (static_cast<int64_t>(s->length) > options_.max_message_bytes) {
          s->too_large = static_cast<int64_t>(s->length);
          s->request.body_too_large = true;
          return DispatchEarly(s);
        }
        if (!s->request.memory.Grow(static_cast<int64_t>(s->length))) {
          s->request.over_budget = true;
          return DispatchEarly(s);
        }
        s->request.body.reserve(s->length);
      }
      const size_t take = std::min<uint64_t>(len, s->length - s->request.body.size());
      s->request.body.append(reinterpret_cast<const char*>(data), take);
      data += take;
      len -= take;
      if (s->request.body.size() == s->length) {
        ++s->messages;
        s->prefix_have = 0;
      }
    }
  }

  // The client finished sending: hand the call out (or answer a malformed one).
  void Finish(Stream* s) {
    if (s->discard || s->dispatched || s->answered || s->request.path.empty()) return;
    if (s->prefix_have != 0) {
      return Reject(s, 200, Code::kInternal, "the request message is truncated (stream ended inside it)");
    }
    if (s->messages == 0) {
      return Reject(s, 200, Code::kUnimplemented, "no request message on a unary call");
    }
    if (s->compressed) s->request.headers.emplace_back("content-encoding", s->encoding);
    HandOut(s);
  }

  // Hands the call out before its message was read (too large, over the memory budget): the
  // handler answers it as the HTTP route answers such a request; the rest is discarded.
  void DispatchEarly(Stream* s) {
    s->discard = true;
    s->request.body.clear();
    s->request.body.shrink_to_fit();
    HandOut(s);
  }

  void HandOut(Stream* s) {
    s->dispatched = true;
    ++pending_;
    auto call = std::make_unique<Call>();
    call->id = s->id;
    call->request = std::move(s->request);
    dispatch_(std::move(call));
  }

  void Reject(Stream* s, int http_status, Code code, std::string message) {
    s->discard = true;
    s->request.body.clear();
    s->request.memory.ReleaseAll();
    Answer a;
    a.code = code;
    a.message = std::move(message);
    if (options_.on_refused) options_.on_refused(code);
    Submit(s, a, http_status);
  }

  // Submits the answer: headers + message + trailers, or a trailers-only response for an
  // error -- after which a client still sending is reset with NO_ERROR (the answer is complete;
  // the rest of the request is not wanted).
  void Submit(Stream* s, const Answer& a, int http_status = 200) {
    if (s->answered) return;
    s->answered = true;
    const std::string status_text = std::to_string(http_status);
    const std::string code_text = std::to_string(static_cast<int>(a.code));
    std::vector<nghttp2_nv> nv;
    auto add = [&nv](std::string_view k, std::string_view v) {
      nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(k.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), k.size(), v.size(),
                    NGHTTP2_NV_FLAG_NONE});
    };
    add(":status", status_text);
    add("content-type", "application/grpc");
    add("grpc-accept-encoding", kAcceptEncoding);
    if (a.code != Code::kOk) {
      const std::string message = PercentEncode(a.message);
      std::string details;
      otlp::AppendBase64(&details, StatusDetails(a));
      while (!details.empty() && details.back() == '=') details.pop_back();  // unpadded, as gRPC emits
      add("grpc-status", code_text);
      add("grpc-message", message);
      add("grpc-status-details-bin", details);
      nghttp2_submit_response(session_, s->id, nv.data(), nv.size(), nullptr);  // trailers-only
      s->reset_after_answer = true;  // once the answer is out (OnFrameSend): a reset now would drop it
    } else {
      s->out.resize(5 + a.response.size());
      const uint32_t n = static_cast<uint32_t>(a.response.size());
      s->out[0] = 0;
      s->out[1] = static_cast<char>(n >> 24);
      s->out[2] = static_cast<char>(n >> 16);
      s->out[3] = static_cast<char>(n >> 8);
      s->out[4] = static_cast<char>(n);
      std::memcpy(s->out.data() + 5, a.response.data(), a.response.size());
      s->trailers = {{"grpc-status", "0"}};
      nghttp2_data_provider provider;
      provider.source.ptr = s;
      provider.read_callback = &Impl::ReadResponse;
      nghttp2_submit_response(session_, s->id, nv.data(), nv.size(), &provider);
    }
  }

  static ssize_t ReadResponse(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                                    uint32_t* data_flags, nghttp2_data_source* source, void*) {
    Stream* s = static_cast<Stream*>(source->ptr);
    const size_t n = std::min(length, s->out.size() - s->out_sent);
    std::memcpy(buf, s->out.data() + s->out_sent, n);
    s->out_sent += n;
    if (s->out_sent == s->out.size()) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
      std::vector<nghttp2_nv> nv;
      for (auto& [k, v] : s->trailers) {
        nv.push_back({reinterpret_cast<uint8_t*>(k.data()), reinterpret_cast<uint8_t*>(v.data()), k.size(),
                      v.size(), NGHTTP2_NV_FLAG_NONE});
      }
      nghttp2_submit_trailer(session, stream_id, nv.data(), nv.size());
    }
    return static_cast<ssize_t>(n);
  }

  const GrpcSessionOptions options_;
  const GrpcSession::Dispatch dispatch_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  int pending_ = 0;
  bool shut_down_ = false;
};

GrpcSession::GrpcSession(GrpcSessionOptions options, Dispatch dispatch)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(dispatch))) {}
GrpcSession::~GrpcSession() = default;
Status GrpcSession::Receive(std::string_view bytes) { return impl_->Receive(bytes); }
bool GrpcSession::TakeOutput(std::string* out) { return impl_->TakeOutput(out); }
void GrpcSession::Respond(int32_t id, const Answer& answer) { impl_->Respond(id, answer); }
void GrpcSession::Shutdown() { impl_->Shutdown(); }
bool GrpcSession::Done() const { return impl_->Done(); }
int GrpcSession::pending_calls() const { return impl_->pending(); }

}  // namespace otlake::grpc
