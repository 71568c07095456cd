// Status and Result: otlake's error values are Arrow's, so Arrow calls need no conversion.
//
// Our code does not throw. Functions that can fail return Status or Result<T>; callers propagate
// with OTLAKE_RETURN_NOT_OK / OTLAKE_ASSIGN_OR_RAISE (the Arrow macros under otlake names).
// Error classes used across modules:
//   Status::Invalid        permanent, bad input          -> HTTP 400
//   Status::CapacityError  too large                     -> HTTP 413
//   Status::NotImplemented unsupported media type        -> HTTP 415
//   Status::IOError        storage failing (retryable)   -> HTTP 503
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

namespace otlake {

using Status = arrow::Status;
template <typename T>
using Result = arrow::Result<T>;

}  // namespace otlake

#define OTLAKE_RETURN_NOT_OK(expr) ARROW_RETURN_NOT_OK(expr)
#define OTLAKE_ASSIGN_OR_RAISE(lhs, rexpr) ARROW_ASSIGN_OR_RAISE(lhs, rexpr)
