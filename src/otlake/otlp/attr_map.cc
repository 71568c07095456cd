#include "otlake/otlp/attr_map.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "otlake/otlp/encoding.h"
#include "otlake/otlp/typed_json.h"
#include "otlake/otlp/utf8.h"

namespace otlake::otlp {
namespace {

// A reader over typed JSON text. The decoders' own rendering is compact (no whitespace), but
// whitespace is skipped so any equivalent JSON is read the same.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  void SkipWs() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool Eat(char c) {
    SkipWs();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  char Peek() {
    SkipWs();
    return p_ < end_ ? *p_ : '\0';
  }
  bool AtEnd() {
    SkipWs();
    return p_ == end_;
  }
  const char* pos() const { return p_; }

  // A JSON string at the cursor: a view of its bytes when it has no escape, else decoded into
  // *scratch (and *out views that).
  bool String(std::string_view* out, std::string* scratch) {
    SkipWs();
    if (p_ >= end_ || *p_ != '"') return false;
    const char* start = ++p_;
    while (p_ < end_ && *p_ != '"' && *p_ != '\\') ++p_;
    if (p_ < end_ && *p_ == '"') {
      *out = std::string_view(start, static_cast<size_t>(p_ - start));
      ++p_;
      return true;
    }
    scratch->assign(start, static_cast<size_t>(p_ - start));
    while (p_ < end_ && *p_ != '"') {
      if (*p_ != '\\') {
        scratch->push_back(*p_++);
        continue;
      }
      if (++p_ >= end_) return false;
      const char e = *p_++;
      switch (e) {
        case '"': scratch->push_back('"'); break;
        case '\\': scratch->push_back('\\'); break;
        case '/': scratch->push_back('/'); break;
        case 'b': scratch->push_back('\b'); break;
        case 'f': scratch->push_back('\f'); break;
        case 'n': scratch->push_back('\n'); break;
        case 'r': scratch->push_back('\r'); break;
        case 't': scratch->push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!Hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          AppendUtf8(cp, scratch);
          break;
        }
        default: return false;
      }
    }
    if (p_ >= end_) return false;
    ++p_;
    *out = *scratch;
    return true;
  }

  // Skips one JSON value of any kind (strings with escapes, nesting).
  bool SkipValue(int depth = 0) {
    if (depth > 256) return false;
    const char c = Peek();
    std::string scratch;
    std::string_view ignored;
    switch (c) {
      case '"': return String(&ignored, &scratch);
      case '{': {
        ++p_;
        if (Eat('}')) return true;
        do {
          if (!String(&ignored, &scratch) || !Eat(':') || !SkipValue(depth + 1)) return false;
        } while (Eat(','));
        return Eat('}');
      }
      case '[': {
        ++p_;
        if (Eat(']')) return true;
        do {
          if (!SkipValue(depth + 1)) return false;
        } while (Eat(','));
        return Eat(']');
      }
      default: {
        const char* start = p_;
        while (p_ < end_ && (std::isalnum(static_cast<unsigned char>(*p_)) || *p_ == '-' ||
                             *p_ == '+' || *p_ == '.')) {
          ++p_;
        }
        return p_ > start;
      }
    }
  }

 private:
  bool Hex4(uint32_t* v) {
    if (end_ - p_ < 4) return false;
    uint32_t x = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      x <<= 4;
      if (c >= '0' && c <= '9') {
        x |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        x |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        x |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    *v = x;
    return true;
  }
  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  const char* p_;
  const char* end_;
};

bool ParseMapDouble(std::string_view t, double* v) {
  if (t == "NaN") {
    *v = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (t == "Infinity") {
    *v = std::numeric_limits<double>::infinity();
    return true;
  }
  if (t == "-Infinity") {
    *v = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (t.empty()) return false;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), *v);
  return ec == std::errc() && p == t.data() + t.size();
}

bool IsIntText(std::string_view t) {
  int64_t v;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  return !t.empty() && ec == std::errc() && p == t.data() + t.size();
}

}  // namespace

void AppendMapDouble(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "Infinity" : "-Infinity");
    return;
  }
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

Status TypedJsonToAttrMap(std::string_view json, table::AttrMap* out) {
  Scanner s(json);
  if (!s.Eat('{')) return Status::Invalid("attribute JSON is not an object");
  if (s.Eat('}')) {
    if (!s.AtEnd()) return Status::Invalid("attribute JSON: text after the object");
    return Status::OK();
  }
  std::string key_scratch, val_scratch, text;
  do {
    std::string_view key;
    if (!s.String(&key, &key_scratch) || !s.Eat(':')) {
      return Status::Invalid("attribute JSON: expected a key");
    }
    const char c = s.Peek();
    const char* begin = s.pos();
    switch (c) {
      case '"': {
        std::string_view v;
        if (!s.String(&v, &val_scratch)) return Status::Invalid("attribute JSON: bad string");
        out->Add(key, v, 's');
        break;
      }
      case '[': {
        if (!s.SkipValue()) return Status::Invalid("attribute JSON: bad array");
        out->Add(key, std::string_view(begin, static_cast<size_t>(s.pos() - begin)), 'a');
        break;
      }
      case '{': {
        if (!s.SkipValue()) return Status::Invalid("attribute JSON: bad object");
        const std::string_view obj(begin, static_cast<size_t>(s.pos() - begin));
        // {"$double":"NaN"} / {"$bytes":"..."}: one member with that exact key.
        Scanner inner(obj);
        std::string_view k2, v2;
        std::string s1, s2;
        char type = 'k';
        if (inner.Eat('{') && inner.String(&k2, &s1) && inner.Eat(':') && inner.Peek() == '"' &&
            (k2 == "$double" || k2 == "$bytes") && inner.String(&v2, &s2) && inner.Eat('}') &&
            inner.AtEnd()) {
          type = k2 == "$double" ? 'd' : 'y';
        }
        if (type == 'k') {
          out->Add(key, obj, 'k');
        } else {
          out->Add(key, v2, type);
        }
        break;
      }
      case 'n':
        if (!s.SkipValue() || std::string_view(begin, static_cast<size_t>(s.pos() - begin)) != "null") {
          return Status::Invalid("attribute JSON: bad literal");
        }
        out->Add(key, {}, 'e');
        break;
      case 't':
      case 'f': {
        if (!s.SkipValue()) return Status::Invalid("attribute JSON: bad literal");
        const std::string_view lit(begin, static_cast<size_t>(s.pos() - begin));
        if (lit != "true" && lit != "false") return Status::Invalid("attribute JSON: bad literal");
        out->Add(key, lit, 'b');
        break;
      }
      default: {
        if (!s.SkipValue()) return Status::Invalid("attribute JSON: bad value");
        const std::string_view num(begin, static_cast<size_t>(s.pos() - begin));
        if (num.find_first_of(".eE") == std::string_view::npos) {
          if (!IsIntText(num)) return Status::Invalid("attribute JSON: bad integer");
          out->Add(key, num, 'i');
        } else {
          double d;
          if (!ParseMapDouble(num, &d)) return Status::Invalid("attribute JSON: bad number");
          text.clear();
          AppendMapDouble(&text, d);
          out->Add(key, text, 'd');
        }
        break;
      }
    }
  } while (s.Eat(','));
  if (!s.Eat('}') || !s.AtEnd()) return Status::Invalid("attribute JSON: expected '}'");
  return Status::OK();
}

Status AppendAttrMapTypedJson(const std::vector<MapEntry>& entries, std::string_view types,
                              std::string* out) {
  if (types.size() != entries.size()) {
    return Status::Invalid("attribute map has ", entries.size(), " entries but ", types.size(),
                           " type letters");
  }
  out->push_back('{');
  for (size_t i = 0; i < entries.size(); ++i) {
    const MapEntry& e = entries[i];
    const char t = types[i];
    if (!AppendJsonKey(out, i > 0 ? ',' : '\0', e.key)) {
      return Status::Invalid("attribute key is not valid UTF-8");
    }
    if (e.null != (t == 'e')) {
      return Status::Invalid("attribute '", e.key, "': type letter '", std::string(1, t),
                             "' with a ", e.null ? "null" : "non-null", " value");
    }
    switch (t) {
      case 's':
        if (!AppendJsonString(out, e.value)) {
          return Status::Invalid("attribute '", e.key, "': value is not valid UTF-8");
        }
        break;
      case 'i':
        if (!IsIntText(e.value)) {
          return Status::Invalid("attribute '", e.key, "': '", e.value, "' is not an int");
        }
        out->append(e.value);
        break;
      case 'd': {
        double d;
        if (!ParseMapDouble(e.value, &d)) {
          return Status::Invalid("attribute '", e.key, "': '", e.value, "' is not a double");
        }
        AppendTypedDouble(out, d);
        break;
      }
      case 'b':
        if (e.value != "true" && e.value != "false") {
          return Status::Invalid("attribute '", e.key, "': '", e.value, "' is not a bool");
        }
        out->append(e.value);
        break;
      case 'y': {
        if (Base64DecodedSize(e.value) < 0) {
          return Status::Invalid("attribute '", e.key, "': value is not base64");
        }
        out->append(R"({"$bytes":)");
        AppendJsonString(out, e.value);
        out->push_back('}');
        break;
      }
      case 'a':
      case 'k':
        if (e.value.empty() || e.value.front() != (t == 'a' ? '[' : '{')) {
          return Status::Invalid("attribute '", e.key, "': value is not a JSON ",
                                 t == 'a' ? "array" : "object");
        }
        out->append(e.value);
        break;
      case 'e': out->append("null"); break;
      default:
        return Status::Invalid("attribute '", e.key, "': unknown type letter '",
                               std::string(1, t), "'");
    }
  }
  out->push_back('}');
  return Status::OK();
}

void AttributesToAttrMap(const std::vector<KeyValue>& attrs, table::AttrMap* out) {
  using T = AnyValue::Type;
  std::string text;
  for (const KeyValue& kv : attrs) {
    const AnyValue& v = kv.value;
    text.clear();
    char t = 'e';
    switch (v.type) {
      case T::kEmpty: t = 'e'; break;
      case T::kString: t = 's'; text = v.string_value; break;
      case T::kBool: t = 'b'; text = v.bool_value ? "true" : "false"; break;
      case T::kInt: t = 'i'; text = std::to_string(v.int_value); break;
      case T::kDouble: t = 'd'; AppendMapDouble(&text, v.double_value); break;
      case T::kBytes: t = 'y'; AppendBase64(&text, v.string_value); break;
      case T::kArray: t = 'a'; EncodeTypedJson(v, &text); break;
      case T::kKvlist: t = 'k'; EncodeTypedJson(v, &text); break;
    }
    out->Add(kv.key, text, t);
  }
}

Result<std::vector<KeyValue>> AttrMapToAttributes(const table::AttrMap& m) {
  std::vector<MapEntry> entries;
  for (size_t i = 0; i < m.size(); ++i) entries.push_back({m.key(i), m.value(i), m.is_null(i)});
  std::string json;
  OTLAKE_RETURN_NOT_OK(AppendAttrMapTypedJson(entries, m.types, &json));
  return DecodeTypedJsonAttributes(json);
}

}  // namespace otlake::otlp
