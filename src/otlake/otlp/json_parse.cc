// ParseJson (json_fields.h): UTF-8 check, then RapidJSON in-situ reader + document, with numbers
// converted by std::from_chars.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <charconv>
#include <string>

#include "otlake/otlp/json_fields.h"
#include "otlake/otlp/utf8.h"

namespace otlake::otlp::internal {
namespace {

// True if the decimal number `t` (valid JSON syntax) is too large in magnitude for a double,
// false if it is too small; called only when from_chars reports it out of range.
bool Overflows(std::string_view t) {
  size_t i = (t[0] == '-') ? 1 : 0;
  int64_t int_digits = 0, leading_frac_zeros = 0;
  bool seen_nonzero = false;
  for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
    if (t[i] != '0') seen_nonzero = true;
    if (seen_nonzero) ++int_digits;
  }
  if (i < t.size() && t[i] == '.') {
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
      if (!seen_nonzero && t[i] == '0') ++leading_frac_zeros;
      if (t[i] != '0') seen_nonzero = true;
    }
  }
  int64_t exp = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) neg = t[i++] == '-';
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
      if (exp < 1000000000) exp = exp * 10 + (t[i] - '0');
    }
    if (neg) exp = -exp;
  }
  const int64_t magnitude = int_digits > 0 ? int_digits - 1 + exp : -leading_frac_zeros - 1 + exp;
  return magnitude > 0;
}

// Forwards every SAX event to the document, converting raw number text itself.
struct Handler {
  rapidjson::Document* doc;
  bool out_of_range = false;

  bool Null() { return doc->Null(); }
  bool Bool(bool b) { return doc->Bool(b); }
  bool Int(int i) { return doc->Int(i); }
  bool Uint(unsigned u) { return doc->Uint(u); }
  bool Int64(int64_t i) { return doc->Int64(i); }
  bool Uint64(uint64_t u) { return doc->Uint64(u); }
  bool Double(double d) { return doc->Double(d); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc->String(s, n, copy); }
  bool StartObject() { return doc->StartObject(); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc->Key(s, n, copy); }
  bool EndObject(rapidjson::SizeType n) { return doc->EndObject(n); }
  bool StartArray() { return doc->StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return doc->EndArray(n); }

  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    const std::string_view t(s, n);
    const char* end = s + n;
    if (t.find_first_of(".eE") == std::string_view::npos) {
      if (t == "-0") return doc->Double(-0.0);
      if (t[0] == '-') {
        int64_t v;
        auto r = std::from_chars(s, end, v);
        if (r.ec == std::errc() && r.ptr == end) return doc->Int64(v);
      } else {
        uint64_t v;
        auto r = std::from_chars(s, end, v);
        if (r.ec == std::errc() && r.ptr == end) return doc->Uint64(v);
      }
      // Beyond 64 bits: a double, as JSON parsers commonly do.
    }
    double v = 0;
    auto r = std::from_chars(s, end, v);
    if (r.ptr != end) return false;
    if (r.ec == std::errc::result_out_of_range) {
      if (Overflows(t)) {
        out_of_range = true;
        return false;
      }
      return doc->Double(t[0] == '-' ? -0.0 : 0.0);
    }
    if (r.ec != std::errc()) return false;
    return doc->Double(v);
  }
};

}  // namespace

Status ParseJson(std::string_view text, std::string* buffer, rapidjson::Document* doc) {
  const size_t valid = Utf8ValidPrefix(text);
  if (valid != text.size()) {
    return Status::Invalid("invalid JSON at offset ", valid, ": invalid UTF-8");
  }
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseInsituFlag |
                              rapidjson::kParseNumbersAsStringsFlag;
  buffer->assign(text.data(), text.size());  // in-situ parsing rewrites strings in place
  rapidjson::InsituStringStream is(buffer->data());
  rapidjson::Reader reader;
  Handler handler{doc};
  rapidjson::ParseResult result;
  auto generate = [&](rapidjson::Document& d) {
    handler.doc = &d;
    result = reader.Parse<kFlags>(is, handler);
    return static_cast<bool>(result);
  };
  doc->Populate(generate);
  if (result) {
    // A NUL byte in the text ends in-situ parsing early; anything after it is not JSON.
    if (is.Tell() < text.size() && text.find_first_not_of(" \t\n\r", is.Tell()) != text.npos) {
      return Status::Invalid("invalid JSON at offset ", is.Tell(),
                             ": The document root must not be followed by other values.");
    }
    return Status::OK();
  }
  if (handler.out_of_range) {
    return Status::Invalid("invalid JSON at offset ", result.Offset(), ": number out of range");
  }
  return Status::Invalid("invalid JSON at offset ", result.Offset(), ": ",
                         rapidjson::GetParseError_En(result.Code()));
}

}  // namespace otlake::otlp::internal
