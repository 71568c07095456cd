// libFuzzer target: arbitrary bytes as a WAL segment file, recovered twice through an in-memory
// Env — once as the LAST segment (damage is a torn tail: repaired) and once as a middle segment
// followed by a valid one (damage is corruption: reported and skipped).
//
// Invariants (a violation aborts): recovery never fails on bad bytes; LSNs come out strictly
// increasing; no payload exceeds the limit; repair is idempotent (a second recovery of the
// repaired file returns the same records and finds no torn tail); and the records read from the
// segment do not depend on whether it is the last one.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "otlake/wal/mem_env.h"
#include "otlake/wal/wal_reader.h"
#include "otlake/wal/wal_writer.h"

namespace {

using namespace otlake;
using namespace otlake::wal;

constexpr int64_t kMaxPayload = 1 << 20;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "FUZZ INVARIANT VIOLATED: %s\n", what.c_str());
  std::abort();
}

using Records = std::vector<std::pair<int64_t, std::string>>;

RecoveryStats RecoverOrDie(Env* env, bool repair, Records* out) {
  RecoverOptions opts;
  opts.dir = "wal";
  opts.env = env;
  opts.repair = repair;
  opts.max_payload_bytes = kMaxPayload;
  auto r = Recover(opts, [&](int64_t lsn, std::string_view payload) {
    if (!out->empty() && lsn <= out->back().first) Die("LSNs not increasing");
    if (static_cast<int64_t>(payload.size()) > kMaxPayload) Die("payload over the limit");
    out->emplace_back(lsn, std::string(payload));
    return Status::OK();
  });
  if (!r.ok()) Die("recovery failed: " + r.status().ToString());
  if (r->next_lsn <= r->last_lsn) Die("next_lsn not after last_lsn");
  if (r->records != static_cast<int64_t>(out->size())) Die("records count mismatch");
  return std::move(*r);
}

void Write(Env* env, const std::string& path, std::string_view bytes) {
  auto f = env->NewWritableFile(path);
  if (!f.ok() || !(*f)->Append(bytes).ok()) Die("MemEnv write failed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string first = "wal/" + SegmentFileName(1);

  // 1. The input is the last (only) segment.
  auto env = NewMemEnv();
  if (!env->CreateDir("wal").ok()) Die("mkdir");
  Write(env.get(), first, bytes);
  Records as_last;
  const RecoveryStats s1 = RecoverOrDie(env.get(), /*repair=*/true, &as_last);
  if (s1.corrupt_bytes + s1.truncated_tail_bytes > static_cast<int64_t>(size)) {
    Die("more bytes skipped than the file has");
  }
  auto repaired_size = env->FileSize(first);
  if (!repaired_size.ok() || *repaired_size != static_cast<int64_t>(size) - s1.truncated_tail_bytes) {
    Die("repair did not cut exactly the torn tail");
  }
  Records again;
  const RecoveryStats s2 = RecoverOrDie(env.get(), /*repair=*/true, &again);
  if (again != as_last) Die("recovery of the repaired file returned different records");
  if (s2.truncated_tail_bytes != 0) Die("repaired file still has a torn tail");

  // 2. The input is a middle segment: a valid segment follows it.
  auto env2 = NewMemEnv();
  if (!env2->CreateDir("wal").ok()) Die("mkdir");
  Write(env2.get(), first, bytes);
  const int64_t next = s1.next_lsn + 1000;
  {
    WalOptions o;
    o.dir = "wal";
    o.env = env2.get();
    auto w = WalWriter::Open(o, next);
    if (!w.ok() || !(*w)->Append("tail record").ok() || !(*w)->Close().ok()) Die("writer failed");
  }
  Records as_middle;
  const RecoveryStats s3 = RecoverOrDie(env2.get(), /*repair=*/true, &as_middle);
  if (s3.truncated_tail_bytes != 0) Die("a middle segment's damage was treated as a torn tail");
  if (as_middle.empty() || as_middle.back() != std::make_pair(next, std::string("tail record"))) {
    Die("the valid segment after the damaged one was not read");
  }
  as_middle.pop_back();
  if (as_middle != as_last) Die("records depend on whether the segment is the last one");
  return 0;
}
