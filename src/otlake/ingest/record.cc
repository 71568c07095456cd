#include "otlake/ingest/record.h"

namespace otlake::ingest {

namespace {
constexpr uint8_t kVersion = 1;
constexpr uint8_t kVersionWithOrigin = 2;
constexpr size_t kFixedHeader = 11;

void PutVarint(uint64_t n, std::string* out) {
  while (n >= 0x80) {
    out->push_back(static_cast<char>(n | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
}

bool GetLength(std::string_view p, size_t* pos, uint64_t* len) {
  *len = 0;
  for (int shift = 0;; shift += 7) {
    if (*pos >= p.size() || shift > 28) return false;
    const uint8_t b = static_cast<uint8_t>(p[(*pos)++]);
    *len |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return *len <= p.size() - *pos;
  }
}
}  // namespace

void EncodeRecordHeader(const Record& r, std::string* out) {
  out->clear();
  out->reserve(kFixedHeader + 20 + r.project_id.size() + r.origin.size());
  out->push_back(static_cast<char>(r.origin.empty() ? kVersion : kVersionWithOrigin));
  out->push_back(static_cast<char>(r.signal));
  out->push_back(static_cast<char>(r.format));
  uint64_t t = static_cast<uint64_t>(r.arrival_unix_nano);
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(t >> (8 * i)));
  PutVarint(r.project_id.size(), out);
  out->append(r.project_id);
  if (!r.origin.empty()) {
    PutVarint(r.origin.size(), out);
    out->append(r.origin);
  }
}

void EncodeRecord(const Record& r, std::string* out) {
  EncodeRecordHeader(r, out);
  out->append(r.body);
}

Status DecodeRecord(std::string_view p, Record* r) {
  if (p.size() < kFixedHeader) return Status::Invalid("WAL record payload too short");
  const uint8_t version = static_cast<uint8_t>(p[0]);
  if (version != kVersion && version != kVersionWithOrigin) {
    return Status::Invalid("WAL record payload version ", static_cast<int>(static_cast<uint8_t>(p[0])),
                           " is not supported");
  }
  const uint8_t signal = static_cast<uint8_t>(p[1]);
  const uint8_t format = static_cast<uint8_t>(p[2]);
  if (signal > 2 || format > 1) return Status::Invalid("WAL record payload has a bad signal or format");
  r->signal = static_cast<otlp::Signal>(signal);
  r->format = static_cast<BodyFormat>(format);
  uint64_t t = 0;
  for (int i = 0; i < 8; ++i) t |= static_cast<uint64_t>(static_cast<uint8_t>(p[3 + i])) << (8 * i);
  r->arrival_unix_nano = static_cast<int64_t>(t);
  size_t pos = kFixedHeader;
  uint64_t len = 0;
  if (!GetLength(p, &pos, &len)) return Status::Invalid("WAL record payload: bad project id length");
  r->project_id = p.substr(pos, len);
  pos += len;
  r->origin = {};
  if (version == kVersionWithOrigin) {
    if (!GetLength(p, &pos, &len)) return Status::Invalid("WAL record payload: bad origin length");
    r->origin = p.substr(pos, len);
    pos += len;
  }
  r->body = p.substr(pos);
  return Status::OK();
}

}  // namespace otlake::ingest
