#include "otlake/lake/stats.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <optional>
#include <string_view>

namespace otlake::lake {
namespace {

using table::ColType;
using table::Column;
using table::ColumnDef;
using table::RowBatch;

// Running bounds of one column across all batches.
struct Bounds {
  int64_t nulls = 0;
  bool has = false;
  int64_t imin = 0, imax = 0;
  double dmin = 0, dmax = 0;
  std::string_view smin, smax;  // views into the batches, which outlive ComputeStats
};

template <typename T>
void Widen(T v, bool* has, T* lo, T* hi) {
  if (!*has) {
    *lo = *hi = v;
    *has = true;
  } else {
    if (v < *lo) *lo = v;
    if (v > *hi) *hi = v;
  }
}

void Include(int64_t v, Bounds* b) { Widen(v, &b->has, &b->imin, &b->imax); }
void Include(double v, Bounds* b) {
  if (!std::isnan(v)) Widen(v, &b->has, &b->dmin, &b->dmax);
}
void Include(std::string_view v, Bounds* b) { Widen(v, &b->has, &b->smin, &b->smax); }

void Accumulate(const Column& c, const ColumnDef& def, int64_t rows, Bounds* b) {
  const bool want_minmax = def.type == ColType::kInt64 || def.type == ColType::kDouble ||
                           (def.type == ColType::kString && def.stats);
  if (!c.nullable) {  // the common case: one tight loop per type, no per-row null test
    if (!want_minmax) return;
    switch (def.type) {
      case ColType::kInt64:
        for (int64_t r = 0; r < rows; ++r) Include(c.ints[r], b);
        return;
      case ColType::kDouble:
        for (int64_t r = 0; r < rows; ++r) Include(c.doubles[r], b);
        return;
      case ColType::kString:
        if (c.dict) {  // compare each referenced entry once, not once per row
          std::vector<uint8_t> seen(static_cast<size_t>(c.num_entries()), 0);
          for (int64_t r = 0; r < rows; ++r) seen[static_cast<size_t>(c.codes[r])] = 1;
          for (int64_t k = 0; k < c.num_entries(); ++k) {
            if (seen[static_cast<size_t>(k)]) Include(c.Entry(k), b);
          }
        } else {
          for (int64_t r = 0; r < rows; ++r) Include(c.Entry(r), b);
        }
        return;
      case ColType::kBool:
      case ColType::kMap: return;
    }
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (c.IsNull(r)) {
      ++b->nulls;
      continue;
    }
    if (!want_minmax) continue;
    switch (def.type) {
      case ColType::kInt64: Include(c.ints[r], b); break;
      case ColType::kDouble: Include(c.doubles[r], b); break;
      case ColType::kString: Include(c.StringAt(r), b); break;
      case ColType::kBool:
      case ColType::kMap: break;
    }
  }
}

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// Writes the bound of one column if it has a representable value. `is_min` picks the side.
void WriteBound(JsonWriter& w, const ColumnDef& def, const Bounds& b, bool is_min) {
  if (!b.has) return;
  switch (def.type) {
    case ColType::kInt64:
      w.Key(def.name);
      w.Int64(is_min ? b.imin : b.imax);
      return;
    case ColType::kDouble: {
      const double v = is_min ? b.dmin : b.dmax;
      if (!std::isfinite(v)) return;
      w.Key(def.name);
      w.Double(v);
      return;
    }
    case ColType::kString: {
      const std::string_view v = is_min ? b.smin : b.smax;
      if (v.size() > kMaxStatsStringBytes) {
        if (!is_min) return;  // a truncated max would be below the real one
        w.Key(def.name);
        Str(w, Utf8Prefix(v, kMaxStatsStringBytes));
        return;
      }
      w.Key(def.name);
      Str(w, v);
      return;
    }
    case ColType::kBool:
    case ColType::kMap: return;
  }
}

}  // namespace

std::string_view Utf8Prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  // Back up over continuation bytes (10xxxxxx) so the cut is before a lead byte.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

FileStats ComputeStats(table::TableId id, const std::vector<const RowBatch*>& batches) {
  const auto defs = table::Columns(id);
  std::vector<Bounds> bounds(defs.size());
  FileStats out;
  for (const RowBatch* batch : batches) {
    out.num_records += batch->num_rows();
    for (size_t i = 0; i < defs.size(); ++i) {
      Accumulate(batch->column(static_cast<int>(i)), defs[i], batch->num_rows(), &bounds[i]);
    }
  }
  const Bounds& ts = bounds[table::kEventTs];
  if (ts.has) {
    out.min_event_ts = ts.imin;
    out.max_event_ts = ts.imax;
  }

  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("numRecords");
  w.Int64(out.num_records);
  for (const bool is_min : {true, false}) {
    w.Key(is_min ? "minValues" : "maxValues");
    w.StartObject();
    for (size_t i = 0; i < defs.size(); ++i) WriteBound(w, defs[i], bounds[i], is_min);
    w.EndObject();
  }
  w.Key("nullCount");
  w.StartObject();
  for (size_t i = 0; i < defs.size(); ++i) {
    if (defs[i].type == ColType::kMap) continue;  // Delta keeps no null count for a map column
    w.Key(defs[i].name);
    w.Int64(bounds[i].nulls);
  }
  w.EndObject();
  w.EndObject();
  out.json.assign(buf.GetString(), buf.GetSize());
  return out;
}

}  // namespace otlake::lake
