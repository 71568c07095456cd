// Error paths for the decoders: a failing leaf records what went wrong, each enclosing level adds
// its field name (and index) while the error propagates, and the top level turns that into one
// Status::Invalid such as "resourceSpans[0].scopeSpans[0].spans[3].name: expected string".
// Costs nothing until an error happens.
//
// Not a public API: only decode*.cc include this.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "otlake/common/status.h"

namespace otlake::otlp::internal {

class ErrorPath {
 public:
  /// Records a failure; returns the Status to propagate.
  Status Fail(std::string what) {
    what_ = std::move(what);
    segments_.clear();
    return Status::Invalid("otlp decode error");  // replaced by Finish()
  }
  /// Records a failure of field `field` (a leaf).
  Status Fail(std::string_view field, std::string what) {
    Status st = Fail(std::move(what));
    Push(field);
    return st;
  }
  /// Adds an enclosing field (with its repeated index, or -1) to the failure being propagated.
  void Push(std::string_view field, int64_t index = -1) {
    std::string seg(field);
    if (index >= 0) {
      seg += '[';
      seg += std::to_string(index);
      seg += ']';
    }
    segments_.push_back(std::move(seg));
  }
  /// The final error: the path outermost first, then the failure.
  Status Finish() const {
    std::string msg;
    for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
      if (!msg.empty()) msg += '.';
      msg += *it;
    }
    if (!msg.empty()) msg += ": ";
    msg += what_;
    return Status::Invalid(msg);
  }

 private:
  std::string what_;
  std::vector<std::string> segments_;  // innermost first
};

}  // namespace otlake::otlp::internal

/// Evaluates `expr` (a Status); on failure adds `field`[index] to the error path and returns it.
#define OTLP_RETURN_AT(path, expr, ...)    \
  do {                                     \
    ::otlake::Status _st = (expr);         \
    if (!_st.ok()) {                       \
      (path).Push(__VA_ARGS__);            \
      return _st;                          \
    }                                      \
  } while (0)

#define OTLP_RETURN_NOT_OK(expr)   \
  do {                             \
    ::otlake::Status _st = (expr); \
    if (!_st.ok()) return _st;     \
  } while (0)
