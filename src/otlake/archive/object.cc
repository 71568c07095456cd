#include "otlake/archive/object.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cctype>
#include <optional>

#include "otlake/server/decompress.h"

namespace otlake::archive {

namespace {

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

bool HasGzipMagic(std::string_view b) {
  return b.size() >= 2 && static_cast<unsigned char>(b[0]) == 0x1f &&
         static_cast<unsigned char>(b[1]) == 0x8b;
}

bool HasZstdMagic(std::string_view b) {
  return b.size() >= 4 && static_cast<unsigned char>(b[0]) == 0x28 &&
         static_cast<unsigned char>(b[1]) == 0xb5 && static_cast<unsigned char>(b[2]) == 0x2f &&
         static_cast<unsigned char>(b[3]) == 0xfd;
}

Compression ContentEncodingCompression(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string lower(v);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "gzip" || lower == "x-gzip") return Compression::kGzip;
  if (lower == "zstd") return Compression::kZstd;
  return Compression::kNone;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The signal a top-level OTLP/JSON field belongs to, if it is one of the three.
std::optional<Signal> SignalOfField(std::string_view key) {
  if (key == "resourceSpans" || key == "resource_spans") return Signal::kTraces;
  if (key == "resourceLogs" || key == "resource_logs") return Signal::kLogs;
  if (key == "resourceMetrics" || key == "resource_metrics") return Signal::kMetrics;
  return std::nullopt;
}

// SAX handler that accepts any JSON and notes the first top-level field naming another signal.
struct TopLevelFields : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, TopLevelFields> {
  explicit TopLevelFields(Signal expected) : expected(expected) {}
  bool Default() { return true; }
  bool StartObject() { return ++depth, true; }
  bool EndObject(rapidjson::SizeType) { return --depth, true; }
  bool StartArray() { return ++depth, true; }
  bool EndArray(rapidjson::SizeType) { return --depth, true; }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth == 1 && conflict.empty()) {
      const std::string_view key(s, n);
      if (auto sig = SignalOfField(key); sig && *sig != expected) conflict = std::string(key);
    }
    return true;
  }

  Signal expected;
  int depth = 0;
  std::string conflict;  // a top-level field of another signal, if any
};

// Checks one OTLP/JSON document: one JSON object, nothing but whitespace after it, no top-level
// field of another signal. `where` prefixes the messages ("bad JSON", "bad JSON line 3").
Status CheckJson(std::string_view key, std::string_view doc, Signal signal,
                 const std::string& where) {
  size_t first = 0;
  while (first < doc.size() && IsSpace(doc[first])) ++first;
  if (first == doc.size() || doc[first] != '{') {
    return Status::Invalid(Quote(key), ": ", where, ": not a JSON object");
  }
  rapidjson::MemoryStream ms(doc.data(), doc.size());
  rapidjson::Reader reader;
  TopLevelFields handler(signal);
  constexpr unsigned kFlags = rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseIterativeFlag |
                              rapidjson::kParseValidateEncodingFlag;
  const rapidjson::ParseResult ok = reader.Parse<kFlags>(ms, handler);
  if (!ok) {
    return Status::Invalid(Quote(key), ": ", where, ": ", rapidjson::GetParseError_En(ok.Code()),
                           " at byte ", ok.Offset());
  }
  size_t end = ms.Tell();
  while (end < doc.size() && IsSpace(doc[end])) ++end;
  if (end != doc.size()) {
    return Status::Invalid(Quote(key), ": ", where, ": trailing data at byte ", end,
                           doc[end] == '{' ? " (several documents: name the object .jsonl)" : "");
  }
  if (!handler.conflict.empty()) {
    return Status::Invalid(Quote(key), ": the name says ", SignalName(signal),
                           " but the document holds ", handler.conflict);
  }
  return Status::OK();
}

// Reads a protobuf varint at b[*pos]; false if truncated or longer than 10 bytes.
bool ReadVarint(std::string_view b, size_t* pos, uint64_t* v) {
  uint64_t out = 0;
  for (int shift = 0; shift < 70 && *pos < b.size(); shift += 7) {
    const auto byte = static_cast<unsigned char>(b[(*pos)++]);
    out |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = out;
      return true;
    }
  }
  return false;
}

Status CheckProtobuf(std::string_view key, std::string_view doc, Signal signal) {
  size_t pos = 0;
  uint64_t tag = 0, len = 0;
  if (!ReadVarint(doc, &pos, &tag)) {
    return Status::Invalid(Quote(key), ": truncated protobuf (first field tag)");
  }
  if (tag >> 3 != 1 || (tag & 7) != 2) {
    return Status::Invalid(Quote(key), ": not an OTLP ", SignalName(signal),
                           " protobuf request: first field is ", tag >> 3, " wire type ", tag & 7,
                           ", expected field 1 wire type 2");
  }
  if (!ReadVarint(doc, &pos, &len) || len > doc.size() - pos) {
    return Status::Invalid(Quote(key), ": truncated protobuf (field 1 of ", len,
                           " bytes does not fit in ", doc.size() - pos, ")");
  }
  return Status::OK();
}

// Undoes at most one compression (see the contract); `plain` is set to the bytes to parse, and
// points into either `bytes` or `*storage`.
Status Decompress(std::string_view key, const ObjectName& name, std::string_view bytes,
                  const ObjectDecodeOptions& options, std::string* storage,
                  std::string_view* plain, Compression* undone) {
  const Compression header = ContentEncodingCompression(options.content_encoding);
  auto expected = [&](Compression c) { return name.compression == c || header == c; };
  Compression use = Compression::kNone;
  if (HasGzipMagic(bytes) && expected(Compression::kGzip)) {
    use = Compression::kGzip;
  } else if (HasZstdMagic(bytes) && expected(Compression::kZstd)) {
    use = Compression::kZstd;
  } else if (name.compression != Compression::kNone && header != name.compression) {
    return Status::Invalid(Quote(key), ": corrupt ", CompressionName(name.compression),
                           ": the name ends in ", CompressionSuffix(name.compression),
                           " but the bytes do not start with its magic number");
  }
  *undone = use;
  if (use == Compression::kNone) {
    if (static_cast<int64_t>(bytes.size()) > options.max_decompressed_bytes) {
      return Status::CapacityError(Quote(key), ": ", bytes.size(), " bytes exceed the limit of ",
                                   options.max_decompressed_bytes, " bytes");
    }
    *plain = bytes;
    return Status::OK();
  }
  const Status st = server::Decompress(CompressionName(use), bytes,
                                       options.max_decompressed_bytes, storage);
  if (st.IsCapacityError()) {
    return Status::CapacityError(Quote(key), ": decompresses to more than ",
                                 options.max_decompressed_bytes,
                                 " bytes (the limit); refused as a possible compression bomb");
  }
  if (!st.ok()) {
    return Status::Invalid(Quote(key), ": corrupt ", CompressionName(use), ": ", st.message());
  }
  *plain = *storage;
  return Status::OK();
}

}  // namespace

Result<DecodedObject> DecodeObjectBytes(std::string_view key, const ObjectName& name,
                                        std::string_view bytes,
                                        const ObjectDecodeOptions& options) {
  DecodedObject out;
  out.name = name;
  std::string storage;
  std::string_view plain;
  OTLAKE_RETURN_NOT_OK(
      Decompress(key, name, bytes, options, &storage, &plain, &out.decompressed));
  auto body = [&](std::string_view part) {
    // The whole object: take the decompressed buffer instead of copying it.
    if (part.size() == plain.size() && !storage.empty() && plain.data() == storage.data()) {
      return std::move(storage);
    }
    return std::string(part);
  };
  switch (name.marshaler) {
    case Marshaler::kOtlpProto: {
      if (plain.empty()) return Status::Invalid(Quote(key), ": empty object");
      OTLAKE_RETURN_NOT_OK(CheckProtobuf(key, plain, name.signal));
      out.documents.push_back(Document{body(plain), kProtobufContentType, 0});
      break;
    }
    case Marshaler::kOtlpJson: {
      if (plain.empty()) return Status::Invalid(Quote(key), ": empty object");
      OTLAKE_RETURN_NOT_OK(CheckJson(key, plain, name.signal, "bad JSON"));
      out.documents.push_back(Document{body(plain), kJsonContentType, 0});
      break;
    }
    case Marshaler::kJsonLines: {
      int64_t line_no = 0;
      for (size_t pos = 0; pos < plain.size();) {
        size_t nl = plain.find('\n', pos);
        if (nl == std::string_view::npos) nl = plain.size();
        std::string_view line = plain.substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        size_t i = 0;
        while (i < line.size() && IsSpace(line[i])) ++i;
        if (i == line.size()) continue;
        OTLAKE_RETURN_NOT_OK(
            CheckJson(key, line, name.signal, "bad JSON line " + std::to_string(line_no)));
        out.documents.push_back(Document{std::string(line), kJsonContentType, line_no});
      }
      if (out.documents.empty()) {
        return Status::Invalid(Quote(key), ": empty object (no JSON lines)");
      }
      break;
    }
  }
  return out;
}

Result<DecodedObject> DecodeObject(std::string_view key, std::string_view bytes,
                                   const ObjectDecodeOptions& options) {
  OTLAKE_ASSIGN_OR_RAISE(ObjectName name, ParseObjectName(key, options.file_prefix));
  return DecodeObjectBytes(key, name, bytes, options);
}

}  // namespace otlake::archive
