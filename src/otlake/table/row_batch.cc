#include "otlake/table/row_batch.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <functional>
#include <unordered_set>

namespace otlake::table {

bool IsDictColumn(int col) {
  switch (col) {
    case kProjectId:
    case kServiceName:
    case kServiceNamespace:
    case kServiceInstanceId:
    case kServiceVersion:
    case kDeploymentEnv:
    case kResourceAttrs:
    case kResourceAttrsTypes:
    case kResourceSchemaUrl:
    case kScopeName:
    case kScopeVersion:
    case kScopeAttrs:
    case kScopeAttrsTypes:
    case kScopeSchemaUrl:
    case kEventDate: return true;
    default: return false;
  }
}

namespace {

// A cheap hash of a short key for the duplicate check: its length and its first and last
// eight bytes (fewer for shorter keys), mixed. Keys that agree on those collide and are then
// compared whole, so the answer is exact; attribute keys rarely agree on both ends.
inline uint64_t KeyFingerprint(std::string_view k) {
  const size_t n = k.size();
  uint64_t a = 0, b = 0;
  if (n >= 8) {
    std::memcpy(&a, k.data(), 8);
    std::memcpy(&b, k.data() + n - 8, 8);
  } else if (n >= 4) {
    uint32_t x, y;
    std::memcpy(&x, k.data(), 4);
    std::memcpy(&y, k.data() + n - 4, 4);
    a = x;
    b = y;
  } else {
    for (size_t i = 0; i < n; ++i) a = (a << 8) | static_cast<uint8_t>(k[i]);
  }
  uint64_t h = a * 0x9E3779B97F4A7C15ULL ^ (b + n) * 0xC2B2AE3D27D4EB4FULL;
  return h ^ (h >> 31) ^ (h >> 47);
}

}  // namespace

bool AttrMap::HasDuplicateKeys() const {
  const size_t n = size();
  if (n < 2) return false;
  if (n > 64) {
    std::unordered_set<std::string_view> seen;
    for (size_t i = 0; i < n; ++i) {
      if (!seen.insert(key(i)).second) return true;
    }
    return false;
  }
  // Open addressing over 128 slots (entry index + 1, 0 = free): one fingerprint per key.
  uint8_t slot[128] = {};
  for (size_t i = 0; i < n; ++i) {
    const std::string_view k = key(i);
    size_t h = KeyFingerprint(k);
    for (;; ++h) {
      uint8_t& s = slot[h & 127];
      if (s == 0) {
        s = static_cast<uint8_t>(i + 1);
        break;
      }
      if (key(s - 1) == k) return true;
    }
  }
  return false;
}

int64_t AttrMap::DropDuplicateKeys() {
  const size_t n = size();
  if (n < 2) return 0;
  // Which entries a later entry's key repeats. Lists are short: pairwise up to 64 entries.
  std::vector<uint8_t> drop;
  int64_t dropped = 0;
  if (n <= 64) {
    for (size_t i = 0; i + 1 < n; ++i) {
      const std::string_view k = key(i);
      for (size_t j = i + 1; j < n; ++j) {
        if (key(j) == k) {
          if (drop.empty()) drop.assign(n, 0);
          drop[i] = 1;
          ++dropped;
          break;
        }
      }
    }
  } else {
    std::unordered_set<std::string_view> seen;
    for (size_t i = n; i-- > 0;) {
      if (!seen.insert(key(i)).second) {
        if (drop.empty()) drop.assign(n, 0);
        drop[i] = 1;
        ++dropped;
      }
    }
  }
  if (dropped == 0) return 0;
  AttrMap kept;
  for (size_t i = 0; i < n; ++i) {
    if (!drop[i]) kept.Add(key(i), value(i), types[i]);
  }
  *this = std::move(kept);
  return dropped;
}

namespace {

// a[0, n) == b[0, n), inline for the short strings attribute keys are (word loads, the last
// word overlapping; no call).
inline bool SameBytes(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    uint64_t x, y;
    for (size_t i = 0; i + 8 < n; i += 8) {
      std::memcpy(&x, a + i, 8);
      std::memcpy(&y, b + i, 8);
      if (x != y) return false;
    }
    std::memcpy(&x, a + n - 8, 8);
    std::memcpy(&y, b + n - 8, 8);
    return x == y;
  }
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace

int32_t Column::InternKey(std::string_view key) {
  const size_t hash = std::hash<std::string_view>()(key);
  if (key_index.size() < 2 * static_cast<size_t>(num_keys() + 1)) {  // keep the table at most half full
    std::vector<int32_t> grown(std::max<size_t>(16, 2 * key_index.size()), 0);
    const size_t mask = grown.size() - 1;
    for (int32_t code = 0; code < num_keys(); ++code) {
      size_t i = std::hash<std::string_view>()(Key(code)) & mask;
      while (grown[i] != 0) i = (i + 1) & mask;
      grown[i] = code + 1;
    }
    key_index.swap(grown);
  }
  const size_t mask = key_index.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const int32_t slot = key_index[i];
    if (slot == 0) {
      const auto code = static_cast<int32_t>(num_keys());
      key_chars.append(key.data(), key.size());
      key_offsets.push_back(static_cast<int32_t>(key_chars.size()));
      key_index[i] = code + 1;
      return code;
    }
    if (Key(slot - 1) == key) return slot - 1;
  }
}

int64_t Column::size() const {
  switch (type) {
    case ColType::kMap:
      return dict ? static_cast<int64_t>(codes.size()) : static_cast<int64_t>(offsets.size()) - 1;
    case ColType::kString:
      return dict ? static_cast<int64_t>(codes.size()) : static_cast<int64_t>(offsets.size()) - 1;
    case ColType::kInt64: return static_cast<int64_t>(ints.size());
    case ColType::kDouble: return static_cast<int64_t>(doubles.size());
    case ColType::kBool: return static_cast<int64_t>(bools.size());
  }
  return 0;
}

RowBatch::RowBatch(TableId table) : table_(table) {
  auto defs = Columns(table);
  columns_.resize(defs.size());
  for (size_t i = 0; i < defs.size(); ++i) {
    columns_[i].type = defs[i].type;
    columns_[i].nullable = defs[i].nullable;
    columns_[i].dict = (defs[i].type == ColType::kString || defs[i].type == ColType::kMap) &&
                       !defs[i].nullable && IsDictColumn(static_cast<int>(i));
    if (defs[i].type == ColType::kString) columns_[i].offsets.push_back(0);
    if (defs[i].type == ColType::kMap) {
      columns_[i].offsets.push_back(0);
      columns_[i].key_offsets.push_back(0);
      columns_[i].val_offsets.push_back(0);
    }
  }
}

bool RowBatch::AppendMapImpl(int col, const AttrMap& m, bool unique_only) {
  Column& c = columns_[col];
  const size_t n = c.offsets.size();
  if (c.dict && n > 1) {
    // The last entry again when the map repeats (every row of a resource).
    const int64_t b = c.offsets[n - 2], e = c.offsets[n - 1];
    bool same = e - b == static_cast<int64_t>(m.size());
    for (size_t i = 0; same && i < m.size(); ++i) {
      same = c.MapKey(b + i) == m.key(i) && (c.val_valid[b + i] != 0) == !m.is_null(i) &&
             c.MapValue(b + i) == m.value(i);
    }
    if (same) {  // appended (and checked) before
      c.codes.push_back(static_cast<int32_t>(n - 2));
      return true;
    }
  }
  // The values' layout is the column's (concatenated, end offsets per entry): appended whole,
  // their offsets shifted by what the column already holds. Each key becomes the code of its
  // distinct key; a key where the previous map had the same key (attribute lists of one
  // instrumentation repeat their keys in order) is found without hashing.
  const size_t entries = m.size();
  const int64_t prev_begin = n > 1 ? c.offsets[n - 2] : 0, prev_end = n > 1 ? c.offsets[n - 1] : 0;
  const size_t e0 = c.val_valid.size();
  c.key_codes.resize(e0 + entries);
  if (unique_only && ++c.key_pass == 0) {  // the pass counter wrapped: forget every mark
    std::fill(c.key_seen.begin(), c.key_seen.end(), 0);
    c.key_pass = 1;
  }
  const char* key_bytes = m.keys.data();
  int32_t key_begin = 0;
  for (size_t i = 0; i < entries; ++i) {
    const int32_t key_end = m.key_ends[i];
    const auto key_size = static_cast<size_t>(key_end - key_begin);
    const int64_t prev = prev_begin + static_cast<int64_t>(i);
    int32_t code = -1;
    if (prev < prev_end) {
      const int32_t guess = c.key_codes[prev];
      const int32_t gb = c.key_offsets[guess];
      if (static_cast<size_t>(c.key_offsets[guess + 1] - gb) == key_size &&
          SameBytes(c.key_chars.data() + gb, key_bytes + key_begin, key_size)) {
        code = guess;
      }
    }
    if (code < 0) code = c.InternKey(std::string_view(key_bytes + key_begin, key_size));
    key_begin = key_end;
    c.key_codes[e0 + i] = code;
    if (unique_only) {
      if (c.key_seen.size() <= static_cast<size_t>(code)) c.key_seen.resize(static_cast<size_t>(c.num_keys()), 0);
      if (c.key_seen[code] == c.key_pass) {  // a key repeats: nothing appended
        c.key_codes.resize(e0);
        return false;
      }
      c.key_seen[code] = c.key_pass;
    }
  }
  const auto val_base = static_cast<int32_t>(c.val_chars.size());
  c.val_chars.append(m.values);
  c.val_offsets.resize(e0 + 1 + entries);
  c.val_valid.resize(e0 + entries);
  int32_t* vo = c.val_offsets.data() + e0 + 1;
  uint8_t* valid = c.val_valid.data() + e0;
  for (size_t i = 0; i < entries; ++i) {
    vo[i] = val_base + m.value_ends[i];
    valid[i] = m.types[i] == 'e' ? 0 : 1;
  }
  c.offsets.push_back(c.offsets.back() + static_cast<int32_t>(entries));
  if (c.dict) c.codes.push_back(static_cast<int32_t>(n - 1));
  return true;
}

void RowBatch::AppendNull(int col) {
  Column& c = columns_[col];
  switch (c.type) {
    case ColType::kString:
      if (c.dict) {
        AppendDictString(c, {});
      } else {
        c.offsets.push_back(static_cast<int32_t>(c.chars.size()));
      }
      break;
    case ColType::kInt64: c.ints.push_back(0); break;
    case ColType::kDouble: c.doubles.push_back(0); break;
    case ColType::kBool: c.bools.push_back(0); break;
    case ColType::kMap: AppendMap(col, AttrMap()); return;
  }
  if (c.nullable) c.valid.push_back(0);
}

void RowBatch::ReserveRows(int64_t rows) {
  if (rows <= 0) return;
  const size_t n = static_cast<size_t>(rows);
  for (Column& c : columns_) {
    switch (c.type) {
      case ColType::kString:
      case ColType::kMap:
        if (c.dict) {
          c.codes.reserve(c.codes.size() + n);
        } else {
          c.offsets.reserve(c.offsets.size() + n);
        }
        break;
      case ColType::kInt64: c.ints.reserve(c.ints.size() + n); break;
      case ColType::kDouble: c.doubles.reserve(c.doubles.size() + n); break;
      case ColType::kBool: c.bools.reserve(c.bools.size() + n); break;
    }
    if (c.nullable) c.valid.reserve(c.valid.size() + n);
  }
}

void RowBatch::FinishRow() {
  ++num_rows_;
#ifndef NDEBUG
  for (size_t i = 0; i < columns_.size(); ++i) {
    assert(columns_[i].size() == num_rows_ && "column missed or repeated a value in this row");
  }
#endif
}

void RowBatch::Truncate(int64_t rows) {
  for (Column& c : columns_) {
    switch (c.type) {
      case ColType::kString:
        if (c.dict) {
          // Entries past the last kept row's stay: unreferenced, harmless, dropped per file.
          if (c.size() > rows) c.codes.resize(rows);
        } else if (c.size() > rows) {
          c.offsets.resize(rows + 1);
          c.chars.resize(c.offsets.back());
        }
        break;
      case ColType::kInt64:
        if (c.size() > rows) c.ints.resize(rows);
        break;
      case ColType::kDouble:
        if (c.size() > rows) c.doubles.resize(rows);
        break;
      case ColType::kBool:
        if (c.size() > rows) c.bools.resize(rows);
        break;
      case ColType::kMap:
        if (c.dict) {
          if (c.size() > rows) c.codes.resize(rows);
        } else if (c.size() > rows) {
          c.offsets.resize(rows + 1);
          const size_t entries = static_cast<size_t>(c.offsets.back());
          c.key_codes.resize(entries);  // the distinct keys stay (unreferenced ones are harmless)
          c.val_offsets.resize(entries + 1);
          c.val_chars.resize(c.val_offsets.back());
          c.val_valid.resize(entries);
        }
        break;
    }
    if (c.nullable && static_cast<int64_t>(c.valid.size()) > rows) c.valid.resize(rows);
  }
  if (num_rows_ > rows) num_rows_ = rows;
}

void RowBatch::AppendBatch(const RowBatch& other) {
  assert(other.table_ == table_);
  for (size_t i = 0; i < columns_.size(); ++i) {
    Column& c = columns_[i];
    const Column& o = other.columns_[i];
    switch (c.type) {
      case ColType::kString: {
        const int32_t base = static_cast<int32_t>(c.chars.size());
        const int32_t first_entry = static_cast<int32_t>(c.offsets.size()) - 1;
        c.chars.append(o.chars);
        c.offsets.reserve(c.offsets.size() + o.offsets.size() - 1);
        for (size_t k = 1; k < o.offsets.size(); ++k) c.offsets.push_back(base + o.offsets[k]);
        if (c.dict) {
          c.codes.reserve(c.codes.size() + o.codes.size());
          for (int32_t code : o.codes) c.codes.push_back(first_entry + code);
        }
        break;
      }
      case ColType::kInt64: c.ints.insert(c.ints.end(), o.ints.begin(), o.ints.end()); break;
      case ColType::kDouble:
        c.doubles.insert(c.doubles.end(), o.doubles.begin(), o.doubles.end());
        break;
      case ColType::kBool: c.bools.insert(c.bools.end(), o.bools.begin(), o.bools.end()); break;
      case ColType::kMap: {
        const int32_t first_map = static_cast<int32_t>(c.offsets.size()) - 1;
        const int32_t entry_base = c.offsets.back();
        for (size_t k = 1; k < o.offsets.size(); ++k) c.offsets.push_back(entry_base + o.offsets[k]);
        std::vector<int32_t> remap(static_cast<size_t>(o.num_keys()));
        for (int64_t k = 0; k < o.num_keys(); ++k) remap[static_cast<size_t>(k)] = c.InternKey(o.Key(k));
        c.key_codes.reserve(c.key_codes.size() + o.key_codes.size());
        for (int32_t code : o.key_codes) c.key_codes.push_back(remap[static_cast<size_t>(code)]);
        const int32_t vb = static_cast<int32_t>(c.val_chars.size());
        c.val_chars.append(o.val_chars);
        for (size_t k = 1; k < o.val_offsets.size(); ++k) c.val_offsets.push_back(vb + o.val_offsets[k]);
        c.val_valid.insert(c.val_valid.end(), o.val_valid.begin(), o.val_valid.end());
        if (c.dict) {
          c.codes.reserve(c.codes.size() + o.codes.size());
          for (int32_t code : o.codes) c.codes.push_back(first_map + code);
        }
        break;
      }
    }
    if (c.nullable) c.valid.insert(c.valid.end(), o.valid.begin(), o.valid.end());
  }
  num_rows_ += other.num_rows_;
}

int64_t RowBatch::ByteSize() const {
  int64_t n = 0;
  for (const Column& c : columns_) {
    n += static_cast<int64_t>(c.ints.size() * 8 + c.doubles.size() * 8 + c.bools.size() +
                              c.offsets.size() * 4 + c.chars.size() + c.codes.size() * 4 +
                              c.valid.size() + c.key_offsets.size() * 4 + c.key_chars.size() +
                              c.key_codes.size() * 4 + c.key_index.size() * 4 + c.val_offsets.size() * 4 +
                              c.val_chars.size() + c.val_valid.size());
  }
  return n;
}

RowBatch& TableBatches::Get(TableId t) {
  auto& b = batches_[static_cast<int>(t)];
  if (!b) b = std::make_unique<RowBatch>(t);
  return *b;
}

int64_t TableBatches::TotalRows() const {
  int64_t n = 0;
  for (const auto& b : batches_) n += b ? b->num_rows() : 0;
  return n;
}

int64_t TableBatches::ByteSize() const {
  int64_t n = 0;
  for (const auto& b : batches_) n += b ? b->ByteSize() : 0;
  return n;
}

}  // namespace otlake::table
