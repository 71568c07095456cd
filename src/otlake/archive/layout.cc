#include "otlake/archive/layout.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <unordered_set>

namespace otlake::archive {

namespace {

constexpr int64_t kNanos = 1000000000;
constexpr int64_t kDay = 86400;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// ---- strftime ----------------------------------------------------------------------------------

// The time unit a directive depends on, finest last; used to infer the listing step.
enum class Unit : uint8_t { kNone, kYear, kMonth, kDay, kHour, kMinute, kSubMinute };

struct Directive {
  char letter;
  Unit unit;
  int width;       // default field width for numbers (0: text or composite)
  char pad;        // default padding
  const char* expands_to;  // composite directives: the format they stand for
};

// The directives of itchyny/timefmt-go's Format (glibc strftime's set without E/O modifiers).
constexpr Directive kDirectives[] = {
    {'Y', Unit::kYear, 4, '0', nullptr},     {'y', Unit::kYear, 2, '0', nullptr},
    {'C', Unit::kYear, 2, '0', nullptr},     {'G', Unit::kYear, 4, '0', nullptr},
    {'g', Unit::kYear, 2, '0', nullptr},     {'m', Unit::kMonth, 2, '0', nullptr},
    {'B', Unit::kMonth, 0, ' ', nullptr},    {'b', Unit::kMonth, 0, ' ', nullptr},
    {'h', Unit::kMonth, 0, ' ', nullptr},    {'d', Unit::kDay, 2, '0', nullptr},
    {'e', Unit::kDay, 2, ' ', nullptr},      {'j', Unit::kDay, 3, '0', nullptr},
    {'a', Unit::kDay, 0, ' ', nullptr},      {'A', Unit::kDay, 0, ' ', nullptr},
    {'u', Unit::kDay, 1, '0', nullptr},      {'w', Unit::kDay, 1, '0', nullptr},
    {'U', Unit::kDay, 2, '0', nullptr},      {'W', Unit::kDay, 2, '0', nullptr},
    {'V', Unit::kDay, 2, '0', nullptr},      {'H', Unit::kHour, 2, '0', nullptr},
    {'k', Unit::kHour, 2, ' ', nullptr},     {'I', Unit::kHour, 2, '0', nullptr},
    {'l', Unit::kHour, 2, ' ', nullptr},     {'p', Unit::kHour, 0, ' ', nullptr},
    {'M', Unit::kMinute, 2, '0', nullptr},   {'S', Unit::kSubMinute, 2, '0', nullptr},
    {'s', Unit::kSubMinute, 1, '0', nullptr}, {'f', Unit::kSubMinute, 6, '0', nullptr},
    {'D', Unit::kDay, 0, ' ', "%m/%d/%y"},   {'x', Unit::kDay, 0, ' ', "%m/%d/%y"},
    {'F', Unit::kDay, 0, ' ', "%Y-%m-%d"},   {'v', Unit::kDay, 0, ' ', "%e-%b-%Y"},
    {'R', Unit::kMinute, 0, ' ', "%H:%M"},   {'T', Unit::kSubMinute, 0, ' ', "%H:%M:%S"},
    {'X', Unit::kSubMinute, 0, ' ', "%H:%M:%S"},
    {'r', Unit::kSubMinute, 0, ' ', "%I:%M:%S %p"},
    {'c', Unit::kSubMinute, 0, ' ', "%a %b %e %H:%M:%S %Y"},
    {'z', Unit::kNone, 0, ' ', nullptr},     {'Z', Unit::kNone, 0, ' ', nullptr},
    {'n', Unit::kNone, 0, ' ', nullptr},     {'t', Unit::kNone, 0, ' ', nullptr},
    {'%', Unit::kNone, 0, ' ', nullptr},
};

const Directive* FindDirective(char c) {
  for (const Directive& d : kDirectives) {
    if (d.letter == c) return &d;
  }
  return nullptr;
}

// One parsed "%[flags][width][:...]<letter>".
struct Spec {
  char flag = 0;  // '-', '_', '0' or 0
  bool upper = false;
  int width = -1;
  int colons = 0;
  const Directive* directive = nullptr;
  std::string text;  // the directive as written, for error messages
};

// Parses the directive starting at format[i] == '%'; advances i past it. False (with i past
// what was read) if it is not a known directive.
bool ParseSpec(std::string_view format, size_t& i, Spec* spec) {
  const size_t begin = i++;
  while (i < format.size() && (format[i] == '-' || format[i] == '_' || format[i] == '0' ||
                               format[i] == '^' || format[i] == '#')) {
    if (format[i] == '^') {
      spec->upper = true;
    } else if (format[i] != '#') {
      spec->flag = format[i];
    }
    ++i;
  }
  while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
    spec->width = std::max(spec->width, 0) * 10 + (format[i] - '0');
    if (spec->width > 64) spec->width = 64;
    ++i;
  }
  while (i < format.size() && format[i] == ':' && spec->colons < 3) {
    ++spec->colons;
    ++i;
  }
  if (i >= format.size()) {
    spec->text = std::string(format.substr(begin));
    return false;
  }
  spec->directive = FindDirective(format[i]);
  ++i;
  spec->text = std::string(format.substr(begin, i - begin));
  return spec->directive != nullptr && (spec->colons == 0 || spec->directive->letter == 'z');
}

constexpr std::array<const char*, 12> kMonths = {"January", "February", "March",     "April",
                                                 "May",     "June",     "July",      "August",
                                                 "September", "October", "November", "December"};
constexpr std::array<const char*, 7> kWeekdays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};

// A broken-down local time.
struct Tm {
  int64_t unix_s = 0;
  int32_t nanos = 0;
  int64_t year = 1970;
  int month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int weekday = 4;  // 0 = Sunday
  int yday = 0;     // 0-based
  int64_t days = 0;
  ZoneOffset zone;
};

Tm BreakDown(int64_t unix_nanos, const TimeZone& tz) {
  Tm tm;
  tm.unix_s = FloorDiv(unix_nanos, kNanos);
  tm.nanos = static_cast<int32_t>(unix_nanos - tm.unix_s * kNanos);
  tm.zone = tz.Lookup(tm.unix_s);
  const int64_t local = tm.unix_s + tm.zone.utc_offset_s;
  tm.days = FloorDiv(local, kDay);
  const int64_t sod = local - tm.days * kDay;
  tm.hour = static_cast<int>(sod / 3600);
  tm.minute = static_cast<int>(sod / 60 % 60);
  tm.second = static_cast<int>(sod % 60);
  CivilFromDays(tm.days, &tm.year, &tm.month, &tm.day);
  tm.weekday = static_cast<int>(((tm.days % 7) + 7 + 4) % 7);
  tm.yday = static_cast<int>(tm.days - DaysFromCivil(tm.year, 1, 1));
  return tm;
}

// ISO 8601 week-based year and week of `tm`.
void IsoWeek(const Tm& tm, int64_t* iso_year, int* week) {
  const int iso_wd = tm.weekday == 0 ? 7 : tm.weekday;  // Monday = 1
  const int64_t thursday = tm.days - (iso_wd - 1) + 3;
  int64_t y;
  int m, d;
  CivilFromDays(thursday, &y, &m, &d);
  *iso_year = y;
  *week = static_cast<int>((thursday - DaysFromCivil(y, 1, 1)) / 7 + 1);
}

void AppendPadded(std::string* out, std::string_view s, const Spec& spec, char pad, int width) {
  if (spec.flag == '-') width = 0;
  if (spec.width >= 0) width = spec.width;
  if (spec.flag == '_') pad = ' ';
  if (spec.flag == '0') pad = '0';
  bool negative = !s.empty() && s[0] == '-';
  if (negative && pad == '0') {
    out->push_back('-');
    s.remove_prefix(1);
    width = std::max(width - 1, 0);
  }
  for (int i = static_cast<int>(s.size()); i < width; ++i) out->push_back(pad);
  for (char c : s) {
    out->push_back(spec.upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
  }
}

void AppendNumber(std::string* out, int64_t v, const Spec& spec) {
  AppendPadded(out, std::to_string(v), spec, spec.directive->pad, spec.directive->width);
}

void AppendText(std::string* out, std::string_view s, const Spec& spec) {
  AppendPadded(out, s, spec, ' ', 0);
}

void Format(std::string_view format, const Tm& tm, std::string* out);

void FormatOne(const Spec& spec, const Tm& tm, std::string* out) {
  const Directive& d = *spec.directive;
  if (d.expands_to != nullptr) {
    std::string sub;
    Format(d.expands_to, tm, &sub);
    AppendText(out, sub, spec);
    return;
  }
  switch (d.letter) {
    case 'Y': return AppendNumber(out, tm.year, spec);
    case 'y': return AppendNumber(out, ((tm.year % 100) + 100) % 100, spec);
    case 'C': return AppendNumber(out, FloorDiv(tm.year, 100), spec);
    case 'G':
    case 'g': {
      int64_t iy;
      int w;
      IsoWeek(tm, &iy, &w);
      return AppendNumber(out, d.letter == 'G' ? iy : ((iy % 100) + 100) % 100, spec);
    }
    case 'm': return AppendNumber(out, tm.month, spec);
    case 'B': return AppendText(out, kMonths[tm.month - 1], spec);
    case 'b':
    case 'h': return AppendText(out, std::string_view(kMonths[tm.month - 1]).substr(0, 3), spec);
    case 'd':
    case 'e': return AppendNumber(out, tm.day, spec);
    case 'j': return AppendNumber(out, tm.yday + 1, spec);
    case 'a': return AppendText(out, std::string_view(kWeekdays[tm.weekday]).substr(0, 3), spec);
    case 'A': return AppendText(out, kWeekdays[tm.weekday], spec);
    case 'u': return AppendNumber(out, tm.weekday == 0 ? 7 : tm.weekday, spec);
    case 'w': return AppendNumber(out, tm.weekday, spec);
    case 'U': return AppendNumber(out, (tm.yday + 7 - tm.weekday) / 7, spec);
    case 'W': return AppendNumber(out, (tm.yday + 7 - (tm.weekday + 6) % 7) / 7, spec);
    case 'V': {
      int64_t iy;
      int w;
      IsoWeek(tm, &iy, &w);
      return AppendNumber(out, w, spec);
    }
    case 'H':
    case 'k': return AppendNumber(out, tm.hour, spec);
    case 'I':
    case 'l': return AppendNumber(out, tm.hour % 12 == 0 ? 12 : tm.hour % 12, spec);
    case 'p': return AppendText(out, tm.hour < 12 ? "AM" : "PM", spec);
    case 'M': return AppendNumber(out, tm.minute, spec);
    case 'S': return AppendNumber(out, tm.second, spec);
    case 's': return AppendNumber(out, tm.unix_s, spec);
    case 'f': return AppendNumber(out, tm.nanos / 1000, spec);
    case 'Z':
      if (!tm.zone.abbreviation.empty()) return AppendText(out, tm.zone.abbreviation, spec);
      [[fallthrough]];
    case 'z': {
      int32_t off = tm.zone.utc_offset_s;
      std::string s(1, off < 0 ? '-' : '+');
      off = off < 0 ? -off : off;
      auto two = [&](int v) {
        s.push_back(static_cast<char>('0' + v / 10));
        s.push_back(static_cast<char>('0' + v % 10));
      };
      two(off / 3600);
      if (spec.colons > 0) s.push_back(':');
      two(off / 60 % 60);
      if (spec.colons > 1) {
        s.push_back(':');
        two(off % 60);
      }
      return AppendText(out, s, spec);
    }
    case 'n': out->push_back('\n'); return;
    case 't': out->push_back('\t'); return;
    case '%': out->push_back('%'); return;
    default: return;
  }
}

void Format(std::string_view format, const Tm& tm, std::string* out) {
  for (size_t i = 0; i < format.size();) {
    if (format[i] != '%') {
      out->push_back(format[i++]);
      continue;
    }
    const size_t begin = i;
    Spec spec;
    if (ParseSpec(format, i, &spec)) {
      FormatOne(spec, tm, out);
    } else {
      out->append(format.substr(begin, i - begin));
    }
  }
}

// Checks `format`; on success the finest unit it depends on.
Result<Unit> ScanFormat(std::string_view format, std::string_view setting) {
  Unit finest = Unit::kNone;
  for (size_t i = 0; i < format.size();) {
    if (format[i] != '%') {
      ++i;
      continue;
    }
    Spec spec;
    if (!ParseSpec(format, i, &spec)) {
      if (spec.text == "%") {
        return Status::Invalid(setting, ": '%' at the end of '", std::string(format),
                               "' (write %% for a literal %)");
      }
      return Status::Invalid(setting, ": unknown directive ", spec.text, " in '",
                             std::string(format), "'");
    }
    finest = std::max(finest, spec.directive->unit);
  }
  return finest;
}

// ---- names ------------------------------------------------------------------------------------

bool ConsumeSuffix(std::string_view* s, std::string_view suffix) {
  if (!s->ends_with(suffix)) return false;
  s->remove_suffix(suffix.size());
  return true;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// ---- window times ------------------------------------------------------------------------------

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool ValidDate(int y, int m, int d) {
  if (m < 1 || m > 12 || d < 1) return false;
  int64_t next_y = m == 12 ? y + 1 : y;
  int next_m = m == 12 ? 1 : m + 1;
  return DaysFromCivil(next_y, next_m, 1) - DaysFromCivil(y, m, 1) >= d;
}

// ---- listing -----------------------------------------------------------------------------------

// The instant the period after the one holding `t` starts (seconds), walking local wall time.
int64_t NextPeriodStart(int64_t t, Step step, const TimeZone& tz) {
  const int64_t local = t + tz.Lookup(t).utc_offset_s;
  int64_t next_local = 0;
  int64_t fallback = kDay;
  switch (step) {
    case Step::kMinute:
      next_local = FloorDiv(local, 60) * 60 + 60;
      fallback = 60;
      break;
    case Step::kHour:
      next_local = FloorDiv(local, 3600) * 3600 + 3600;
      fallback = 3600;
      break;
    case Step::kDay:
      next_local = (FloorDiv(local, kDay) + 1) * kDay;
      break;
    case Step::kMonth:
    case Step::kYear: {
      int64_t y;
      int m, d;
      CivilFromDays(FloorDiv(local, kDay), &y, &m, &d);
      if (step == Step::kYear) {
        next_local = DaysFromCivil(y + 1, 1, 1) * kDay;
      } else {
        next_local = (m == 12 ? DaysFromCivil(y + 1, 1, 1) : DaysFromCivil(y, m + 1, 1)) * kDay;
      }
      break;
    }
  }
  const int64_t next = tz.LocalToUtc(next_local);
  return next > t ? next : t + fallback;
}

}  // namespace

std::string_view SignalName(Signal s) {
  switch (s) {
    case Signal::kTraces: return "traces";
    case Signal::kLogs: return "logs";
    case Signal::kMetrics: return "metrics";
  }
  return "?";
}

std::string_view MarshalerName(Marshaler m) {
  switch (m) {
    case Marshaler::kOtlpJson: return "otlp_json";
    case Marshaler::kOtlpProto: return "otlp_proto";
    case Marshaler::kJsonLines: return "jsonl";
  }
  return "?";
}

std::string_view MarshalerExtension(Marshaler m) {
  switch (m) {
    case Marshaler::kOtlpJson: return "json";
    case Marshaler::kOtlpProto: return "binpb";
    case Marshaler::kJsonLines: return "jsonl";
  }
  return "?";
}

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kGzip: return "gzip";
    case Compression::kZstd: return "zstd";
  }
  return "?";
}

std::string_view CompressionSuffix(Compression c) {
  switch (c) {
    case Compression::kNone: return "";
    case Compression::kGzip: return ".gz";
    case Compression::kZstd: return ".zst";
  }
  return "";
}

Result<Marshaler> ParseMarshaler(std::string_view name) {
  if (name == "otlp_json") return Marshaler::kOtlpJson;
  if (name == "otlp_proto") return Marshaler::kOtlpProto;
  return Status::Invalid("marshaler: ", Quote(name),
                         " is not supported (use otlp_json or otlp_proto)");
}

Result<Compression> ParseCompression(std::string_view name) {
  if (name.empty() || name == "none") return Compression::kNone;
  if (name == "gzip") return Compression::kGzip;
  if (name == "zstd") return Compression::kZstd;
  return Status::Invalid("compression: unknown compression type ", Quote(name),
                         " (use none, gzip or zstd)");
}

Status ValidatePartitionFormat(std::string_view format) {
  return ScanFormat(format, "s3_partition_format").status();
}

std::string FormatPartition(std::string_view format, int64_t unix_nanos, const TimeZone& tz) {
  std::string out;
  Format(format, BreakDown(unix_nanos, tz), &out);
  return out;
}

std::string JoinKey(const std::vector<std::string_view>& parts) {
  bool rooted = false, any = false;
  std::vector<std::string_view> elems;
  for (std::string_view p : parts) {
    if (p.empty()) continue;
    if (!any) rooted = p.front() == '/';
    any = true;
    size_t i = 0;
    while (i < p.size()) {
      size_t j = p.find('/', i);
      if (j == std::string_view::npos) j = p.size();
      std::string_view e = p.substr(i, j - i);
      if (e == "..") {
        if (!elems.empty() && elems.back() != "..") {
          elems.pop_back();
        } else if (!rooted) {
          elems.push_back(e);
        }
      } else if (!e.empty() && e != ".") {
        elems.push_back(e);
      }
      i = j + 1;
    }
  }
  if (!any) return "";
  std::string out = rooted ? "/" : "";
  for (size_t i = 0; i < elems.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(elems[i]);
  }
  if (out.empty()) out = ".";
  return out;
}

Result<KeyLayout> KeyLayout::Make(KeyLayoutOptions options) {
  OTLAKE_RETURN_NOT_OK(ValidatePartitionFormat(options.s3_partition_format));
  auto tz = TimeZone::Load(options.s3_partition_timezone);
  if (!tz.ok()) return Status::Invalid("s3_partition_timezone: ", tz.status().message());
  if (options.file_prefix.find('/') != std::string::npos) {
    return Status::Invalid("file_prefix: ", Quote(options.file_prefix),
                           " must not contain '/' (put directories in s3_prefix)");
  }
  if (options.marshaler == Marshaler::kJsonLines) {
    return Status::Invalid("marshaler: jsonl is read-only (use otlp_json or otlp_proto)");
  }
  return KeyLayout(std::move(options), std::move(*tz));
}

std::string KeyLayout::Key(int64_t unix_nanos, Signal signal, std::string_view unique) const {
  std::string name = options_.file_prefix;
  name.append(SignalName(signal)).append("_").append(unique).append(".");
  name.append(MarshalerExtension(options_.marshaler));
  name.append(CompressionSuffix(options_.compression));
  const std::string partition = FormatPartition(options_.s3_partition_format, unix_nanos, tz_);
  return JoinKey({options_.s3_base_prefix, options_.s3_prefix, partition, name});
}

Result<ObjectName> ParseObjectName(std::string_view key, std::string_view file_prefix) {
  const size_t slash = key.rfind('/');
  const std::string_view file = slash == std::string_view::npos ? key : key.substr(slash + 1);
  auto not_archive = [&](const std::string& why) {
    return Status::Invalid("not an archive object: ", Quote(key), ": ", why);
  };
  if (!file.starts_with(file_prefix)) {
    return not_archive("the file name does not start with file_prefix " + Quote(file_prefix));
  }
  std::string_view rest = file.substr(file_prefix.size());
  ObjectName out;
  bool found = false;
  for (Signal s : {Signal::kTraces, Signal::kLogs, Signal::kMetrics}) {
    const std::string head = std::string(SignalName(s)) + "_";
    if (rest.starts_with(head)) {
      out.signal = s;
      rest.remove_prefix(head.size());
      found = true;
      break;
    }
  }
  if (!found) {
    return not_archive("expected traces_, logs_ or metrics_ after the file prefix");
  }
  if (ConsumeSuffix(&rest, ".gz")) {
    out.compression = Compression::kGzip;
  } else if (ConsumeSuffix(&rest, ".zst")) {
    out.compression = Compression::kZstd;
  }
  if (ConsumeSuffix(&rest, ".json")) {
    out.marshaler = Marshaler::kOtlpJson;
  } else if (ConsumeSuffix(&rest, ".binpb")) {
    out.marshaler = Marshaler::kOtlpProto;
  } else if (ConsumeSuffix(&rest, ".jsonl")) {
    out.marshaler = Marshaler::kJsonLines;
  } else {
    return not_archive("unsupported file format (expected .json, .binpb or .jsonl, optionally "
                       "followed by .gz or .zst)");
  }
  if (rest.empty()) return not_archive("no unique part between the signal and the extension");
  out.unique = std::string(rest);
  return out;
}

Result<int64_t> ParseWindowTime(std::string_view text, const TimeZone& tz,
                                std::string_view setting) {
  auto bad = [&]() {
    return Status::Invalid(setting, ": ", Quote(text),
                           " is not a time (use RFC 3339 such as 2025-06-25T14:09:00Z, "
                           "'YYYY-MM-DD HH:MM' or 'YYYY-MM-DD')");
  };
  int y, mo, d;
  if (!Digits(text, 0, 4, &y) || text.size() < 10 || text[4] != '-' || !Digits(text, 5, 2, &mo) ||
      text[7] != '-' || !Digits(text, 8, 2, &d) || !ValidDate(y, mo, d)) {
    return bad();
  }
  const int64_t day_s = DaysFromCivil(y, mo, d) * kDay;
  if (text.size() == 10) return tz.LocalToUtc(day_s) * kNanos;
  int h, mi;
  if (text.size() < 16 || !Digits(text, 11, 2, &h) || text[13] != ':' ||
      !Digits(text, 14, 2, &mi) || h > 23 || mi > 59) {
    return bad();
  }
  if (text[10] == ' ' && text.size() == 16) {
    return tz.LocalToUtc(day_s + h * 3600 + mi * 60) * kNanos;
  }
  // RFC 3339: date "T" hh:mm:ss [.frac] ("Z" | ("+"|"-") hh:mm)
  int s;
  if ((text[10] != 'T' && text[10] != 't') || text.size() < 20 || text[16] != ':' ||
      !Digits(text, 17, 2, &s) || s > 59) {
    return bad();
  }
  size_t i = 19;
  int64_t nanos = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    const size_t begin = i;
    int64_t scale = kNanos;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (scale > 1) {
        scale /= 10;
        nanos += (text[i] - '0') * scale;
      }
      ++i;
    }
    if (i == begin) return bad();
  }
  int64_t offset = 0;
  if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
    ++i;
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int oh, om;
    if (!Digits(text, i + 1, 2, &oh) || i + 3 >= text.size() || text[i + 3] != ':' ||
        !Digits(text, i + 4, 2, &om) || oh > 23 || om > 59) {
      return bad();
    }
    offset = (text[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return bad();
  }
  if (i != text.size()) return bad();
  return (day_s + h * 3600 + mi * 60 + s - offset) * kNanos + nanos;
}

std::string_view StepName(Step s) {
  switch (s) {
    case Step::kMinute: return "minute";
    case Step::kHour: return "hour";
    case Step::kDay: return "day";
    case Step::kMonth: return "month";
    case Step::kYear: return "year";
  }
  return "?";
}

Result<Step> InferStep(std::string_view format) {
  OTLAKE_ASSIGN_OR_RAISE(Unit unit, ScanFormat(format, "s3_partition_format"));
  switch (unit) {
    case Unit::kNone:
      return Status::Invalid("s3_partition_format: no time directive in '", std::string(format),
                             "', so no time step to list by");
    case Unit::kSubMinute:
      return Status::Invalid("s3_partition_format: '", std::string(format),
                             "' partitions by seconds or finer, which cannot be listed by "
                             "window (use minutes or coarser)");
    case Unit::kMinute: return Step::kMinute;
    case Unit::kHour: return Step::kHour;
    case Unit::kDay: return Step::kDay;
    case Unit::kMonth: return Step::kMonth;
    case Unit::kYear: return Step::kYear;
  }
  return Status::Invalid("s3_partition_format: no time step");
}

Result<WindowListing> ListWindow(const WindowOptions& options, Signal signal) {
  WindowListing out;
  OTLAKE_ASSIGN_OR_RAISE(out.step, InferStep(options.s3_partition_format));
  auto tz = TimeZone::Load(options.s3_partition_timezone);
  if (!tz.ok()) return Status::Invalid("s3_partition_timezone: ", tz.status().message());
  if (options.file_prefix.find('/') != std::string::npos) {
    return Status::Invalid("file_prefix: ", Quote(options.file_prefix),
                           " must not contain '/' (put directories in s3_prefix)");
  }
  if (options.starttime.empty() || options.endtime.empty()) {
    return Status::Invalid(options.starttime.empty() ? "starttime" : "endtime",
                           ": required (both starttime and endtime)");
  }
  OTLAKE_ASSIGN_OR_RAISE(out.start_unix_nanos, ParseWindowTime(options.starttime, *tz, "starttime"));
  OTLAKE_ASSIGN_OR_RAISE(out.end_unix_nanos, ParseWindowTime(options.endtime, *tz, "endtime"));
  if (out.end_unix_nanos <= out.start_unix_nanos) {
    return Status::Invalid("endtime: ", Quote(options.endtime), " is not after starttime ",
                           Quote(options.starttime));
  }
  std::string tail = options.file_prefix;
  if (options.file_prefix_include_telemetry_type) tail.append(SignalName(signal)).append("_");
  std::unordered_set<std::string> seen;
  int64_t t = FloorDiv(out.start_unix_nanos, kNanos);
  int64_t t_nanos = out.start_unix_nanos;
  while (t_nanos < out.end_unix_nanos) {
    std::string partition = FormatPartition(options.s3_partition_format, t_nanos, *tz);
    if (seen.insert(partition).second) {
      if (static_cast<int64_t>(out.partitions.size()) >= options.max_partitions) {
        return Status::Invalid("starttime/endtime: the window spans more than ",
                               options.max_partitions, " partitions of one ",
                               StepName(out.step), "; list a shorter window");
      }
      std::string prefix = JoinKey({options.s3_prefix, partition});
      prefix.append("/").append(tail);
      out.partitions.push_back(WindowPartition{t_nanos, std::move(partition), std::move(prefix)});
    }
    t = NextPeriodStart(t, out.step, *tz);
    t_nanos = t * kNanos;
  }
  return out;
}

}  // namespace otlake::archive
