// libFuzzer target: arbitrary bytes as an OTLP/JSON request of each signal. Besides the common
// invariants (fuzz_checks.h) it checks the JSON and protobuf paths against each other: whatever
// DecodeJson accepts, OtlpJsonToProtobuf converts and DecodeProtobuf turns into the same rows.
// And DecodeJson's one-pass parser against RapidJSON's (DecodeJsonRapidJson, the same walker):
// the same status, message included, and the same rows.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_checks.h"
#include "otlake/otlp/decode.h"
#include "otlake/otlp/json_fields.h"
#include "otlake/otlp/json_to_proto.h"

namespace {

using namespace otlake;

void CheckSameRows(const otlp::DecodeResult& a, const otlp::DecodeResult& b,
                   const std::string& what = "JSON and protobuf") {
  if (a.accepted != b.accepted || a.rejected != b.rejected || a.reasons != b.reasons) {
    fuzz::Die(what + " counts differ");
  }
  for (table::TableId t : table::kAllTables) {
    const table::RowBatch* x = a.batches.Find(t);
    const table::RowBatch* y = b.batches.Find(t);
    const int64_t nx = x ? x->num_rows() : 0, ny = y ? y->num_rows() : 0;
    if (nx != ny) fuzz::Die(what + " row counts differ");
    if (nx == 0) continue;
    for (int c = 0; c < x->num_columns(); ++c) {
      const table::Column& cx = x->column(c);
      const table::Column& cy = y->column(c);
      bool same = cx.ints == cy.ints && cx.bools == cy.bools && cx.offsets == cy.offsets &&
                  cx.chars == cy.chars && cx.codes == cy.codes && cx.valid == cy.valid &&
                  cx.key_offsets == cy.key_offsets && cx.val_offsets == cy.val_offsets &&
                  cx.key_chars == cy.key_chars && cx.val_chars == cy.val_chars &&
                  cx.val_valid == cy.val_valid && cx.doubles.size() == cy.doubles.size();
      for (size_t i = 0; same && i < cx.doubles.size(); ++i) {
        same = std::memcmp(&cx.doubles[i], &cy.doubles[i], sizeof(double)) == 0 ||
               (cx.doubles[i] != cx.doubles[i] && cy.doubles[i] != cy.doubles[i]);
      }
      if (!same) {
        fuzz::Die(what + " differ in " + std::string(table::TableName(t)) +
                  "." + table::Columns(t)[c].name);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  otlp::DecodeOptions options;
  options.now_unix_nano = 1700000000000000000;
  for (otlp::Signal s : {otlp::Signal::kTraces, otlp::Signal::kLogs, otlp::Signal::kMetrics}) {
    otlp::DecodeResult r;
    Status st = otlp::DecodeJson(s, body, options, &r);
    fuzz::CheckResult(st, r);
    otlp::DecodeResult rj;
    Status rst = otlp::internal::DecodeJsonRapidJson(s, body, options, &rj);
    if (st.ok() != rst.ok() || st.message() != rst.message()) {
      fuzz::Die("fast and RapidJSON parses differ: " + st.ToString() + " vs " + rst.ToString());
    }
    if (st.ok()) CheckSameRows(r, rj, "fast and RapidJSON parses");
    if (!st.ok()) continue;
    auto proto = otlp::OtlpJsonToProtobuf(s, body);
    if (!proto.ok()) {
      // Only an ID that is neither hex nor base64 has no protobuf spelling; DecodeJson rejects
      // the record holding it (perhaps for another reason found first) instead of failing.
      const bool bad_id =
          proto.status().message().find("neither hex nor base64") != std::string::npos;
      if (!bad_id || r.rejected == 0) {
        fuzz::Die("DecodeJson accepted what the transcoder refused: " + proto.status().ToString());
      }
      continue;
    }
    otlp::DecodeResult p;
    Status pst = otlp::DecodeProtobuf(s, *proto, options, &p);
    if (!pst.ok()) fuzz::Die("transcoded request does not decode: " + pst.ToString());
    CheckSameRows(r, p);
  }
  return 0;
}
