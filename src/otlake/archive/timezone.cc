#include "otlake/archive/timezone.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <vector>

namespace otlake::archive {

namespace {

constexpr int64_t kDay = 86400;

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// One date of a POSIX TZ rule: "Jn" (1-365, February 29 never counted), "n" (0-365) or
// "Mm.w.d" (day d of week w of month m, week 5 meaning the last).
struct RuleDate {
  enum Kind { kJulian1, kJulian0, kMonthWeekDay } kind = kMonthWeekDay;
  int month = 0, week = 0, weekday = 0, day = 0;
  int32_t time_s = 2 * 3600;  // local wall time of the change

  // Days since the epoch of this date in `year`.
  int64_t DayIn(int64_t year) const {
    const int64_t jan1 = DaysFromCivil(year, 1, 1);
    switch (kind) {
      case kJulian1:
        return jan1 + day - 1 + (IsLeap(year) && day >= 60 ? 1 : 0);
      case kJulian0:
        return jan1 + day;
      case kMonthWeekDay: {
        const int64_t first = DaysFromCivil(year, month, 1);
        const int first_wd = static_cast<int>(((first % 7) + 7 + 4) % 7);  // 1970-01-01: Thursday
        int64_t d = first + (weekday - first_wd + 7) % 7 + (week - 1) * 7;
        while (d >= first + DaysInMonth(year, month)) d -= 7;
        return d;
      }
    }
    return jan1;
  }
};

// The POSIX TZ string at the end of a TZif v2+ file, used after the last transition.
struct PosixRule {
  std::string std_abbr, dst_abbr;
  int32_t std_offset = 0, dst_offset = 0;  // seconds east of UTC
  bool has_dst = false;
  RuleDate start, end;
};

class RuleParser {
 public:
  explicit RuleParser(std::string_view s) : s_(s) {}

  bool Parse(PosixRule* r) {
    if (!Name(&r->std_abbr) || !Offset(&r->std_offset)) return false;
    r->std_offset = -r->std_offset;  // POSIX offsets count west of Greenwich
    if (AtEnd()) return true;
    r->has_dst = true;
    if (!Name(&r->dst_abbr)) return false;
    r->dst_offset = r->std_offset + 3600;
    if (!AtEnd() && Peek() != ',') {
      if (!Offset(&r->dst_offset)) return false;
      r->dst_offset = -r->dst_offset;
    }
    if (AtEnd()) {  // no rule given: the POSIX default (US rules since 2007)
      r->start = RuleDate{RuleDate::kMonthWeekDay, 3, 2, 0, 0, 7200};
      r->end = RuleDate{RuleDate::kMonthWeekDay, 11, 1, 0, 0, 7200};
      return true;
    }
    return Eat(',') && Date(&r->start) && Eat(',') && Date(&r->end) && AtEnd();
  }

 private:
  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[i_]; }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++i_;
    return true;
  }
  bool Number(int* out, int max) {
    if (AtEnd() || Peek() < '0' || Peek() > '9') return false;
    int v = 0;
    while (!AtEnd() && Peek() >= '0' && Peek() <= '9') {
      v = v * 10 + (s_[i_++] - '0');
      if (v > max) return false;
    }
    *out = v;
    return true;
  }
  bool Name(std::string* out) {
    const size_t begin = i_;
    if (Eat('<')) {
      while (!AtEnd() && Peek() != '>') ++i_;
      if (!Eat('>')) return false;
      *out = std::string(s_.substr(begin + 1, i_ - begin - 2));
      return true;
    }
    while (!AtEnd() && ((Peek() >= 'A' && Peek() <= 'Z') || (Peek() >= 'a' && Peek() <= 'z'))) ++i_;
    *out = std::string(s_.substr(begin, i_ - begin));
    return i_ - begin >= 3;
  }
  // [+-]hh[:mm[:ss]], hours up to 167 (TZif v3 times).
  bool Offset(int32_t* out) {
    int sign = 1;
    if (Eat('-')) {
      sign = -1;
    } else {
      Eat('+');
    }
    int h = 0, m = 0, sec = 0;
    if (!Number(&h, 167)) return false;
    if (Eat(':')) {
      if (!Number(&m, 59)) return false;
      if (Eat(':') && !Number(&sec, 59)) return false;
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return true;
  }
  bool Date(RuleDate* d) {
    if (Eat('M')) {
      d->kind = RuleDate::kMonthWeekDay;
      if (!Number(&d->month, 12) || d->month < 1 || !Eat('.') || !Number(&d->week, 5) ||
          d->week < 1 || !Eat('.') || !Number(&d->weekday, 6)) {
        return false;
      }
    } else if (Eat('J')) {
      d->kind = RuleDate::kJulian1;
      if (!Number(&d->day, 365) || d->day < 1) return false;
    } else {
      d->kind = RuleDate::kJulian0;
      if (!Number(&d->day, 365)) return false;
    }
    d->time_s = 7200;
    if (Eat('/')) return Offset(&d->time_s);
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// Big-endian reader over the TZif bytes; every read is bounds-checked.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool Skip(size_t n) {
    if (n > b_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (n > b_.size() - pos_) return false;
    *out = b_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool U8(uint8_t* v) {
    if (pos_ >= b_.size()) return false;
    *v = static_cast<uint8_t>(b_[pos_++]);
    return true;
  }
  bool I32(int32_t* v) {
    uint64_t u;
    if (!Be(4, &u)) return false;
    *v = static_cast<int32_t>(static_cast<uint32_t>(u));
    return true;
  }
  bool I64(int64_t* v) {
    uint64_t u;
    if (!Be(8, &u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  std::string_view Rest() const { return b_.substr(pos_); }

 private:
  bool Be(size_t n, uint64_t* v) {
    if (n > b_.size() - pos_) return false;
    uint64_t u = 0;
    for (size_t i = 0; i < n; ++i) u = (u << 8) | static_cast<uint8_t>(b_[pos_ + i]);
    pos_ += n;
    *v = u;
    return true;
  }
  std::string_view b_;
  size_t pos_ = 0;
};

struct Header {
  char version = 0;
  uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
};

bool ReadHeader(Reader& r, Header* h) {
  std::string_view magic;
  if (!r.Bytes(4, &magic) || magic != "TZif") return false;
  uint8_t v;
  if (!r.U8(&v) || !r.Skip(15)) return false;
  h->version = static_cast<char>(v);
  std::array<uint32_t*, 6> counts = {&h->isutcnt, &h->isstdcnt, &h->leapcnt,
                                     &h->timecnt, &h->typecnt,  &h->charcnt};
  for (uint32_t* c : counts) {
    int32_t x;
    if (!r.I32(&x) || x < 0 || x > (1 << 20)) return false;
    *c = static_cast<uint32_t>(x);
  }
  return true;
}

size_t DataSize(const Header& h, size_t time_size) {
  return h.timecnt * time_size + h.timecnt + h.typecnt * 6 + h.charcnt +
         h.leapcnt * (time_size + 4) + h.isstdcnt + h.isutcnt;
}

}  // namespace

struct TimeZone::Data {
  struct Type {
    int32_t offset = 0;
    std::string abbr;
  };
  std::string name = "UTC";
  std::vector<int64_t> transitions;
  std::vector<uint8_t> transition_types;
  std::vector<Type> types = {Type{0, "UTC"}};
  bool has_rule = false;
  PosixRule rule;

  ZoneOffset RuleLookup(int64_t t) const {
    if (!rule.has_dst) return {rule.std_offset, rule.std_abbr};
    int64_t year;
    int month, day;
    CivilFromDays(FloorDiv(t + rule.std_offset, kDay), &year, &month, &day);
    const int64_t start = rule.start.DayIn(year) * kDay + rule.start.time_s - rule.std_offset;
    const int64_t end = rule.end.DayIn(year) * kDay + rule.end.time_s - rule.dst_offset;
    const bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? ZoneOffset{rule.dst_offset, rule.dst_abbr}
               : ZoneOffset{rule.std_offset, rule.std_abbr};
  }

  ZoneOffset Lookup(int64_t t) const {
    if (transitions.empty() || t >= transitions.back()) {
      if (has_rule) return RuleLookup(t);
      if (transitions.empty()) return {types[0].offset, types[0].abbr};
    }
    if (t < transitions.front()) return {types[0].offset, types[0].abbr};
    const size_t i = std::upper_bound(transitions.begin(), transitions.end(), t) -
                     transitions.begin() - 1;
    const Type& ty = types[transition_types[i]];
    return {ty.offset, ty.abbr};
  }
};

TimeZone::TimeZone() {
  static const auto kUtc = std::make_shared<const Data>();
  data_ = kUtc;
}

const std::string& TimeZone::name() const { return data_->name; }

ZoneOffset TimeZone::Lookup(int64_t unix_s) const { return data_->Lookup(unix_s); }

int64_t TimeZone::LocalToUtc(int64_t local_s) const {
  // Candidate offsets: those in force two days either side (a zone changes offset at most once
  // in that span in practice) and at the wall time read as UTC.
  const std::array<int32_t, 3> candidates = {Lookup(local_s - 2 * kDay).utc_offset_s,
                                             Lookup(local_s).utc_offset_s,
                                             Lookup(local_s + 2 * kDay).utc_offset_s};
  bool found = false;
  int64_t best = 0;
  for (int32_t o : candidates) {
    const int64_t u = local_s - o;
    if (Lookup(u).utc_offset_s == o && (!found || u < best)) {
      best = u;
      found = true;
    }
  }
  if (found) return best;
  return local_s - candidates[0];  // a skipped time: read with the offset before the change
}

Result<TimeZone> TimeZone::FromTzif(std::string_view name, std::string_view bytes) {
  auto bad = [&](const char* why) {
    return Status::Invalid("time zone '", std::string(name), "': not a valid TZif file (", why,
                           ")");
  };
  Reader r(bytes);
  Header h;
  if (!ReadHeader(r, &h)) return bad("bad header");
  size_t time_size = 4;
  if (h.version >= '2') {
    if (!r.Skip(DataSize(h, 4)) || !ReadHeader(r, &h)) return bad("bad v2 header");
    time_size = 8;
  }
  if (h.typecnt == 0) return bad("no local time types");
  auto data = std::make_shared<Data>();
  data->name = std::string(name);
  data->transitions.resize(h.timecnt);
  for (auto& t : data->transitions) {
    if (time_size == 8) {
      if (!r.I64(&t)) return bad("truncated");
    } else {
      int32_t t32;
      if (!r.I32(&t32)) return bad("truncated");
      t = t32;
    }
  }
  if (!std::is_sorted(data->transitions.begin(), data->transitions.end())) {
    return bad("transitions out of order");
  }
  data->transition_types.resize(h.timecnt);
  for (auto& ty : data->transition_types) {
    if (!r.U8(&ty) || ty >= h.typecnt) return bad("bad transition type");
  }
  std::vector<std::pair<int32_t, uint8_t>> raw_types(h.typecnt);
  for (auto& [off, abbr_index] : raw_types) {
    uint8_t isdst;
    if (!r.I32(&off) || !r.U8(&isdst) || !r.U8(&abbr_index)) return bad("truncated");
    if (off < -26 * 3600 || off > 26 * 3600) return bad("offset out of range");
  }
  std::string_view chars;
  if (!r.Bytes(h.charcnt, &chars)) return bad("truncated");
  data->types.clear();
  for (const auto& [off, abbr_index] : raw_types) {
    if (abbr_index >= chars.size()) return bad("bad abbreviation index");
    std::string_view a = chars.substr(abbr_index);
    data->types.push_back(Data::Type{off, std::string(a.substr(0, a.find('\0')))});
  }
  if (!r.Skip(h.leapcnt * (time_size + 4) + h.isstdcnt + h.isutcnt)) return bad("truncated");
  if (time_size == 8) {
    std::string_view footer = r.Rest();
    if (footer.size() >= 2 && footer[0] == '\n') {
      footer = footer.substr(1, footer.find('\n', 1) - 1);
      if (!footer.empty()) {
        if (!RuleParser(footer).Parse(&data->rule)) return bad("bad POSIX TZ footer");
        data->has_rule = true;
      }
    }
  }
  return TimeZone(std::move(data));
}

Result<TimeZone> TimeZone::Load(std::string_view name, std::string_view zoneinfo_dir) {
  if (name.empty() || name == "UTC") return TimeZone();
  std::string path;
  if (name == "Local") {
    path = "/etc/localtime";
  } else {
    const bool safe =
        name.front() != '/' && name.find("..") == std::string_view::npos &&
        std::all_of(name.begin(), name.end(), [](char c) {
          return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '/' || c == '_' || c == '-' || c == '+';
        });
    if (!safe) return Status::Invalid("unknown time zone '", std::string(name), "'");
    path = std::string(zoneinfo_dir) + "/" + std::string(name);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::Invalid("unknown time zone '", std::string(name), "' (no ", path, ")");
  }
  std::string bytes;
  constexpr size_t kMaxTzif = 1 << 20;
  bytes.resize(kMaxTzif + 1);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<size_t>(in.gcount()));
  if (bytes.size() > kMaxTzif) {
    return Status::Invalid("time zone '", std::string(name), "': ", path, " is too large");
  }
  return FromTzif(name, bytes);
}

int64_t DaysFromCivil(int64_t year, int month, int day) {
  // Eras of 400 years starting on March 1st, so the leap day is the last day of a year.
  const int64_t y = year - (month <= 2 ? 1 : 0);
  const int64_t era = FloorDiv(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t mp = (month + 9) % 12;  // March = 0
  const int64_t doy = (153 * mp + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t days, int64_t* year, int* month, int* day) {
  const int64_t z = days + 719468;
  const int64_t era = FloorDiv(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *year = yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

}  // namespace otlake::archive
