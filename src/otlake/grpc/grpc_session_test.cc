#include "otlake/grpc/grpc_session.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <map>
#include <vector>

#include "otlake/otlp/encoding.h"

namespace otlake::grpc {
namespace {

// An HTTP/2 client (nghttp2) talking to a GrpcSession through memory.
class TestClient {
 public:
  struct Response {
    std::map<std::string, std::string> headers;   // the first HEADERS
    std::map<std::string, std::string> trailers;  // the second, if any
    std::string data;
    bool closed = false;
    uint32_t close_error = 0;
    int header_blocks = 0;
  };

  explicit TestClient(GrpcSession* server) : server_(server) {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, &TestClient::OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &TestClient::OnFrame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &TestClient::OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &TestClient::OnClose);
    nghttp2_session_client_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~TestClient() { nghttp2_session_del(session_); }

  // Starts a call; `body` is sent as is (callers frame messages with Frame()).
  int32_t Call(const std::string& path, const std::string& body,
               std::vector<std::pair<std::string, std::string>> extra = {},
               const std::string& content_type = "application/grpc") {
    std::vector<std::pair<std::string, std::string>> h = {
        {":method", "POST"}, {":scheme", "http"}, {":authority", "localhost"}, {":path", path},
        {"content-type", content_type}, {"te", "trailers"}};
    for (auto& e : extra) h.push_back(e);
    std::vector<nghttp2_nv> nv;
    for (auto& [k, v] : h) {
      nv.push_back({reinterpret_cast<uint8_t*>(k.data()), reinterpret_cast<uint8_t*>(v.data()), k.size(), v.size(),
                    NGHTTP2_NV_FLAG_NONE});
    }
    auto src = std::make_unique<std::pair<std::string, size_t>>(body, 0);
    nghttp2_data_provider dp;
    dp.source.ptr = src.get();
    dp.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                          nghttp2_data_source* s, void*) -> ssize_t {
      auto* p = static_cast<std::pair<std::string, size_t>*>(s->ptr);
      size_t n = std::min(len, p->first.size() - p->second);
      std::memcpy(buf, p->first.data() + p->second, n);
      p->second += n;
      if (p->second == p->first.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    };
    int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), &dp, this);
    bodies_.push_back(std::move(src));
    return id;
  }

  void Cancel(int32_t id) { nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL); }

  // Moves bytes both ways until neither side has anything to send.
  void Pump() {
    for (int i = 0; i < 1000; ++i) {
      bool moved = false;
      const uint8_t* data;
      ssize_t n;
      std::string to_server;
      while ((n = nghttp2_session_mem_send(session_, &data)) > 0) to_server.append(reinterpret_cast<const char*>(data), n);
      if (!to_server.empty()) {
        moved = true;
        server_status_ = server_->Receive(to_server);
      }
      std::string to_client;
      if (server_->TakeOutput(&to_client)) {
        moved = true;
        EXPECT_GE(nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(to_client.data()), to_client.size()), 0);
      }
      if (!moved) return;
    }
    ADD_FAILURE() << "no quiescence";
  }

  Response& response(int32_t id) { return responses_[id]; }
  const Status& server_status() const { return server_status_; }

 private:
  static TestClient* Self(void* u) { return static_cast<TestClient*>(u); }
  static int OnHeader(nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl, const uint8_t* v,
                      size_t vl, uint8_t, void* u) {
    Response& r = Self(u)->responses_[f->hd.stream_id];
    auto& m = r.header_blocks == 0 ? r.headers : r.trailers;
    m[std::string(reinterpret_cast<const char*>(n), nl)] = std::string(reinterpret_cast<const char*>(v), vl);
    return 0;
  }
  static int OnFrame(nghttp2_session*, const nghttp2_frame* f, void* u) {
    if (f->hd.type == NGHTTP2_HEADERS) ++Self(u)->responses_[f->hd.stream_id].header_blocks;
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n, void* u) {
    Self(u)->responses_[id].data.append(reinterpret_cast<const char*>(d), n);
    return 0;
  }
  static int OnClose(nghttp2_session*, int32_t id, uint32_t err, void* u) {
    Response& r = Self(u)->responses_[id];
    r.closed = true;
    r.close_error = err;
    return 0;
  }

  GrpcSession* server_;
  nghttp2_session* session_;
  std::map<int32_t, Response> responses_;
  std::vector<std::unique_ptr<std::pair<std::string, size_t>>> bodies_;
  Status server_status_;
};

std::string Frame(const std::string& message, bool compressed = false) {
  std::string f(5, '\0');
  f[0] = compressed ? 1 : 0;
  const uint32_t n = static_cast<uint32_t>(message.size());
  f[1] = static_cast<char>(n >> 24);
  f[2] = static_cast<char>(n >> 16);
  f[3] = static_cast<char>(n >> 8);
  f[4] = static_cast<char>(n);
  return f + message;
}

constexpr char kTraces[] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

struct Harness {
  explicit Harness(GrpcSessionOptions o = {})
      : session(std::move(o), [this](std::unique_ptr<GrpcSession::Call> c) { calls.push_back(std::move(c)); }),
        client(&session) {}
  std::vector<std::unique_ptr<GrpcSession::Call>> calls;
  GrpcSession session;
  TestClient client;
};

TEST(GrpcSession, UnaryCallBecomesTheHttpRequestAndItsAnswerTheResponse) {
  Harness h;
  const std::string msg = "\x0a\x03" "abc";
  int32_t id = h.client.Call(kTraces, Frame(msg), {{"x-otlake-project-id", "shop"}, {"authorization", "Bearer k"}});
  h.client.Pump();
  ASSERT_EQ(h.calls.size(), 1u);
  const server::HttpRequest& req = h.calls[0]->request;
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path, "/v1/traces");
  EXPECT_EQ(req.body, msg);
  EXPECT_EQ(req.Header("content-type"), "application/x-protobuf");
  EXPECT_EQ(req.Header("x-otlake-project-id"), "shop");
  EXPECT_EQ(req.Header("authorization"), "Bearer k");
  EXPECT_EQ(req.Header("content-encoding"), "");
  EXPECT_EQ(h.session.pending_calls(), 1);
  EXPECT_FALSE(h.client.response(id).closed);  // nothing answered yet

  Answer a;
  a.response = "\x0a\x02" "ok";
  h.session.Respond(h.calls[0]->id, a);
  h.client.Pump();
  auto& r = h.client.response(id);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.close_error, 0u);
  EXPECT_EQ(r.headers[":status"], "200");
  EXPECT_EQ(r.headers["content-type"], "application/grpc");
  EXPECT_EQ(r.data, Frame(a.response));
  EXPECT_EQ(r.trailers["grpc-status"], "0");
  EXPECT_EQ(h.session.pending_calls(), 0);
}

TEST(GrpcSession, ManyCallsOnOneConnectionAnsweredInAnyOrder) {
  Harness h;
  std::vector<int32_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(h.client.Call(kTraces, Frame(std::string(1000 + i, 'x'))));
  h.client.Pump();
  ASSERT_EQ(h.calls.size(), 20u);
  for (int i = 19; i >= 0; --i) {
    Answer a;
    a.response = std::to_string(h.calls[i]->request.body.size());
    h.session.Respond(h.calls[i]->id, a);
  }
  h.client.Pump();
  for (int i = 0; i < 20; ++i) {
    auto& r = h.client.response(ids[i]);
    EXPECT_EQ(r.data, Frame(std::to_string(1000 + i))) << i;
    EXPECT_EQ(r.trailers["grpc-status"], "0");
  }
}

TEST(GrpcSession, LargeMessageFlowsThroughWindowUpdates) {
  Harness h;
  std::string big(5 << 20, 'y');  // past every initial window
  h.client.Call(kTraces, Frame(big));
  h.client.Pump();
  ASSERT_EQ(h.calls.size(), 1u);
  EXPECT_EQ(h.calls[0]->request.body.size(), big.size());
}

TEST(GrpcSession, UnknownMethodIsUnimplementedWithoutACall) {
  Harness h;
  int32_t id = h.client.Call("/foo.Bar/Baz", Frame("x"));
  h.client.Pump();
  EXPECT_TRUE(h.calls.empty());
  auto& r = h.client.response(id);
  EXPECT_EQ(r.headers["grpc-status"], "12");
  EXPECT_NE(r.headers["grpc-message"].find("unknown method /foo.Bar/Baz"), std::string::npos);
  EXPECT_TRUE(r.closed);
}

TEST(GrpcSession, WrongContentTypeIs415) {
  Harness h;
  int32_t id = h.client.Call(kTraces, Frame("x"), {}, "application/json");
  h.client.Pump();
  EXPECT_TRUE(h.calls.empty());
  EXPECT_EQ(h.client.response(id).headers[":status"], "415");
}

TEST(GrpcSession, MalformedFramingIsAnsweredNotDispatched) {
  Harness h;
  int32_t truncated = h.client.Call(kTraces, Frame("hello").substr(0, 7));
  int32_t two = h.client.Call(kTraces, Frame("a") + Frame("b"));
  int32_t none = h.client.Call(kTraces, "");
  int32_t flags = h.client.Call(kTraces, "\x07\0\0\0\0" + std::string());
  int32_t no_encoding = h.client.Call(kTraces, Frame("zz", /*compressed=*/true));
  h.client.Pump();
  EXPECT_TRUE(h.calls.empty());
  EXPECT_EQ(h.client.response(truncated).headers["grpc-status"], "13");
  EXPECT_NE(h.client.response(truncated).headers["grpc-message"].find("truncated"), std::string::npos);
  EXPECT_EQ(h.client.response(two).headers["grpc-status"], "12");
  EXPECT_EQ(h.client.response(none).headers["grpc-status"], "12");
  EXPECT_EQ(h.client.response(flags).headers["grpc-status"], "13");
  EXPECT_EQ(h.client.response(no_encoding).headers["grpc-status"], "13");
}

TEST(GrpcSession, CompressedMessageCarriesItsEncodingToTheHandler) {
  Harness h;
  h.client.Call(kTraces, Frame("gz-bytes", true), {{"grpc-encoding", "gzip"}});
  h.client.Pump();
  ASSERT_EQ(h.calls.size(), 1u);
  EXPECT_EQ(h.calls[0]->request.Header("content-encoding"), "gzip");
  EXPECT_EQ(h.calls[0]->request.body, "gz-bytes");
}

TEST(GrpcSession, OversizedMessageIsRefusedFromItsPrefix) {
  GrpcSessionOptions o;
  o.max_message_bytes = 1000;
  Harness h(o);
  int32_t id = h.client.Call(kTraces, Frame(std::string(200000, 'z')));
  h.client.Pump();
  ASSERT_EQ(h.calls.size(), 1u);  // handed to the handler so it is counted as the HTTP route counts it
  EXPECT_TRUE(h.calls[0]->request.body_too_large);
  EXPECT_TRUE(h.calls[0]->request.body.empty());
  Answer a = AnswerFromHttp([] {
    server::HttpResponse r;
    r.status = 413;
    return r;
  }());
  h.session.Respond(h.calls[0]->id, a);
  h.client.Pump();
  auto& r = h.client.response(id);
  EXPECT_EQ(r.headers["grpc-status"], "8");
  EXPECT_NE(r.headers["grpc-message"].find("200000 bytes exceeds the limit of 1000"), std::string::npos);
  EXPECT_TRUE(r.closed);
}

TEST(GrpcSession, MemoryBudgetRefusalReachesTheHandler) {
  server::MemoryBudget budget(100, 80, nullptr);
  server::MemoryReservation hold(&budget);
  ASSERT_TRUE(hold.Grow(90));
  GrpcSessionOptions o;
  o.memory = &budget;
  Harness h(o);
  h.client.Call(kTraces, Frame(std::string(50, 'm')));
  h.client.Pump();
  ASSERT_EQ(h.calls.size(), 1u);
  EXPECT_TRUE(h.calls[0]->request.over_budget);
  hold.ReleaseAll();
  // Admitted: the message's bytes are held by the call until it is destroyed.
  h.client.Call(kTraces, Frame(std::string(50, 'm')));
  h.client.Pump();
  ASSERT_EQ(h.calls.size(), 2u);
  EXPECT_FALSE(h.calls[1]->request.over_budget);
  EXPECT_EQ(budget.reserved(), 50);
  h.calls.clear();
  EXPECT_EQ(budget.reserved(), 0);
}

TEST(GrpcSession, HeaderCheckRefusesBeforeTheMessage) {
  GrpcSessionOptions o;
  o.header_check = [](const server::HttpRequest& req, server::HttpResponse* res) {
    if (req.Header("authorization") == "Bearer good") return true;
    res->status = 401;
    res->content_type = "application/x-protobuf";
    res->body = std::string("\x08\x10\x12\x07no key!", 11);  // google.rpc.Status{16, "no key!"}
    return false;
  };
  Harness h(o);
  int32_t bad = h.client.Call(kTraces, Frame("x"));
  int32_t good = h.client.Call(kTraces, Frame("x"), {{"authorization", "Bearer good"}});
  h.client.Pump();
  ASSERT_EQ(h.calls.size(), 1u);
  EXPECT_EQ(h.calls[0]->id, good);
  EXPECT_EQ(h.client.response(bad).headers["grpc-status"], "16");
  EXPECT_EQ(h.client.response(bad).headers["grpc-message"], "no key!");
}

TEST(GrpcSession, CancelledCallsAnswerIsDropped) {
  Harness h;
  int32_t id = h.client.Call(kTraces, Frame("x"));
  h.client.Pump();
  ASSERT_EQ(h.calls.size(), 1u);
  h.client.Cancel(id);
  h.client.Pump();
  EXPECT_EQ(h.session.pending_calls(), 0);
  h.session.Respond(h.calls[0]->id, Answer{});
  h.client.Pump();
  EXPECT_TRUE(h.client.response(id).data.empty());
}

TEST(GrpcSession, ShutdownLetsCallsInFlightFinish) {
  Harness h;
  int32_t id = h.client.Call(kTraces, Frame("x"));
  h.client.Pump();
  h.session.Shutdown();
  h.client.Pump();
  EXPECT_FALSE(h.session.Done());
  Answer a;
  a.response = "r";
  h.session.Respond(h.calls[0]->id, a);
  h.client.Pump();
  EXPECT_EQ(h.client.response(id).trailers["grpc-status"], "0");
}

TEST(GrpcSession, GarbageIsAProtocolError) {
  GrpcSession s({}, [](std::unique_ptr<GrpcSession::Call>) { FAIL(); });
  std::string out;
  s.TakeOutput(&out);
  EXPECT_FALSE(s.Receive("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
}

TEST(GrpcAnswer, HttpResponsesMapToGrpcStatuses) {
  server::HttpResponse r;
  r.status = 429;
  r.content_type = "application/x-protobuf";
  r.body = std::string("\x08\x08\x12\x04" "full", 8);
  r.headers = {{"Retry-After", "3"}};
  Answer a = AnswerFromHttp(r);
  EXPECT_EQ(a.code, Code::kResourceExhausted);
  EXPECT_EQ(a.message, "full");
  EXPECT_EQ(a.retry_after_seconds, 3);
  // google.rpc.Status{code 8, message "full", details [Any{RetryInfo{retry_delay{seconds 3}}}]}
  const std::string type_url = "type.googleapis.com/google.rpc.RetryInfo";
  const std::string retry = std::string("\x0a\x02\x08\x03", 4);
  const std::string any = "\x0a" + std::string(1, static_cast<char>(type_url.size())) + type_url + "\x12" +
                          std::string(1, static_cast<char>(retry.size())) + retry;
  const std::string want = std::string("\x08\x08\x12\x04" "full", 8) + "\x1a" +
                           std::string(1, static_cast<char>(any.size())) + any;
  EXPECT_EQ(StatusDetails(a), want);

  r = {};
  r.status = 503;
  r.content_type = "application/x-protobuf";
  r.body = std::string("\x08\x0e\x12\x01x", 5);
  r.headers = {{"Retry-After", "5"}};
  a = AnswerFromHttp(r);
  EXPECT_EQ(a.code, Code::kUnavailable);
  EXPECT_EQ(a.retry_after_seconds, 5);

  r = {};
  r.status = 400;
  r.content_type = "application/x-protobuf";
  r.body = std::string("\x08\x03\x12\x03" "bad", 7);
  a = AnswerFromHttp(r);
  EXPECT_EQ(a.code, Code::kInvalidArgument);
  EXPECT_EQ(a.retry_after_seconds, 0);
  EXPECT_EQ(StatusDetails(a), r.body);

  r = {};
  r.status = 200;
  r.body = "resp";
  a = AnswerFromHttp(r);
  EXPECT_EQ(a.code, Code::kOk);
  EXPECT_EQ(a.response, "resp");

  r = {};
  r.status = 500;
  r.content_type = "text/plain";
  r.body = "boom";
  a = AnswerFromHttp(r);
  EXPECT_EQ(a.code, Code::kInternal);
  EXPECT_EQ(a.message, "boom");
}

TEST(GrpcAnswer, MessagesArePercentEncoded) {
  EXPECT_EQ(PercentEncode("ok 100%"), "ok 100%25");
  EXPECT_EQ(PercentEncode("caf\xc3\xa9\n"), "caf%C3%A9%0A");
}

}  // namespace
}  // namespace otlake::grpc
