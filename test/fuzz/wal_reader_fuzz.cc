// libFuzzer target: arbitrary bytes as a WAL segment file, recovered twice through an in-memory
// Env — once as the LAST segment (damage is a torn tail: repaired) and once as a middle segment
// followed by a valid one (damage is corruption: reported and skipped).
//
// Inputs starting with 0xF5 are *framed*: the rest is a list of (type: 1 byte, length: 2 bytes
// LE, fragment) which the harness lays out in blocks with correct CRCs, so the fuzzer also
// reaches what lies behind the checksum (fragment order, record header, LSN rules, zstd).
//
// Invariants (a violation aborts): recovery never fails on bad bytes; LSNs come out strictly
// increasing; no payload exceeds the limit; repair is idempotent (a second recovery of the
// repaired file returns the same records and finds no torn tail); and the records read from the
// segment do not depend on whether it is the last one.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "otlake/wal/crc32c.h"
#include "otlake/wal/log_format.h"
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

// Turns a framed input into segment bytes with valid checksums (see the top comment).
std::string Frame(std::string_view in) {
  std::string out;
  while (in.size() >= 3) {
    const uint8_t type = static_cast<uint8_t>(in[0]);
    size_t len = static_cast<size_t>(static_cast<uint8_t>(in[1])) |
                 (static_cast<size_t>(static_cast<uint8_t>(in[2])) << 8);
    in.remove_prefix(3);
    len = std::min(len, in.size());
    const size_t left = kBlockSize - out.size() % kBlockSize;
    if (left < static_cast<size_t>(kHeaderSize)) out.append(left, '\0');
    len = std::min(len, kBlockSize - out.size() % kBlockSize - kHeaderSize);
    const char type_byte = static_cast<char>(type);
    const uint32_t crc = MaskCrc(Crc32cExtend(Crc32cExtend(0, &type_byte, 1), in.data(), len));
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(crc >> (8 * i)));
    out.push_back(static_cast<char>(len & 0xFF));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(type_byte);
    out.append(in.data(), len);
    in.remove_prefix(len);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string framed;
  if (size > 0 && data[0] == 0xF5) {
    framed = Frame(bytes.substr(1));
    bytes = framed;
    size = framed.size();
  }
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
  if (!repaired_size.ok() ||
      *repaired_size != static_cast<int64_t>(size) - s1.truncated_tail_bytes) {
    Die("repair did not cut exactly the torn tail");
  }
  Records again;
  const RecoveryStats s2 = RecoverOrDie(env.get(), /*repair=*/true, &again);
  if (again != as_last) Die("recovery of the repaired file returned different records");
  if (s2.truncated_tail_bytes != 0) Die("repaired file still has a torn tail");

  // 2. The input is a middle segment: a valid segment follows it — if LSNs are left for one
  // (an input ending at the largest LSN has none: the writer refuses to open past it).
  if (s1.next_lsn > kMaxLsn - 1000) return 0;
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
