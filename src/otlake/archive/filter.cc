#include "otlake/archive/filter.h"

#include <vector>

#include "otlake/otlp/json_to_proto.h"
#include "otlake/otlp/proto_writer.h"
#include "otlake/otlp/wire.h"

namespace otlake::archive {
namespace {

using otlp::ProtoWriter;
using otlp::WireType;

// A message's fields as (number, raw encoded bytes of the whole field): copied back verbatim.
struct RawField {
  uint32_t number;
  WireType type;
  std::string_view data;  // kLen payload
  std::string_view raw;   // tag + value as on the wire
};

Status Split(std::string_view msg, std::vector<RawField>* out) {
  out->clear();
  const uint8_t* p = reinterpret_cast<const uint8_t*>(msg.data());
  const uint8_t* const end = p + msg.size();
  while (p < end) {
    const uint8_t* const start = p;
    uint64_t tag, v;
    if (otlp::ReadVarint(&p, end, &tag) != 0) return Status::Invalid("malformed protobuf tag");
    RawField rf{static_cast<uint32_t>(tag >> 3), static_cast<WireType>(tag & 7), {}, {}};
    switch (tag & 7) {
      case 0:
        if (otlp::ReadVarint(&p, end, &v) != 0) return Status::Invalid("malformed protobuf varint");
        break;
      case 1:
        if (end - p < 8) return Status::Invalid("truncated fixed64");
        p += 8;
        break;
      case 5:
        if (end - p < 4) return Status::Invalid("truncated fixed32");
        p += 4;
        break;
      case 2:
        if (otlp::ReadVarint(&p, end, &v) != 0 || v > static_cast<uint64_t>(end - p)) {
          return Status::Invalid("malformed protobuf length");
        }
        rf.data = std::string_view(reinterpret_cast<const char*>(p), v);
        p += v;
        break;
      default:
        return Status::Invalid("protobuf groups are not supported here");
    }
    rf.raw = std::string_view(reinterpret_cast<const char*>(start), static_cast<size_t>(p - start));
    out->push_back(rf);
  }
  return Status::OK();
}

class Filter {
 public:
  Filter(otlp::Signal s, int depth) : signal_(s) { opts_.max_nesting_depth = depth; }

  Result<std::string> Run(std::string_view req) {
    std::vector<RawField> top;
    OTLAKE_RETURN_NOT_OK(Split(req, &top));
    ProtoWriter out;
    for (const RawField& rf : top) {
      if (rf.number != 1 || rf.type != WireType::kLen) continue;  // unknown top-level fields: not stored
      OTLAKE_ASSIGN_OR_RAISE(std::string kept, Resource(rf.data));
      if (!kept.empty()) out.Bytes(1, kept);
    }
    return out.Release();
  }

 private:
  // One Resource{Spans,Logs,Metrics}: fields other than 2 are copied; each scope filtered.
  Result<std::string> Resource(std::string_view rs) {
    std::vector<RawField> f;
    OTLAKE_RETURN_NOT_OK(Split(rs, &f));
    std::string head;  // resource, schema_url, unknown fields
    for (const RawField& x : f) {
      if (x.number != 2) head.append(x.raw);
    }
    std::string scopes;
    for (const RawField& x : f) {
      if (x.number != 2 || x.type != WireType::kLen) continue;
      OTLAKE_ASSIGN_OR_RAISE(std::string kept, Scope(head, x.data));
      if (!kept.empty()) {
        ProtoWriter w;
        w.Bytes(2, kept);
        scopes += w.data();
      }
    }
    if (scopes.empty()) return std::string();
    return head + scopes;
  }

  // One Scope{Spans,Logs,Metrics}: records (field 2) filtered one by one.
  Result<std::string> Scope(const std::string& resource_head, std::string_view ss) {
    std::vector<RawField> f;
    OTLAKE_RETURN_NOT_OK(Split(ss, &f));
    std::string head;
    for (const RawField& x : f) {
      if (x.number != 2) head.append(x.raw);
    }
    std::string records;
    for (const RawField& x : f) {
      if (x.number != 2 || x.type != WireType::kLen) continue;
      if (signal_ == otlp::Signal::kMetrics) {
        OTLAKE_ASSIGN_OR_RAISE(std::string kept, Metric(resource_head, head, x.data));
        if (!kept.empty()) {
          ProtoWriter w;
          w.Bytes(2, kept);
          records += w.data();
        }
      } else {
        OTLAKE_ASSIGN_OR_RAISE(bool ok, Accepted(resource_head, head, std::string(x.raw)));
        if (ok) records.append(x.raw);
      }
    }
    if (records.empty()) return std::string();
    return head + records;
  }

  // A Metric: the data points of its data field (gauge 5, sum 7, histogram 9, exponential
  // histogram 10, summary 11; points are field 1 of each) filtered one by one.
  Result<std::string> Metric(const std::string& resource_head, const std::string& scope_head,
                             std::string_view metric) {
    std::vector<RawField> f;
    OTLAKE_RETURN_NOT_OK(Split(metric, &f));
    auto is_data = [](uint32_t n) { return n == 5 || n == 7 || n == 9 || n == 10 || n == 11; };
    std::string head;
    bool has_points = false;
    for (const RawField& x : f) {
      if (!is_data(x.number)) head.append(x.raw);
    }
    std::string data_fields;
    for (const RawField& x : f) {
      if (!is_data(x.number) || x.type != WireType::kLen) continue;
      std::vector<RawField> d;
      OTLAKE_RETURN_NOT_OK(Split(x.data, &d));
      std::string dhead;
      for (const RawField& y : d) {
        if (y.number != 1) dhead.append(y.raw);
      }
      std::string points;
      for (const RawField& y : d) {
        if (y.number != 1) continue;
        has_points = true;
        ProtoWriter one;
        one.Bytes(x.number, dhead + std::string(y.raw));
        OTLAKE_ASSIGN_OR_RAISE(bool ok, Accepted(resource_head, scope_head, Wrap(2, head + one.data())));
        if (ok) points.append(y.raw);
      }
      if (!points.empty() || d.empty()) {
        ProtoWriter w;
        w.Bytes(x.number, dhead + points);
        data_fields += w.data();
      }
    }
    if (has_points && data_fields.empty()) return std::string();
    return head + data_fields;
  }

  static std::string Wrap(uint32_t field, const std::string& msg) {
    ProtoWriter w;
    w.Bytes(field, msg);
    return w.Release();
  }

  // Decodes a request made of the one record (`record_field`: field 2 of the scope, encoded)
  // under its resource and scope; true if accepted.
  Result<bool> Accepted(const std::string& resource_head, const std::string& scope_head,
                        const std::string& record_field) {
    const std::string req = Wrap(1, resource_head + Wrap(2, scope_head + record_field));
    otlp::DecodeResult r;
    OTLAKE_RETURN_NOT_OK(otlp::DecodeProtobuf(signal_, req, opts_, &r));
    return r.rejected == 0;
  }

  otlp::Signal signal_;
  otlp::DecodeOptions opts_;
};

}  // namespace

Result<std::string> AcceptedRecordsOnly(otlp::Signal signal, std::string_view body, bool json,
                                        int max_nesting_depth) {
  std::string converted;
  if (json) {
    OTLAKE_ASSIGN_OR_RAISE(converted, otlp::OtlpJsonToProtobuf(signal, body));
    body = converted;
  }
  return Filter(signal, max_nesting_depth).Run(body);
}

}  // namespace otlake::archive
