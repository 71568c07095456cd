// QueryEngine: day planning, Delta snapshots (cached), file and row-group pruning, Parquet reads
// through arrow::fs, filters with Arrow compute, newest-first top-N. The only Arrow TU of the
// query module (keep it so: Arrow headers are slow to compile).
#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/filesystem/localfs.h>
#include <arrow/io/api.h>
#include <parquet/arrow/reader.h>
#include <parquet/bloom_filter.h>
#include <parquet/bloom_filter_reader.h>
#include <parquet/column_reader.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <parquet/statistics.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <charconv>
#include <cmath>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <sys/stat.h>

#include "otlake/common/time_util.h"
#include "otlake/lake/day_readers.h"
#include "otlake/lake/delta_log.h"
#include "otlake/lake/layout.h"
#include "otlake/lake/snapshot.h"
#include "otlake/otlp/attr_map.h"
#include "otlake/otlp/typed_json.h"
#include "otlake/query/query.h"
#include "otlake/ship/days_index.h"

namespace otlake::query {
namespace {

namespace cp = arrow::compute;
using table::ColType;
using table::TableId;

// A min or max bound from add.stats.
using Bound = std::variant<std::monostate, int64_t, double, std::string>;

struct FileMeta {
  std::string path;     // absolute local path, or "<bucket>/<key>" on S3
  std::string display;  // <day>/otel/<table>/<file>, for warnings
  bool remote = false;  // on S3
  int64_t size = 0;
  int64_t rows = -1;  // -1: unknown
  std::vector<Bound> min, max;  // per column
};

struct Snapshot {
  int64_t version = -1;
  int64_t log_mtime_ns = 0;
  int64_t loaded_ns = 0;  // when it was read (S3 snapshots of unverified days expire)
  // S3: the verification (its record's time) the day had when this was read, empty if none. Only
  // a snapshot read after the current verification is immutable: one read during the upload
  // (before the log was there) or before a re-ship must be read again.
  std::string verified_stamp;
  lake::TableState state;
  std::vector<std::shared_ptr<const FileMeta>> files;
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Bound JsonBound(const rapidjson::Value& v, ColType type) {
  if (type == ColType::kString && v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (type == ColType::kInt64 && v.IsInt64()) return v.GetInt64();
  if (type == ColType::kDouble && v.IsNumber()) return v.GetDouble();
  return {};
}

std::shared_ptr<const FileMeta> ParseFileMeta(TableId t, const std::string& table_dir,
                                              const std::string& display_dir, bool remote,
                                              const lake::AddFile& add) {
  auto m = std::make_shared<FileMeta>();
  // add.path is URI-encoded relative to the table; otlake's names need no decoding.
  m->path = table_dir + "/" + add.path;
  m->display = display_dir + "/" + add.path;
  m->remote = remote;
  m->size = add.size;
  auto cols = table::Columns(t);
  m->min.resize(cols.size());
  m->max.resize(cols.size());
  rapidjson::Document d;
  if (add.stats.empty() || d.Parse(add.stats.data(), add.stats.size()).HasParseError() ||
      !d.IsObject()) {
    return m;
  }
  if (auto it = d.FindMember("numRecords"); it != d.MemberEnd() && it->value.IsInt64()) {
    m->rows = it->value.GetInt64();
  }
  for (const char* side : {"minValues", "maxValues"}) {
    auto it = d.FindMember(side);
    if (it == d.MemberEnd() || !it->value.IsObject()) continue;
    std::vector<Bound>& out = side[1] == 'i' ? m->min : m->max;
    for (size_t c = 0; c < cols.size(); ++c) {
      auto f = it->value.FindMember(cols[c].name);
      if (f != it->value.MemberEnd()) out[c] = JsonBound(f->value, cols[c].type);
    }
  }
  return m;
}

// -1/0/1 comparing a filter value (text) with a bound of the column's type; nullopt if the
// bound is absent or the value does not parse.
std::optional<int> CompareToBound(const std::string& value, const Bound& b) {
  if (const auto* s = std::get_if<std::string>(&b)) return value.compare(*s) < 0 ? -1 : value == *s ? 0 : 1;
  if (const auto* i = std::get_if<int64_t>(&b)) {
    int64_t v;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || p != value.data() + value.size()) return std::nullopt;
    return v < *i ? -1 : v == *i ? 0 : 1;
  }
  if (const auto* d = std::get_if<double>(&b)) {
    double v;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || p != value.data() + value.size()) return std::nullopt;
    return v < *d ? -1 : v == *d ? 0 : 1;
  }
  return std::nullopt;
}

// False when min/max prove no row can pass `op value`.
bool MayMatch(Op op, const std::string& value, const Bound& min, const Bound& max) {
  auto lo = CompareToBound(value, min);  // value vs min
  auto hi = CompareToBound(value, max);  // value vs max
  switch (op) {
    case Op::kEq: return !(lo && *lo < 0) && !(hi && *hi > 0);
    case Op::kLt: return !(lo && *lo <= 0);  // need some x < value: min < value
    case Op::kLe: return !(lo && *lo < 0);
    case Op::kGt: return !(hi && *hi >= 0);
    case Op::kGe: return !(hi && *hi > 0);
    default: return true;
  }
}

// Row-group statistics as Bounds.
void RowGroupBounds(const parquet::ColumnChunkMetaData& cc, Bound* min, Bound* max) {
  std::shared_ptr<parquet::Statistics> st = cc.statistics();
  if (!st || !st->HasMinMax()) return;
  switch (st->physical_type()) {
    case parquet::Type::INT64: {
      auto* s = static_cast<parquet::Int64Statistics*>(st.get());
      *min = s->min();
      *max = s->max();
      break;
    }
    case parquet::Type::DOUBLE: {
      auto* s = static_cast<parquet::DoubleStatistics*>(st.get());
      *min = s->min();
      *max = s->max();
      break;
    }
    case parquet::Type::BYTE_ARRAY: {
      auto* s = static_cast<parquet::ByteArrayStatistics*>(st.get());
      *min = std::string(reinterpret_cast<const char*>(s->min().ptr), s->min().len);
      *max = std::string(reinterpret_cast<const char*>(s->max().ptr), s->max().len);
      break;
    }
    default:
      break;
  }
}

Result<std::shared_ptr<arrow::Scalar>> ValueScalar(ColType type, const std::string& v) {
  switch (type) {
    case ColType::kString: return arrow::MakeScalar(v);
    case ColType::kInt64: {
      int64_t i = 0;
      std::from_chars(v.data(), v.data() + v.size(), i);
      return arrow::MakeScalar(i);
    }
    case ColType::kDouble: {
      double d = 0;
      std::from_chars(v.data(), v.data() + v.size(), d);
      return arrow::MakeScalar(d);
    }
    case ColType::kBool: return arrow::MakeScalar(v == "true");
    case ColType::kMap: break;
  }
  return Status::Invalid("bad column type");
}

const char* CompareFunction(Op op) {
  switch (op) {
    case Op::kEq: return "equal";
    case Op::kNe: return "not_equal";
    case Op::kLt: return "less";
    case Op::kLe: return "less_equal";
    case Op::kGt: return "greater";
    case Op::kGe: return "greater_equal";
    default: return nullptr;
  }
}

bool ParseIntText(std::string_view t, int64_t* v) {
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), *v);
  return !t.empty() && ec == std::errc() && p == t.data() + t.size();
}

bool ParseDoubleText(std::string_view t, double* v) {
  if (t == "NaN" || t == "Infinity" || t == "-Infinity") {
    *v = t == "NaN" ? std::nan("") : (t[0] == '-' ? -HUGE_VAL : HUGE_VAL);
    return true;
  }
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), *v);
  return !t.empty() && ec == std::errc() && p == t.data() + t.size();
}

// Does an attribute whose map value is `value` with type letter `type` satisfy `f` (the key
// matched)? `=`/`!=` compare strings and bools as text and numbers as numbers (200 matches an
// int 200 and a double 200.0); `<` `<=` `>` `>=` compare numbers only.
bool AttrValueMatches(std::string_view value, char type, const AttrFilter& f) {
  const bool numeric = type == 'i' || type == 'd';
  int cmp = 0;  // value vs f.value, for numbers
  bool comparable = false;
  if (numeric) {
    int64_t a, b;
    double x, y;
    if (type == 'i' && ParseIntText(value, &a) && ParseIntText(f.value, &b)) {
      cmp = a < b ? -1 : a > b ? 1 : 0;
      comparable = true;
    } else if (ParseDoubleText(value, &x) && ParseDoubleText(f.value, &y) && !std::isnan(x) &&
               !std::isnan(y)) {
      cmp = x < y ? -1 : x > y ? 1 : 0;
      comparable = true;
    }
  }
  if (f.op == Op::kEq || f.op == Op::kNe) {
    bool eq = false;
    if (type == 's' || type == 'b') {
      eq = value == f.value;
    } else if (numeric) {
      eq = comparable && cmp == 0;
    }
    return f.op == Op::kEq ? eq : !eq;
  }
  if (!comparable) return false;
  switch (f.op) {
    case Op::kLt: return cmp < 0;
    case Op::kLe: return cmp <= 0;
    case Op::kGt: return cmp > 0;
    case Op::kGe: return cmp >= 0;
    default: return false;
  }
}

// The map value texts an `attr.k=v` filter can match (v as given, and for a number its int and
// double spellings): a row group whose value bloom filter has none of them holds no match.
std::vector<std::string> AttrEqualityTexts(const AttrFilter& f) {
  std::vector<std::string> out = {f.value};
  double d;
  if (ParseDoubleText(f.value, &d) && std::isfinite(d)) {
    std::string t;
    otlp::AppendMapDouble(&t, d);
    if (t != f.value) out.push_back(t);
    if (d == std::trunc(d) && std::fabs(d) < 9.2e18) {
      std::string i = std::to_string(static_cast<int64_t>(d));
      if (i != f.value && i != t) out.push_back(i);
    }
  }
  return out;
}

bool IsJsonColumn(std::string_view name) { return name.ends_with("_json"); }

CellKind KindOf(const table::ColumnDef& c) {
  if (IsJsonColumn(c.name) || c.type == ColType::kMap) return CellKind::kJson;
  switch (c.type) {
    case ColType::kString: return CellKind::kString;
    case ColType::kInt64: return CellKind::kInt64;
    case ColType::kDouble: return CellKind::kDouble;
    case ColType::kBool: return CellKind::kBool;
    case ColType::kMap: return CellKind::kJson;
  }
  return CellKind::kString;
}

}  // namespace

class QueryEngine::Impl {
 public:
  explicit Impl(EngineOptions o)
      : options_(std::move(o)),
        days_dir_(options_.instance_dir + "/staging/days"),
        fs_(std::make_shared<arrow::fs::LocalFileSystem>()) {
    (void)cp::Initialize();
  }

  const QueryLimits& limits() const { return options_.limits; }

  // A day to read, and where from.
  struct DaySource {
    int64_t d = 0;
    std::string name;     // YYYY-MM-DD
    bool remote = false;  // on S3
    bool verified = false;  // the index says the S3 copy is verified (immutable)
    std::string verified_stamp;  // when_utc of that verification
  };

  // Local day folders (YYYY-MM-DD) under staging/days.
  Result<std::vector<std::pair<int64_t, std::string>>> ListLocalDays() {
    std::vector<std::pair<int64_t, std::string>> days;
    arrow::fs::FileSelector sel;
    sel.base_dir = days_dir_;
    sel.allow_not_found = true;
    OTLAKE_ASSIGN_OR_RAISE(auto infos, fs_->GetFileInfo(sel));
    for (const auto& fi : infos) {
      int64_t d;
      if (fi.IsDirectory() && ParseDate(fi.base_name(), &d)) days.emplace_back(d, fi.base_name());
    }
    return days;
  }

  // Day folders on S3 (listed at most every 30 s).
  Result<std::vector<std::pair<int64_t, std::string>>> ListS3Days() {
    {
      std::lock_guard lk(mu_);
      if (s3_days_listed_ns_ != 0 && NowNs() - s3_days_listed_ns_ < 30'000'000'000) return s3_days_;
    }
    std::vector<std::pair<int64_t, std::string>> days;
    arrow::fs::FileSelector sel;
    sel.base_dir = options_.s3_days_root;
    sel.allow_not_found = true;
    OTLAKE_ASSIGN_OR_RAISE(auto infos, options_.s3->GetFileInfo(sel));
    for (const auto& fi : infos) {
      int64_t d;
      if (fi.IsDirectory() && ParseDate(fi.base_name(), &d)) days.emplace_back(d, fi.base_name());
    }
    std::lock_guard lk(mu_);
    s3_days_ = days;
    s3_days_listed_ns_ = NowNs();
    return days;
  }

  // The days index (index/days.jsonl), re-read when the file changes.
  // Which verification a day is at: its record's time and the number of verify attempts.
  static std::string VerifiedStamp(const ship::DayStatus& st) {
    auto it = st.attempts.find(ship::Phase::kVerified);
    return st.verified.when_utc + "#" + std::to_string(it == st.attempts.end() ? 0 : it->second);
  }

  std::map<std::string, ship::DayStatus> IndexStatuses() {
    const std::string path = options_.instance_dir + "/index/days.jsonl";
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return {};
    const int64_t stamp = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    std::lock_guard lk(mu_);
    if (stamp != index_stamp_ || st.st_size != index_size_) {
      ship::DaysIndex index(options_.instance_dir + "/index");
      auto loaded = index.Load();
      if (loaded.ok()) {
        index_ = std::move(*loaded);
        index_stamp_ = stamp;
        index_size_ = st.st_size;
      }
    }
    return index_;
  }

  // The days `storage` reads, newest first (docs/querying.md "Local and S3 days"). Days that
  // cannot be read from anywhere add a warning.
  Result<std::vector<DaySource>> ListDays(Storage storage, std::vector<std::string>* warnings) {
    std::vector<DaySource> out;
    if (storage == Storage::kS3) {
      OTLAKE_ASSIGN_OR_RAISE(auto remote, ListS3Days());
      auto idx = IndexStatuses();
      for (const auto& [d, name] : remote) {
        auto it = idx.find(name);
        const bool verified = it != idx.end() && it->second.done >= ship::Phase::kVerified;
        out.push_back({d, name, true, verified, verified ? VerifiedStamp(it->second) : ""});
      }
    } else {
      OTLAKE_ASSIGN_OR_RAISE(auto local, ListLocalDays());
      std::map<std::string, DaySource> by_name;
      for (const auto& [d, name] : local) by_name[name] = {d, name, false, false, ""};
      if (storage == Storage::kAuto) {
        for (const auto& [name, st] : IndexStatuses()) {
          if (st.done < ship::Phase::kVerified) continue;
          int64_t d;
          if (!ParseDate(name, &d)) continue;
          if (options_.s3) {
            by_name[name] = {d, name, true, true, VerifiedStamp(st)};
          } else if (!by_name.count(name) && warnings != nullptr) {
            warnings->push_back(name + " skipped: the day was shipped to S3 (" + st.target +
                                ") and S3 is not configured here" +
                                (options_.s3_problem.empty() ? "" : " (" + options_.s3_problem + ")"));
          }
        }
      }
      for (auto& [name, ds] : by_name) out.push_back(ds);
      // A cleaned day with a local folder again holds rows written after it was shipped (a
      // clock that stepped back): they are only here, so read them next to the S3 copy.
      if (storage == Storage::kAuto && options_.s3) {
        const auto idx = IndexStatuses();
        for (const auto& [d, name] : local) {
          auto st = idx.find(name);
          if (by_name[name].remote && st != idx.end() && st->second.done == ship::Phase::kCleaned) {
            out.push_back({d, name, false, false, ""});
          }
        }
      }
    }
    std::sort(out.begin(), out.end(), [](const DaySource& a, const DaySource& b) { return a.d > b.d; });
    return out;
  }

  std::string TableDir(const DaySource& day, TableId t) const {
    return (day.remote ? options_.s3_days_root : days_dir_) + "/" + day.name + "/otel/" +
           std::string(table::TableName(t));
  }

  // Where a query reads `day` (one of `planned`), held for the query's length (docs/delta.md
  // "Readers and deleted files"): an S3 day as it is; a local day with its readers lock taken
  // (added to *holds), so no file of the snapshots loaded next leaves disk before the query
  // ends. A local day being cleaned, or moved away since it was listed, is read from its
  // verified S3 copy instead (storage=auto), whole: never half local, half S3. nullopt: the day
  // is no longer anywhere this query may read.
  Result<std::optional<DaySource>> HoldDay(const DaySource& day, Storage storage,
                                           const std::vector<DaySource>& planned,
                                           std::vector<std::unique_ptr<lake::DayLock>>* holds) {
    if (day.remote) return std::optional<DaySource>(day);
    std::unique_ptr<lake::DayLock> lock;
    OTLAKE_ASSIGN_OR_RAISE(lake::ShareState state, lake::ShareDay(days_dir_ + "/" + day.name, &lock));
    if (state == lake::ShareState::kHeld) {
      holds->push_back(std::move(lock));
      return std::optional<DaySource>(day);
    }
    // The S3 copy, unless the plan reads it already (a cleaned day that has a local folder
    // again reads both, each whole).
    const bool planned_remote = std::any_of(planned.begin(), planned.end(), [&](const DaySource& p) {
      return p.remote && p.name == day.name;
    });
    if (storage == Storage::kAuto && options_.s3 && !planned_remote) {
      const auto idx = IndexStatuses();
      auto it = idx.find(day.name);
      if (it != idx.end() && it->second.done >= ship::Phase::kVerified) {
        return std::optional<DaySource>(DaySource{day.d, day.name, true, true, VerifiedStamp(it->second)});
      }
    }
    if (state == lake::ShareState::kClosing) {  // nowhere else to read it: the clean waits for us
      holds->push_back(std::move(lock));
      return std::optional<DaySource>(day);
    }
    return std::optional<DaySource>();
  }

  static std::string TableDisplay(const DaySource& day, TableId t) {
    return (day.remote ? "s3:" : "") + day.name + "/otel/" + std::string(table::TableName(t));
  }

  // The table's snapshot, or nullptr if the day has no such table.
  Result<std::shared_ptr<const Snapshot>> GetSnapshot(const DaySource& day, TableId t) {
    arrow::fs::FileSystem* fs = day.remote ? options_.s3.get() : fs_.get();
    const std::string table_dir = TableDir(day, t);
    const std::string display_dir = TableDisplay(day, t);
    const std::string log_dir = table_dir + "/_delta_log";
    const std::string cache_key = (day.remote ? "s3://" : "") + log_dir;
    std::shared_ptr<const Snapshot> cached;
    {
      std::lock_guard lk(mu_);
      auto it = cache_.find(cache_key);
      if (it != cache_.end()) cached = it->second;
    }
    int64_t mtime = 0;
    if (day.remote) {
      // A verified S3 day never changes (once read after its verification); any other S3 day
      // is re-read after 10 s.
      const bool immutable = day.verified && !day.verified_stamp.empty() &&
                             cached && cached->verified_stamp == day.verified_stamp;
      if (cached && (immutable || NowNs() - cached->loaded_ns < 10'000'000'000)) {
        return cached->version < 0 ? std::shared_ptr<const Snapshot>() : cached;
      }
    } else {
      OTLAKE_ASSIGN_OR_RAISE(arrow::fs::FileInfo info, fs->GetFileInfo(log_dir));
      if (!info.IsDirectory()) return std::shared_ptr<const Snapshot>();
      mtime = info.mtime().time_since_epoch().count();
      // A folder's mtime has coarse granularity: trust it only once it is a second old.
      if (cached && cached->log_mtime_ns == mtime && NowNs() - mtime > 1'000'000'000) return cached;
    }

    lake::LogSource src;
    src.log_dir = (day.remote ? "s3://" : "") + log_dir;
    src.list = [&]() -> Result<std::vector<std::string>> {
      arrow::fs::FileSelector sel;
      sel.base_dir = log_dir;
      sel.allow_not_found = day.remote;
      OTLAKE_ASSIGN_OR_RAISE(auto infos, fs->GetFileInfo(sel));
      std::vector<std::string> names;
      for (const auto& fi : infos) names.push_back(fi.base_name());
      return names;
    };
    src.read = [&](const std::string& name, bool* missing) -> Result<std::string> {
      const std::string path = log_dir + "/" + name;
      auto file = fs->OpenInputFile(path);
      if (!file.ok()) {
        if (missing != nullptr) {
          auto fi = fs->GetFileInfo(path);
          *missing = fi.ok() && fi->type() == arrow::fs::FileType::NotFound;
        }
        return file.status();
      }
      OTLAKE_ASSIGN_OR_RAISE(int64_t size, (*file)->GetSize());
      OTLAKE_ASSIGN_OR_RAISE(auto buf, (*file)->ReadAt(0, size));
      return buf->ToString();
    };
    auto snap = std::make_shared<Snapshot>();
    snap->log_mtime_ns = mtime;
    snap->loaded_ns = NowNs();
    if (day.remote && day.verified) snap->verified_stamp = day.verified_stamp;
    OTLAKE_ASSIGN_OR_RAISE(snap->state,
                           lake::LoadTableState(src, cached && !day.remote ? &cached->state : nullptr));
    snap->version = snap->state.version;
    std::map<std::string, std::shared_ptr<const FileMeta>> old;
    if (cached) {
      for (const auto& f : cached->files) old.emplace(f->path, f);
    }
    for (const auto& [path, add] : snap->state.adds) {
      auto it = old.find(table_dir + "/" + path);
      snap->files.push_back(it != old.end() ? it->second
                                            : ParseFileMeta(t, table_dir, display_dir, day.remote, add));
    }
    std::lock_guard lk(mu_);
    cache_[cache_key] = snap;
    if (snap->version < 0) return std::shared_ptr<const Snapshot>();  // no table on S3 that day
    return std::shared_ptr<const Snapshot>(snap);
  }

  Status CheckStorage(Storage s) {
    if (s == Storage::kS3 && !options_.s3) {
      return Status::Invalid("parameter 'storage': s3 is not configured on this instance (",
                             options_.s3_problem.empty() ? "no S3 variables are set" : options_.s3_problem,
                             "); use auto or local");
    }
    return Status::OK();
  }

  Result<ResultSet> Run(const Query& page) {
    OTLAKE_RETURN_NOT_OK(CheckStorage(page.storage));
    // A cursor narrows the time bound to the last row seen and asks for the tied rows already
    // returned on top, which are dropped after sorting.
    Query q = page;
    if (q.after_ts) {
      auto& bound = q.ascending ? q.time_ms_from : q.time_ms_to;
      bound = bound ? (q.ascending ? std::max(*bound, *q.after_ts) : std::min(*bound, *q.after_ts))
                    : *q.after_ts;
      q.max_rows += q.after_skip;
    }
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::milliseconds(options_.limits.timeout_ms);
    const auto cols = table::Columns(q.table);
    const int ts_col = table::kEventTs;

    ResultSet rs;
    rs.table = q.table;
    std::vector<int> out_cols = q.select;
    if (out_cols.empty()) {
      for (size_t c = 0; c < cols.size(); ++c) {
        if (!table::IsAttrTypesColumn(q.table, static_cast<int>(c))) out_cols.push_back(static_cast<int>(c));
      }
    }
    for (int c : out_cols) {
      rs.columns.emplace_back(ApiColumnName(q.table, c));
      rs.kinds.push_back(KindOf(cols[c]));
    }

    // Candidate files from every planned day, pruned by their add.stats.
    struct Candidate {
      std::shared_ptr<const FileMeta> file;
      int64_t best_ts;  // newest (desc) or oldest (asc) event_ts it may hold
    };
    std::vector<Candidate> candidates;
    // Readers locks of the local days read; released when Run returns, after every read
    // (including the read-ahead tasks below, which are waited for first).
    std::vector<std::unique_ptr<lake::DayLock>> holds;
    OTLAKE_ASSIGN_OR_RAISE(auto days, ListDays(q.storage, &rs.warnings));
    for (const DaySource& planned : days) {
      if (q.day_from && (planned.d < *q.day_from || planned.d > *q.day_to)) continue;
      const size_t held_before = holds.size();
      OTLAKE_ASSIGN_OR_RAISE(std::optional<DaySource> held, HoldDay(planned, q.storage, days, &holds));
      if (!held) continue;
      const DaySource& day = *held;
      const size_t candidates_before = candidates.size();
      auto snap_or = GetSnapshot(day, q.table);
      if (!snap_or.ok()) {  // an answer without this day's rows would look complete: fail
        return Status::IOError("cannot read the Delta log of ", TableDisplay(day, q.table), ": ",
                               snap_or.status().ToString());
      }
      auto snap = std::move(*snap_or);
      if (!snap) {
        if (holds.size() > held_before) holds.pop_back();  // nothing to read here: no lock needed
        continue;
      }
      if (lake::IsSchemaVersion1(snap->state.metadata.schema_string)) {
        rs.warnings.push_back(SchemaVersion1Warning(day, q.table));
        if (holds.size() > held_before) holds.pop_back();
        continue;
      }
      ++rs.stats.days;
      rs.stats.snapshots.push_back({day.name, q.table, day.remote, snap->version});
      rs.stats.files_total += static_cast<int64_t>(snap->files.size());
      for (const auto& f : snap->files) {
        if (!FileMayMatch(q, *f)) continue;
        int64_t best = q.ascending ? INT64_MIN : INT64_MAX;
        const Bound& b = q.ascending ? f->min[ts_col] : f->max[ts_col];
        if (const auto* v = std::get_if<int64_t>(&b)) best = *v;
        candidates.push_back({f, best});
      }
      // A day none of whose files will be read needs no lock either (a descriptor per day held).
      if (candidates.size() == candidates_before && holds.size() > held_before) holds.pop_back();
    }
    std::stable_sort(candidates.begin(), candidates.end(), [&](const Candidate& a, const Candidate& b) {
      return q.ascending ? a.best_ts < b.best_ts : a.best_ts > b.best_ts;
    });

    // Scan newest first, keeping at most max_rows rows.
    std::vector<int> read_cols = out_cols;  // + filter columns + event_ts, as table order
    auto need = [&](int c) {
      if (std::find(read_cols.begin(), read_cols.end(), c) == read_cols.end()) read_cols.push_back(c);
    };
    need(ts_col);
    // An attribute map is read with its type letters (the column after it).
    for (size_t i = 0; i < read_cols.size(); ++i) {
      if (cols[read_cols[i]].type == ColType::kMap) need(read_cols[i] + 1);
    }
    std::shared_ptr<arrow::Table> held;  // sorted, <= max_rows rows, columns = read_cols order
    std::optional<int64_t> threshold;   // event_ts of the last held row once full
    // A selective query (equality on a bloom-filtered column: a trace or span lookup) reads S3
    // files ahead, a few at once: there every row-group read is a round trip of tens of
    // milliseconds, and a trace's row groups (or a bloom filter's false positives) sit in
    // different files, each a small read. Unselective queries read file by file, so the
    // newest-first cut (`threshold`) keeps them from fetching files they do not need. Read-ahead
    // stops once `threshold` is set; a file read ahead with an older threshold only returns rows
    // the cut drops. Local files are read in turn: that is CPU work, and queries already run one
    // per CPU. `ahead` is declared after everything its tasks use, so leaving this scope waits
    // for them.
    const std::vector<std::string> bloom_cols = lake::BloomFilterColumns(q.table);
    const bool selective = std::any_of(q.filters.begin(), q.filters.end(), [&](const ColumnFilter& cf) {
      return cf.op == Op::kEq &&
             std::find(bloom_cols.begin(), bloom_cols.end(), cols[cf.column].name) != bloom_cols.end();
    });
    using ScanOut = std::pair<Result<std::vector<std::shared_ptr<arrow::Table>>>, ScanStats>;
    std::vector<std::future<ScanOut>> ahead(candidates.size());
    size_t launched = 0;
    auto read_ahead = [&](size_t next) {
      for (launched = std::max(launched, next);
           selective && !threshold && launched < candidates.size() && launched < next + kRemoteReadAhead;
           ++launched) {
        std::shared_ptr<const FileMeta> f = candidates[launched].file;
        if (!f->remote) continue;
        try {
          ahead[launched] = std::async(std::launch::async, [this, &q, &read_cols, f, deadline] {
            ScanStats st;
            auto r = ScanFile(q, *f, read_cols, std::nullopt, deadline, &st);
            return ScanOut(std::move(r), st);
          });
        } catch (const std::system_error&) {
          break;  // no thread to be had: the remaining files are read in turn
        }
      }
    };
    for (size_t ci = 0; ci < candidates.size(); ++ci) {
      const Candidate& cand = candidates[ci];
      if (threshold && (q.ascending ? cand.best_ts > *threshold : cand.best_ts < *threshold)) break;
      read_ahead(ci + 1);
      Result<std::vector<std::shared_ptr<arrow::Table>>> part_or;
      if (ahead[ci].valid()) {
        ScanOut done = ahead[ci].get();
        part_or = std::move(done.first);
        Add(&rs.stats, done.second);
      } else {
        part_or = ScanFile(q, *cand.file, read_cols, threshold, deadline, &rs.stats);
      }
      if (!part_or.ok()) {
        if (part_or.status().IsCancelled()) return part_or.status();
        // The snapshot's files stay on disk while the day is held, so this file went missing or
        // broke outside otlake's control: say so rather than answer fewer rows.
        return Status::IOError("data file ", cand.file->display, " of the snapshot cannot be read: ",
                               part_or.status().ToString());
      }
      auto part = std::move(*part_or);
      for (auto& t : part) {
        if (held) {
          OTLAKE_ASSIGN_OR_RAISE(held, arrow::ConcatenateTables({held, t}));
        } else {
          held = t;
        }
      }
      if (!part.empty()) {
        OTLAKE_ASSIGN_OR_RAISE(held, SortAndCut(held, read_cols, ts_col, q));
        if (held->num_rows() >= q.max_rows) {
          auto ts = std::static_pointer_cast<arrow::Int64Array>(
              held->column(IndexOf(read_cols, ts_col))->chunk(0));
          threshold = ts->Value(held->num_rows() - 1);
        }
      }
    }
    if (held) {
      auto ts = std::static_pointer_cast<arrow::Int64Array>(
          held->column(IndexOf(read_cols, ts_col))->chunk(0));
      int64_t skip = 0;  // rows tied with the cursor that earlier pages returned
      while (page.after_ts && skip < page.after_skip && skip < held->num_rows() &&
             ts->Value(skip) == *page.after_ts) {
        ++skip;
      }
      held = held->Slice(skip);
      const int64_t n = held->num_rows();
      if (n > 0 && n >= page.max_rows) {
        const int64_t last = ts->Value(skip + n - 1);
        int64_t tied = 0;
        for (int64_t i = skip + n - 1; i >= skip && ts->Value(i) == last; --i) ++tied;
        if (page.after_ts && last == *page.after_ts) tied += page.after_skip;
        rs.next_cursor = std::to_string(last) + "_" + std::to_string(tied);
      }
      OTLAKE_ASSIGN_OR_RAISE(held, held->CombineChunks());
      OTLAKE_RETURN_NOT_OK(ToCells(*held, read_cols, out_cols, &rs));
    }
    rs.stats.elapsed_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
    return rs;
  }

  Result<Trace> GetTrace(const std::string& trace_id, Storage storage,
                         const std::function<bool()>& cancelled) {
    auto lookup = [&](TableId t) {
      Query q;
      q.table = t;
      q.storage = storage;
      q.ascending = true;
      q.max_rows = options_.limits.max_trace_spans;
      q.filters.push_back({table::spans::kTraceId, Op::kEq, trace_id});
      q.cancelled = cancelled;
      static_assert(int{table::spans::kTraceId} == int{table::span_events::kTraceId} &&
                    int{table::spans::kTraceId} == int{table::span_links::kTraceId});
      return Run(q);
    };
    // With S3 days in play the three tables are looked up at once (each lookup waits on S3
    // round trips, not on the CPU); on local days one after the other.
    std::future<Result<ResultSet>> events, links;
    if (options_.s3 != nullptr && storage != Storage::kLocal) {
      try {
        events = std::async(std::launch::async, lookup, TableId::kSpanEvents);
        links = std::async(std::launch::async, lookup, TableId::kSpanLinks);
      } catch (const std::system_error&) {
        // No thread to be had: whatever did not start runs below, in turn.
      }
    }
    Trace tr;
    Result<ResultSet> spans = lookup(TableId::kSpans);
    Result<ResultSet> ev = events.valid() ? events.get() : lookup(TableId::kSpanEvents);
    Result<ResultSet> ln = links.valid() ? links.get() : lookup(TableId::kSpanLinks);
    OTLAKE_ASSIGN_OR_RAISE(tr.spans, std::move(spans));
    OTLAKE_ASSIGN_OR_RAISE(tr.events, std::move(ev));
    OTLAKE_ASSIGN_OR_RAISE(tr.links, std::move(ln));
    return tr;
  }

  Result<std::vector<DayInfo>> Days(Storage storage) {
    OTLAKE_RETURN_NOT_OK(CheckStorage(storage));
    std::vector<DayInfo> out;
    OTLAKE_ASSIGN_OR_RAISE(auto days, ListDays(storage, nullptr));
    auto idx = IndexStatuses();
    std::set<std::string> local;
    if (auto l = ListLocalDays(); l.ok()) {
      for (const auto& [d, name] : *l) local.insert(name);
    }
    std::vector<std::unique_ptr<lake::DayLock>> holds;
    for (const DaySource& planned : days) {
      OTLAKE_ASSIGN_OR_RAISE(std::optional<DaySource> held, HoldDay(planned, storage, days, &holds));
      if (!held) continue;
      const DaySource& day = *held;
      DayInfo di;
      di.day = day.name;
      di.storage = day.remote ? "s3" : "local";
      di.local = local.count(day.name) > 0;
      if (auto it = idx.find(day.name); it != idx.end()) di.phase = ship::PhaseName(it->second.done);
      for (TableId t : table::kAllTables) {
        auto snap_or = GetSnapshot(day, t);
        TableInfo ti;
        ti.table = t;
        if (!snap_or.ok()) {  // listed with its error, so a UI can show the broken table
          ti.error = snap_or.status().ToString();
          di.tables.push_back(ti);
          continue;
        }
        auto snap = std::move(*snap_or);
        if (!snap) continue;
        ti.version = snap->version;
        if (lake::IsSchemaVersion1(snap->state.metadata.schema_string)) {
          ti.error = SchemaVersion1Warning(day, t);
        }
        for (const auto& f : snap->files) {
          ti.files += 1;
          ti.bytes += f->size;
          ti.rows += std::max<int64_t>(f->rows, 0);
          if (const auto* v = std::get_if<int64_t>(&f->min[table::kEventTs])) {
            ti.min_event_ts = ti.min_event_ts ? std::min(*ti.min_event_ts, *v) : *v;
          }
          if (const auto* v = std::get_if<int64_t>(&f->max[table::kEventTs])) {
            ti.max_event_ts = ti.max_event_ts ? std::max(*ti.max_event_ts, *v) : *v;
          }
        }
        di.tables.push_back(ti);
      }
      out.push_back(std::move(di));
      holds.clear();
    }
    return out;
  }

  Result<std::vector<ServiceCount>> Services(std::optional<int64_t> from, std::optional<int64_t> to,
                                             Storage storage) {
    OTLAKE_RETURN_NOT_OK(CheckStorage(storage));
    std::vector<ServiceCount> out;
    OTLAKE_ASSIGN_OR_RAISE(auto days, ListDays(storage, nullptr));
    for (const DaySource& planned : days) {
      if ((from && planned.d < *from) || (to && planned.d > *to)) continue;
      std::vector<std::unique_ptr<lake::DayLock>> holds;
      OTLAKE_ASSIGN_OR_RAISE(std::optional<DaySource> held, HoldDay(planned, storage, days, &holds));
      if (!held) continue;
      const DaySource& day = *held;
      const std::string& name = day.name;
      std::map<std::string, ServiceCount> per;
      for (TableId t : {TableId::kSpans, TableId::kLogs}) {
        OTLAKE_ASSIGN_OR_RAISE(auto snap, GetSnapshot(day, t));
        if (!snap) continue;
        for (const auto& f : snap->files) {
          OTLAKE_ASSIGN_OR_RAISE(auto reader, OpenParquet(*f));
          OTLAKE_ASSIGN_OR_RAISE(auto col, reader->ReadTable({table::LeafIndex(t, table::kServiceName)}));
          OTLAKE_ASSIGN_OR_RAISE(auto counts, cp::ValueCounts(col->column(0)));
          auto values = std::static_pointer_cast<arrow::StringArray>(counts->field(0));
          auto n = std::static_pointer_cast<arrow::Int64Array>(counts->field(1));
          for (int64_t i = 0; i < counts->length(); ++i) {
            std::string svc = values->IsNull(i) ? "" : values->GetString(i);
            ServiceCount& sc = per[svc];
            sc.day = name;
            sc.service = svc;
            (t == TableId::kSpans ? sc.spans : sc.logs) += n->Value(i);
          }
        }
      }
      for (auto& [_, sc] : per) out.push_back(std::move(sc));
    }
    return out;
  }

 private:
  // S3 files read at once by a selective query (see Run), and the compressed bytes of row groups
  // requested together from one S3 file (ScanFile).
  static constexpr size_t kRemoteReadAhead = 6;
  static constexpr int64_t kPreBufferBytes = 32ll << 20;

  static void Add(ScanStats* to, const ScanStats& from) {
    to->files_read += from.files_read;
    to->row_groups_total += from.row_groups_total;
    to->row_groups_read += from.row_groups_read;
    to->rows_scanned += from.rows_scanned;
    to->bytes_read += from.bytes_read;
  }

  static int IndexOf(const std::vector<int>& v, int c) {
    return static_cast<int>(std::find(v.begin(), v.end(), c) - v.begin());
  }

  // Schema-1 days (attributes as *_attrs_json) are not read: their rows would come back without
  // attributes. docs/attributes.md says what to do with them.
  static std::string SchemaVersion1Warning(const DaySource& day, TableId t) {
    return day.name + " " + std::string(table::TableName(t)) +
           " skipped: written with otlake schema_version 1 (attributes in *_attrs_json columns), "
           "which this otlake (schema_version " + std::to_string(table::kCurrentSchemaVersion) +
           ", attribute maps) does not read; see docs/attributes.md";
  }

  // The Parquet leaf indices of columns `cols` of table `t`, in order (a map has two).
  static std::vector<int> Leaves(TableId t, const std::vector<int>& cols) {
    const auto defs = table::Columns(t);
    std::vector<int> out;
    for (int c : cols) {
      const int leaf = table::LeafIndex(t, c);
      out.push_back(leaf);
      if (defs[c].type == ColType::kMap) out.push_back(leaf + 1);
    }
    return out;
  }

  // Compressed bytes of column `c` (all its leaves) in row group `rg`.
  static int64_t ChunkBytes(TableId t, const parquet::RowGroupMetaData& rg, int c) {
    int64_t n = 0;
    for (int leaf : Leaves(t, {c})) n += rg.ColumnChunk(leaf)->total_compressed_size();
    return n;
  }

  bool FileMayMatch(const Query& q, const FileMeta& f) {
    const int ts = table::kEventTs;
    if (q.time_ms_from && !MayMatch(Op::kGe, std::to_string(*q.time_ms_from), f.min[ts], f.max[ts])) return false;
    if (q.time_ms_to && !MayMatch(Op::kLe, std::to_string(*q.time_ms_to), f.min[ts], f.max[ts])) return false;
    for (const ColumnFilter& cf : q.filters) {
      if (!MayMatch(cf.op, cf.value, f.min[cf.column], f.max[cf.column])) return false;
    }
    return true;
  }

  // Data files never change once committed, so their footers (and, below, bloom filters) are
  // parsed once and kept: a trace lookup then costs one row group read per matching file, not
  // a footer walk over every file of every day. Both caches are bounded and simply start over
  // when full.
  Result<std::unique_ptr<parquet::arrow::FileReader>> OpenParquet(const FileMeta& f) {
    const std::string& path = f.path;
    std::shared_ptr<arrow::io::RandomAccessFile> file;
    if (f.remote) {
      arrow::fs::FileInfo info(path, arrow::fs::FileType::File);
      info.set_size(f.size);  // known from the log: no HEAD request
      OTLAKE_ASSIGN_OR_RAISE(file, options_.s3->OpenInputFile(info));
    } else {
      OTLAKE_ASSIGN_OR_RAISE(file, fs_->OpenInputFile(path));
    }
    std::shared_ptr<parquet::FileMetaData> md;
    {
      std::lock_guard lk(meta_mu_);
      auto it = footers_.find(path);
      if (it != footers_.end()) md = it->second;
    }
    std::unique_ptr<parquet::ParquetFileReader> pq;
    try {
      pq = parquet::ParquetFileReader::Open(file, parquet::default_reader_properties(), md);
    } catch (const std::exception& e) {
      return Status::IOError("cannot read Parquet file '", path, "': ", e.what());
    }
    if (!md) {
      std::lock_guard lk(meta_mu_);
      if (footers_.size() >= kMaxFooters) footers_.clear();
      footers_.emplace(path, pq->metadata());
    }
    // Local files pre-buffer per row group read (Arrow's coalesced ranges); on S3 ScanFile
    // pre-buffers every admitted row group at once, which a per-read pre-buffer would discard.
    parquet::ArrowReaderProperties props = parquet::default_arrow_reader_properties();
    props.set_pre_buffer(!f.remote);
    return parquet::arrow::FileReader::Make(arrow::default_memory_pool(), std::move(pq), props);
  }

  // The bloom filter of column `col` in row group `rg` (nullptr: none written).
  std::shared_ptr<parquet::BloomFilter> Bloom(const FileMeta& f, parquet::ParquetFileReader* pq,
                                              int rg, int col) {
    const std::string& path = f.path;
    const std::string key = path + "#" + std::to_string(rg) + "#" + std::to_string(col);
    {
      std::lock_guard lk(meta_mu_);
      auto it = blooms_.find(key);
      if (it != blooms_.end()) return it->second;
    }
    if (f.remote && PrefetchBlooms(f, *pq->metadata(), col)) {
      std::lock_guard lk(meta_mu_);
      auto it = blooms_.find(key);
      if (it != blooms_.end()) return it->second;
    }
    std::shared_ptr<parquet::BloomFilter> bf;
    try {
      bf = pq->GetBloomFilterReader().RowGroup(rg)->GetColumnBloomFilter(col);
    } catch (const std::exception&) {
      return nullptr;  // unreadable: proves nothing, the row group is read
    }
    std::lock_guard lk(meta_mu_);
    const int64_t size = bf ? bf->GetBitsetSize() : 0;
    if (bloom_bytes_ + size > kMaxBloomBytes) {
      blooms_.clear();
      bloom_bytes_ = 0;
    }
    blooms_.emplace(key, bf);
    bloom_bytes_ += size;
    return bf;
  }

  // On S3 every read is a request: the bloom filters of one column of every row group of a
  // file (written next to each other, before the footer) come in one ranged read instead of
  // one or two requests per row group. False if the file's metadata does not allow it.
  bool PrefetchBlooms(const FileMeta& f, const parquet::FileMetaData& md, int col) {
    int64_t lo = INT64_MAX, hi = 0;
    for (int rg = 0; rg < md.num_row_groups(); ++rg) {
      auto cc = md.RowGroup(rg)->ColumnChunk(col);
      const auto off = cc->bloom_filter_offset();
      const auto len = cc->bloom_filter_length();
      if (!off || !len || *len <= 0) return false;
      lo = std::min(lo, *off);
      hi = std::max(hi, *off + *len);
    }
    if (md.num_row_groups() == 0 || hi - lo > (64ll << 20)) return false;
    arrow::fs::FileInfo info(f.path, arrow::fs::FileType::File);
    info.set_size(f.size);
    auto file = options_.s3->OpenInputFile(info);
    if (!file.ok()) return false;
    auto buf = (*file)->ReadAt(lo, hi - lo);
    if (!buf.ok() || (*buf)->size() != hi - lo) return false;
    std::vector<std::pair<std::string, std::shared_ptr<parquet::BloomFilter>>> parsed;
    int64_t bytes = 0;
    for (int rg = 0; rg < md.num_row_groups(); ++rg) {
      auto cc = md.RowGroup(rg)->ColumnChunk(col);
      const int64_t off = *cc->bloom_filter_offset(), len = *cc->bloom_filter_length();
      arrow::io::BufferReader reader(arrow::SliceBuffer(*buf, off - lo, len));
      try {
        auto bf = std::make_shared<parquet::BlockSplitBloomFilter>(parquet::BlockSplitBloomFilter::Deserialize(
            parquet::default_reader_properties(), &reader, len));
        bytes += bf->GetBitsetSize();
        parsed.emplace_back(f.path + "#" + std::to_string(rg) + "#" + std::to_string(col), std::move(bf));
      } catch (const std::exception&) {
        return false;
      }
    }
    std::lock_guard lk(meta_mu_);
    if (bloom_bytes_ + bytes > kMaxBloomBytes) {
      blooms_.clear();
      bloom_bytes_ = 0;
    }
    for (auto& [k, bf] : parsed) blooms_[k] = std::move(bf);
    bloom_bytes_ += bytes;
    return true;
  }

  // Reads the rows of one file that pass the query (and beat `threshold`), one table per row
  // group with a match, columns in `read_cols` order.
  Result<std::vector<std::shared_ptr<arrow::Table>>> ScanFile(
      const Query& q, const FileMeta& f, const std::vector<int>& read_cols,
      const std::optional<int64_t>& threshold, std::chrono::steady_clock::time_point deadline,
      ScanStats* stats) {
    std::vector<std::shared_ptr<arrow::Table>> out;
    const auto cols = table::Columns(q.table);
    const int ts_col = table::kEventTs;
    OTLAKE_ASSIGN_OR_RAISE(auto reader, OpenParquet(f));
    ++stats->files_read;
    parquet::ParquetFileReader* pq = reader->parquet_reader();
    std::shared_ptr<parquet::FileMetaData> md = pq->metadata();
    if (md->num_columns() != table::NumLeaves(q.table)) {
      return Status::IOError("data file '", f.path, "' has ", md->num_columns(),
                             " leaf columns; the ", table::TableName(q.table), " table has ",
                             table::NumLeaves(q.table));
    }
    // Columns the filters need, read first.
    std::vector<int> filter_cols = {ts_col};
    auto need = [&](int c) {
      if (std::find(filter_cols.begin(), filter_cols.end(), c) == filter_cols.end()) filter_cols.push_back(c);
    };
    for (const auto& cf : q.filters) need(cf.column);
    for (const auto& af : q.attr_filters) {
      need(af.column);
      need(af.column + 1);
    }
    std::vector<int> rest;
    for (int c : read_cols) {
      if (std::find(filter_cols.begin(), filter_cols.end(), c) == filter_cols.end()) rest.push_back(c);
    }
    // On S3 a second pass over a row group is a second round trip: read every column at once
    // (one coalesced range) once statistics and bloom filters admit the row group.
    if (f.remote) {
      for (int c : rest) filter_cols.push_back(c);
      rest.clear();
    }

    stats->row_groups_total += md->num_row_groups();
    std::vector<int> admitted;  // row groups whose statistics and bloom filters admit the query
    for (int rg = 0; rg < md->num_row_groups(); ++rg) {
      if (!RowGroupMayMatch(q, *md->RowGroup(rg), threshold, pq, f, rg)) continue;
      if (!f.remote && !ValuesMayMatch(q, pq, rg, stats)) continue;
      admitted.push_back(rg);
    }
    // On S3 the admitted row groups' column chunks are requested together (coalesced ranges
    // read concurrently on Arrow's I/O pool) instead of one round trip after another, in windows
    // of at most kPreBufferBytes so an unselective scan does not hold a whole file in memory.
    size_t buffered_until = 0;
    auto prebuffer_from = [&](size_t i) -> Status {
      std::vector<int> window;
      int64_t bytes = 0;
      for (size_t j = i; j < admitted.size(); ++j) {
        int64_t rg_bytes = 0;
        for (int c : filter_cols) rg_bytes += ChunkBytes(q.table, *md->RowGroup(admitted[j]), c);
        if (!window.empty() && bytes + rg_bytes > kPreBufferBytes) break;
        window.push_back(admitted[j]);
        bytes += rg_bytes;
      }
      buffered_until = i + window.size();
      try {
        pq->PreBuffer(window, Leaves(q.table, filter_cols), arrow::io::IOContext(),
                      arrow::io::CacheOptions::Defaults());
      } catch (const std::exception& e) {
        return Status::IOError("cannot read s3://", f.path, ": ", e.what());
      }
      return Status::OK();
    };
    for (size_t ai = 0; ai < admitted.size(); ++ai) {
      const int rg = admitted[ai];
      if (f.remote && ai == buffered_until) OTLAKE_RETURN_NOT_OK(prebuffer_from(ai));
      if (q.cancelled && q.cancelled()) {
        return Status::Cancelled("query cancelled: the client closed the connection");
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return Status::Cancelled("query exceeded its time limit of ", options_.limits.timeout_ms,
                                 " ms; narrow the time range or add filters");
      }
      auto rgmd = md->RowGroup(rg);
      ++stats->row_groups_read;
      for (int c : filter_cols) stats->bytes_read += ChunkBytes(q.table, *rgmd, c);
      OTLAKE_ASSIGN_OR_RAISE(auto ft, reader->ReadRowGroup(rg, Leaves(q.table, filter_cols)));
      OTLAKE_ASSIGN_OR_RAISE(ft, ft->CombineChunks());
      stats->rows_scanned += ft->num_rows();
      OTLAKE_ASSIGN_OR_RAISE(arrow::Datum mask, Mask(q, *ft, filter_cols, threshold));
      auto bm = mask.make_array();
      auto bools = std::static_pointer_cast<arrow::BooleanArray>(bm);
      if (bools->true_count() == 0) continue;
      std::shared_ptr<arrow::Table> rest_t;
      if (!rest.empty()) {
        for (int c : rest) stats->bytes_read += ChunkBytes(q.table, *rgmd, c);
        OTLAKE_ASSIGN_OR_RAISE(rest_t, reader->ReadRowGroup(rg, Leaves(q.table, rest)));
      }
      // Assemble in read_cols order, then filter.
      std::vector<std::shared_ptr<arrow::ChunkedArray>> arrays;
      std::vector<std::shared_ptr<arrow::Field>> fields;
      for (int c : read_cols) {
        auto it = std::find(filter_cols.begin(), filter_cols.end(), c);
        if (it != filter_cols.end()) {
          const int i = static_cast<int>(it - filter_cols.begin());
          arrays.push_back(ft->column(i));
          fields.push_back(ft->schema()->field(i));
        } else {
          const int i = IndexOf(rest, c);
          arrays.push_back(rest_t->column(i));
          fields.push_back(rest_t->schema()->field(i));
        }
      }
      auto t = arrow::Table::Make(arrow::schema(fields), arrays, ft->num_rows());
      OTLAKE_ASSIGN_OR_RAISE(arrow::Datum filtered, cp::Filter(t, mask));
      out.push_back(filtered.table());
    }
    return out;
  }

  bool RowGroupMayMatch(const Query& q, const parquet::RowGroupMetaData& rg,
                        const std::optional<int64_t>& threshold, parquet::ParquetFileReader* pq,
                        const FileMeta& file, int rg_index) {
    auto bounds = [&](int c, Bound* lo, Bound* hi) {
      RowGroupBounds(*rg.ColumnChunk(table::LeafIndex(q.table, c)), lo, hi);
    };
    Bound lo, hi;
    bounds(table::kEventTs, &lo, &hi);
    if (q.time_ms_from && !MayMatch(Op::kGe, std::to_string(*q.time_ms_from), lo, hi)) return false;
    if (q.time_ms_to && !MayMatch(Op::kLe, std::to_string(*q.time_ms_to), lo, hi)) return false;
    if (threshold && !MayMatch(q.ascending ? Op::kLe : Op::kGe, std::to_string(*threshold), lo, hi)) return false;
    for (const ColumnFilter& cf : q.filters) {
      Bound a, b;
      bounds(cf.column, &a, &b);
      if (!MayMatch(cf.op, cf.value, a, b)) return false;
      if (cf.op == Op::kEq && table::Columns(q.table)[cf.column].type == ColType::kString) {
        // Bloom filters exist on the ID columns; absent ones prove nothing.
        std::shared_ptr<parquet::BloomFilter> bf =
            Bloom(file, pq, rg_index, table::LeafIndex(q.table, cf.column));
        if (bf) {
          parquet::ByteArray ba(static_cast<uint32_t>(cf.value.size()),
                                reinterpret_cast<const uint8_t*>(cf.value.data()));
          if (!bf->FindHash(bf->Hash(&ba))) return false;
        }
      }
    }
    for (const AttrFilter& af : q.attr_filters) {
      if (af.op == Op::kNe) continue;  // true for rows without the key: nothing to skip
      // Every other comparison needs the key: the key leaf's min/max must admit it.
      const int key_leaf = table::LeafIndex(q.table, af.column);
      Bound klo, khi;
      RowGroupBounds(*rg.ColumnChunk(key_leaf), &klo, &khi);
      if (!MayMatch(Op::kEq, af.key, klo, khi)) return false;
      if (af.op != Op::kEq) continue;
      // Equality: some value must be one of the filter's spellings (value bloom filter).
      std::shared_ptr<parquet::BloomFilter> bf = Bloom(file, pq, rg_index, key_leaf + 1);
      if (!bf) continue;
      bool any = false;
      for (const std::string& text : AttrEqualityTexts(af)) {
        parquet::ByteArray ba(static_cast<uint32_t>(text.size()),
                              reinterpret_cast<const uint8_t*>(text.data()));
        if (bf->FindHash(bf->Hash(&ba))) {
          any = true;
          break;
        }
      }
      if (!any) return false;
    }
    return true;
  }

  // The boolean mask of rows of `t` (columns = `cols`) passing every filter.
  Result<arrow::Datum> Mask(const Query& q, const arrow::Table& t, const std::vector<int>& cols,
                            const std::optional<int64_t>& threshold) {
    const auto defs = table::Columns(q.table);
    std::vector<arrow::Datum> parts;
    auto col = [&](int c) { return arrow::Datum(t.column(IndexOf(cols, c))->chunk(0)); };
    const int ts = table::kEventTs;
    if (q.time_ms_from) {
      OTLAKE_ASSIGN_OR_RAISE(auto m, cp::CallFunction("greater_equal", {col(ts), arrow::MakeScalar(*q.time_ms_from)}));
      parts.push_back(m);
    }
    if (q.time_ms_to) {
      OTLAKE_ASSIGN_OR_RAISE(auto m, cp::CallFunction("less_equal", {col(ts), arrow::MakeScalar(*q.time_ms_to)}));
      parts.push_back(m);
    }
    if (threshold) {
      OTLAKE_ASSIGN_OR_RAISE(auto m, cp::CallFunction(q.ascending ? "less_equal" : "greater_equal",
                                                      {col(ts), arrow::MakeScalar(*threshold)}));
      parts.push_back(m);
    }
    for (const ColumnFilter& cf : q.filters) {
      if (cf.op == Op::kLike || cf.op == Op::kContains) {
        cp::MatchSubstringOptions opts(cf.value);
        OTLAKE_ASSIGN_OR_RAISE(auto m, cp::CallFunction(cf.op == Op::kLike ? "match_like" : "match_substring",
                                                        {col(cf.column)}, &opts));
        parts.push_back(m);
        continue;
      }
      OTLAKE_ASSIGN_OR_RAISE(auto scalar, ValueScalar(defs[cf.column].type, cf.value));
      OTLAKE_ASSIGN_OR_RAISE(auto m, cp::CallFunction(CompareFunction(cf.op), {col(cf.column), scalar}));
      parts.push_back(m);
    }
    for (const AttrFilter& af : q.attr_filters) {
      OTLAKE_ASSIGN_OR_RAISE(auto m, AttrMask(*col(af.column).make_array(), *col(af.column + 1).make_array(), af));
      parts.push_back(arrow::Datum(m));
    }
    if (parts.empty()) {
      arrow::BooleanBuilder b;
      OTLAKE_RETURN_NOT_OK(b.AppendValues(t.num_rows(), true));
      OTLAKE_ASSIGN_OR_RAISE(auto m, b.Finish());
      return arrow::Datum(m);
    }
    arrow::Datum acc = parts[0];
    for (size_t i = 1; i < parts.size(); ++i) {
      OTLAKE_ASSIGN_OR_RAISE(acc, cp::CallFunction("and_kleene", {acc, parts[i]}));
    }
    // Nulls (e.g. a null column compared) do not pass.
    OTLAKE_ASSIGN_OR_RAISE(acc, cp::CallFunction("coalesce", {acc, arrow::MakeScalar(false)}));
    return acc;
  }

  // False when an `attr.k=v` filter cannot match in row group `rg`: no value of the map's value
  // leaf is one of v's spellings. A scan of the raw leaf (plain byte arrays, no map assembly) is
  // ~10x cheaper than reading the map as Arrow arrays, which then happens only for row groups
  // with a candidate. Local files only (on S3 it would be one more round trip per row group).
  bool ValuesMayMatch(const Query& q, parquet::ParquetFileReader* pq, int rg, ScanStats* stats) {
    for (const AttrFilter& af : q.attr_filters) {
      if (af.op != Op::kEq) continue;
      const int leaf = table::LeafIndex(q.table, af.column) + 1;
      const std::vector<std::string> texts = AttrEqualityTexts(af);
      size_t max_len = 0;
      for (const auto& t : texts) max_len = std::max(max_len, t.size());
      bool found = false;
      try {
        std::shared_ptr<parquet::RowGroupReader> group = pq->RowGroup(rg);
        stats->bytes_read += group->metadata()->ColumnChunk(leaf)->total_compressed_size();
        std::shared_ptr<parquet::ColumnReader> col = group->Column(leaf);
        if (col->type() != parquet::Type::BYTE_ARRAY) return true;
        auto* reader = static_cast<parquet::ByteArrayReader*>(col.get());
        constexpr int64_t kBatch = 8192;
        std::vector<parquet::ByteArray> values(kBatch);
        std::vector<int16_t> def(kBatch), rep(kBatch);
        while (!found && reader->HasNext()) {
          int64_t n = 0;
          reader->ReadBatch(kBatch, def.data(), rep.data(), values.data(), &n);
          for (int64_t i = 0; i < n && !found; ++i) {
            const parquet::ByteArray& v = values[i];
            if (v.len > max_len) continue;
            const std::string_view sv(reinterpret_cast<const char*>(v.ptr), v.len);
            for (const auto& t : texts) found = found || sv == t;
          }
        }
      } catch (const std::exception&) {
        return true;  // unreadable here: the normal read reports it
      }
      if (!found) return false;
    }
    return true;
  }

  // Rows of a map column (with its type letters) whose attribute `af.key` satisfies `af`.
  static Result<std::shared_ptr<arrow::Array>> AttrMask(const arrow::Array& map_arr,
                                                        const arrow::Array& types_arr,
                                                        const AttrFilter& af) {
    if (map_arr.type_id() != arrow::Type::MAP || types_arr.type_id() != arrow::Type::STRING) {
      return Status::IOError("attribute column has type ", map_arr.type()->ToString());
    }
    const auto& m = static_cast<const arrow::MapArray&>(map_arr);
    const auto& types = static_cast<const arrow::StringArray&>(types_arr);
    const auto& keys = static_cast<const arrow::StringArray&>(*m.keys());
    const auto& items = static_cast<const arrow::StringArray&>(*m.items());
    arrow::BooleanBuilder b;
    OTLAKE_RETURN_NOT_OK(b.Reserve(m.length()));
    const std::string_view key = af.key;
    for (int64_t i = 0; i < m.length(); ++i) {
      bool ok = af.op == Op::kNe;  // the key is absent
      if (!m.IsNull(i)) {
        const int64_t begin = m.value_offset(i), end = m.value_offset(i + 1);
        for (int64_t k = begin; k < end; ++k) {
          if (keys.GetView(k) != key) continue;
          const std::string_view letters = types.IsNull(i) ? std::string_view() : types.GetView(i);
          const char t = static_cast<size_t>(k - begin) < letters.size() ? letters[k - begin] : '?';
          ok = items.IsNull(k) ? af.op == Op::kNe : AttrValueMatches(items.GetView(k), t, af);
          break;
        }
      }
      b.UnsafeAppend(ok);
    }
    return b.Finish();
  }

  Result<std::shared_ptr<arrow::Table>> SortAndCut(const std::shared_ptr<arrow::Table>& t,
                                                   const std::vector<int>& read_cols, int ts_col,
                                                   const Query& q) {
    const std::string ts_name = t->schema()->field(IndexOf(read_cols, ts_col))->name();
    cp::SortOptions so({cp::SortKey(ts_name, q.ascending ? cp::SortOrder::Ascending
                                                         : cp::SortOrder::Descending)});
    OTLAKE_ASSIGN_OR_RAISE(auto idx, cp::SortIndices(arrow::Datum(t), so));
    if (idx->length() > q.max_rows) idx = idx->Slice(0, q.max_rows);
    OTLAKE_ASSIGN_OR_RAISE(arrow::Datum taken, cp::Take(t, idx));
    return taken.table()->CombineChunks();
  }

  // Column `j` of the answer from a map column and its type letters: typed JSON objects.
  static Status MapCells(const arrow::ChunkedArray& maps, const arrow::ChunkedArray& letters, size_t j,
                         ResultSet* rs) {
    OTLAKE_ASSIGN_OR_RAISE(auto map_arr, arrow::Concatenate(maps.chunks()));
    OTLAKE_ASSIGN_OR_RAISE(auto types_arr, arrow::Concatenate(letters.chunks()));
    if (map_arr->type_id() != arrow::Type::MAP || types_arr->type_id() != arrow::Type::STRING) {
      return Status::IOError("column '", rs->columns[j], "' has unexpected type ", map_arr->type()->ToString());
    }
    const auto& m = static_cast<const arrow::MapArray&>(*map_arr);
    const auto& types = static_cast<const arrow::StringArray&>(*types_arr);
    const auto& keys = static_cast<const arrow::StringArray&>(*m.keys());
    const auto& items = static_cast<const arrow::StringArray&>(*m.items());
    std::vector<otlp::MapEntry> entries;
    for (int64_t i = 0; i < m.length(); ++i) {
      if (m.IsNull(i)) continue;
      entries.clear();
      for (int64_t k = m.value_offset(i); k < m.value_offset(i + 1); ++k) {
        entries.push_back({keys.GetView(k), items.IsNull(k) ? std::string_view() : items.GetView(k),
                           items.IsNull(k)});
      }
      std::string json;
      Status st = otlp::AppendAttrMapTypedJson(entries, types.IsNull(i) ? std::string_view() : types.GetView(i), &json);
      if (!st.ok()) {
        return Status::IOError("column '", rs->columns[j], "': a stored attribute map is malformed: ",
                               st.message());
      }
      rs->rows[i][j] = std::move(json);
    }
    return Status::OK();
  }

  Status ToCells(const arrow::Table& t, const std::vector<int>& read_cols,
                 const std::vector<int>& out_cols, ResultSet* rs) {
    const int64_t n = t.num_rows();
    rs->rows.assign(n, std::vector<Cell>(out_cols.size()));
    const auto defs = table::Columns(rs->table);
    for (size_t j = 0; j < out_cols.size(); ++j) {
      auto chunked = t.column(IndexOf(read_cols, out_cols[j]));
      if (defs[out_cols[j]].type == ColType::kMap) {
        OTLAKE_RETURN_NOT_OK(MapCells(*chunked, *t.column(IndexOf(read_cols, out_cols[j] + 1)),
                                      j, rs));
        continue;
      }
      int64_t row = 0;
      for (const auto& arr : chunked->chunks()) {
        for (int64_t i = 0; i < arr->length(); ++i, ++row) {
          Cell& cell = rs->rows[row][j];
          if (arr->IsNull(i)) continue;
          switch (arr->type_id()) {
            case arrow::Type::STRING:
              cell = std::string(static_cast<const arrow::StringArray&>(*arr).GetView(i));
              break;
            case arrow::Type::LARGE_STRING:
              cell = std::string(static_cast<const arrow::LargeStringArray&>(*arr).GetView(i));
              break;
            case arrow::Type::INT64:
              cell = static_cast<const arrow::Int64Array&>(*arr).Value(i);
              break;
            case arrow::Type::DOUBLE:
              cell = static_cast<const arrow::DoubleArray&>(*arr).Value(i);
              break;
            case arrow::Type::BOOL:
              cell = static_cast<const arrow::BooleanArray&>(*arr).Value(i);
              break;
            default:
              return Status::IOError("column '", rs->columns[j], "' has unexpected type ",
                                     arr->type()->ToString());
          }
        }
      }
    }
    return Status::OK();
  }

  EngineOptions options_;
  std::string days_dir_;
  std::shared_ptr<arrow::fs::FileSystem> fs_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Snapshot>> cache_;  // by log dir (s3:// for S3)
  std::map<std::string, ship::DayStatus> index_;                   // guarded by mu_
  int64_t index_stamp_ = -1, index_size_ = -1;                     // guarded by mu_
  std::vector<std::pair<int64_t, std::string>> s3_days_;           // guarded by mu_
  int64_t s3_days_listed_ns_ = 0;                                  // guarded by mu_
  static constexpr size_t kMaxFooters = 4096;
  static constexpr int64_t kMaxBloomBytes = 256ll << 20;
  std::mutex meta_mu_;
  std::map<std::string, std::shared_ptr<parquet::FileMetaData>> footers_;  // by file path
  std::map<std::string, std::shared_ptr<parquet::BloomFilter>> blooms_;   // by path#rg#col
  int64_t bloom_bytes_ = 0;
};

QueryEngine::QueryEngine(EngineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
QueryEngine::~QueryEngine() = default;
Result<ResultSet> QueryEngine::Run(const Query& q) { return impl_->Run(q); }
Result<Trace> QueryEngine::GetTrace(const std::string& trace_id, Storage storage,
                                    std::function<bool()> cancelled) {
  return impl_->GetTrace(trace_id, storage, cancelled);
}
Result<std::vector<DayInfo>> QueryEngine::Days(Storage storage) { return impl_->Days(storage); }
Result<std::vector<ServiceCount>> QueryEngine::Services(std::optional<int64_t> from,
                                                        std::optional<int64_t> to, Storage storage) {
  return impl_->Services(from, to, storage);
}
const QueryLimits& QueryEngine::limits() const { return impl_->limits(); }

}  // namespace otlake::query
