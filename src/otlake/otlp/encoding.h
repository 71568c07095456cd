// Byte encodings used by OTLP and by otlake's columns: lowercase hex (IDs) and base64 (bytes
// values, and IDs written by protobuf-JSON encoders that ignore the OTLP hex rule).
//
// Contract: encoders append to a caller's std::string (no allocation beyond its growth); decoders
// write into a caller's buffer and return false on any malformed input, writing nothing useful.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace otlake::otlp {

/// Appends `bytes` as lowercase hex.
void AppendHex(std::string* out, std::string_view bytes);

/// Decodes hex (either case) of even length into `out` (capacity `cap`); sets *len. False if `hex`
/// has odd length, a non-hex digit, or decodes to more than `cap` bytes.
bool DecodeHex(std::string_view hex, uint8_t* out, size_t cap, size_t* len);

/// Appends standard base64 (RFC 4648 §4 alphabet) with '=' padding.
void AppendBase64(std::string* out, std::string_view bytes);

/// Number of bytes `b64` would decode to, or -1 if its length cannot be base64 (e.g. 4n+1).
/// Trailing '=' padding is accounted for.
int64_t Base64DecodedSize(std::string_view b64);

/// Decodes base64 in the standard or URL-safe alphabet, padded or not, appending to `out`.
/// False on a character outside the alphabets, misplaced padding or an impossible length.
bool DecodeBase64(std::string_view b64, std::string* out);

/// Same, into a fixed buffer of capacity `cap` (false if the result does not fit).
bool DecodeBase64(std::string_view b64, uint8_t* out, size_t cap, size_t* len);

}  // namespace otlake::otlp
