// OTLP/JSON field-name matching shared by the JSON decoder and the JSON->protobuf transcoder.
//
// OTLP/JSON uses lowerCamelCase names; protobuf's JSON mapping also accepts the original
// snake_case names. KeyIs() compares a received key with the canonical camel name, accepting
// either spelling, without allocating.
//
// Not a public API.
#pragma once

#include <string_view>

namespace otlake::otlp::internal {

/// True if `key` is `camel` or its snake_case form (traceId / trace_id).
inline bool KeyIs(std::string_view key, std::string_view camel) {
  if (key.size() == camel.size()) return key == camel;
  if (key.size() < camel.size()) return false;
  size_t i = 0;
  for (char c : camel) {
    if (c >= 'A' && c <= 'Z') {
      if (i + 2 > key.size() || key[i] != '_' || key[i + 1] != static_cast<char>(c + 32)) {
        return false;
      }
      i += 2;
    } else {
      if (i >= key.size() || key[i] != c) return false;
      ++i;
    }
  }
  return i == key.size();
}

}  // namespace otlake::otlp::internal
