// The accepted part of a partially rejected OTLP request, so the archive never carries a record
// the lake rejected (docs/archive.md, "What is archived").
//
// Contract: AcceptedRecordsOnly returns the protobuf Export*ServiceRequest holding exactly the
// records (spans with their events and links, log records, metric data points) that
// otlp::DecodeProtobuf / DecodeJson accept, each under its own resource, scope and metric (their
// fields copied byte for byte), in the original order; resources, scopes and metrics left with
// no record are dropped (a metric that had no data point at all is kept as it was). Rejection
// is decided by the decoder itself, one record at a time (a request made of that record alone
// under its resource, scope and metric), so the rules cannot drift apart. A record's rejection
// depends only on the record (decode.h), so decoding the result yields the rows of the original
// request. Cost: one small decode per record -- used only for requests that had a rejection.
// Invalid for a body the decoder refuses as a whole. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "otlake/common/status.h"
#include "otlake/otlp/decode.h"

namespace otlake::archive {

/// `body` is protobuf (json = false) or OTLP/JSON (json = true); the result is protobuf.
Result<std::string> AcceptedRecordsOnly(otlp::Signal signal, std::string_view body, bool json,
                                        int max_nesting_depth = 64);

}  // namespace otlake::archive
