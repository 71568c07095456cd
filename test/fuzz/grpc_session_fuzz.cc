// libFuzzer target: arbitrary bytes as what an OTLP/gRPC client sends after the HTTP/2 connection
// preface (grpc::GrpcSession). The first byte splits the input into that many reads (1-8), as a
// socket would deliver it. Every call handed out is answered (alternately OK and RESOURCE_EXHAUSTED
// with a retry delay), then the session's output is drained. Invariants: a call's path is one of
// the three OTLP routes, its body is at most the message limit and empty when refused (too large,
// over budget), the memory budget counts every byte a call holds and nothing once the calls and
// the session are gone, and once every call is answered none is pending.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_checks.h"
#include "otlake/grpc/grpc_session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace otlake;
  if (size == 0) return 0;
  const int reads = 1 + data[0] % 8;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  server::MemoryBudget budget(4 << 20, 0, nullptr);
  grpc::GrpcSessionOptions o;
  o.max_message_bytes = 1 << 20;
  o.memory = &budget;
  std::vector<std::unique_ptr<grpc::GrpcSession::Call>> calls;
  auto owned = std::make_unique<grpc::GrpcSession>(
      o, [&](std::unique_ptr<grpc::GrpcSession::Call> c) { calls.push_back(std::move(c)); });
  grpc::GrpcSession& session = *owned;
  std::string out;
  session.TakeOutput(&out);
  if (!session.Receive("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").ok()) fuzz::Die("preface refused");

  const size_t step = in.size() / reads + 1;
  for (size_t off = 0; off < in.size(); off += step) {
    if (!session.Receive(in.substr(off, step)).ok()) break;
    session.TakeOutput(&out);
  }
  int64_t held = 0;
  for (const auto& c : calls) {
    const auto& r = c->request;
    if (r.path != "/v1/traces" && r.path != "/v1/logs" && r.path != "/v1/metrics") fuzz::Die("bad path " + r.path);
    if (static_cast<int64_t>(r.body.size()) > o.max_message_bytes) fuzz::Die("body over the limit");
    if ((r.body_too_large || r.over_budget) && !r.body.empty()) fuzz::Die("refused call kept its body");
    held += r.memory.bytes();
  }
  // Streams still being received hold their message's bytes too.
  if (budget.reserved() < held) fuzz::Die("calls hold bytes the budget does not count");
  int i = 0;
  for (const auto& c : calls) {
    grpc::Answer a;
    if (i++ % 2) {
      a.code = grpc::Code::kResourceExhausted;
      a.message = "full \xff%";
      a.retry_after_seconds = 1;
    } else {
      a.response = "\x0a\x00";
    }
    session.Respond(c->id, a);
    session.TakeOutput(&out);
  }
  if (session.pending_calls() != 0) fuzz::Die("answered calls still pending");
  calls.clear();
  owned.reset();
  if (budget.reserved() != 0) fuzz::Die("budget not released");
  return 0;
}
