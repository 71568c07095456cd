// OTLP/JSON -> OTLP protobuf transcoding, driven by a table of the OTLP messages' field numbers.
//
// Contract: the output is the protobuf encoding of the request the JSON denotes, read with exactly
// the rules DecodeJson uses (json_fields.h: camelCase or snake_case names, null = absent, the last
// of duplicate keys wins, 64-bit integers as numbers or strings, enum names, hex or base64 IDs,
// legacy instrumentationLibrary* aliases). Unknown fields are dropped. Any JSON DecodeJson
// accepts converts, and DecodeProtobuf of the result yields the same rows -- which is what the
// tests and the differential fuzzer check. Errors: Status::Invalid (malformed JSON, wrong types,
// an ID that is neither hex nor base64, nesting deeper than 256 messages).
//
// Uses: tests, corpus generation, the benchmark load generator, and replaying otlp_json archives
// through a protobuf-only path.
#pragma once

#include <string>
#include <string_view>

#include "otlake/common/status.h"
#include "otlake/otlp/decode.h"

namespace otlake::otlp {

/// Converts an OTLP/JSON Export{Trace,Logs,Metrics}ServiceRequest to protobuf wire format.
Result<std::string> OtlpJsonToProtobuf(Signal signal, std::string_view json);

/// The inverse: a protobuf Export{Trace,Logs,Metrics}ServiceRequest as OTLP/JSON in the
/// OTLP/HTTP encoding pdata's JSON marshaler writes (camelCase names, lowercase hex IDs, enums
/// as integers, 64-bit integers as decimal strings, bytes as base64, non-finite doubles as
/// "NaN"/"Infinity"). Every field present on the wire is written (repeated fields in wire order,
/// several top-level messages concatenated on the wire become one array); unknown fields are
/// dropped. OtlpJsonToProtobuf of the result decodes to the same rows. Invalid for malformed
/// protobuf or a field of the wrong wire type. Used by the archive writer (otlp_json objects).
Result<std::string> OtlpProtobufToJson(Signal signal, std::string_view proto);

}  // namespace otlake::otlp
