// Rebuilding a Delta table's state from its _delta_log on any storage: the newest checkpoint
// (_last_checkpoint is a hint; the newest complete checkpoint file wins) plus every later commit,
// with no gaps. The writer (local files) and the query side (arrow::fs, later S3) share this.
// No Arrow in this header.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/lake/delta_log.h"

namespace otlake::lake {

/// Access to one table's `_delta_log` folder.
struct LogSource {
  std::string log_dir;  ///< for messages
  /// Names of the entries of the log folder.
  std::function<Result<std::vector<std::string>>()> list;
  /// Bytes of the file `name` in the log folder; sets *missing when it does not exist.
  std::function<Result<std::string>(const std::string& name, bool* missing)> read;
};

/// The table state at the newest version. With `base` (an earlier state of the same table), only
/// commits after base->version are read unless a newer checkpoint exists. Returns a state with
/// version -1 when the log holds no commit. Status::Invalid for a gap in the log or a
/// _last_checkpoint that names a missing checkpoint.
/// Safe against a writer working meanwhile: _last_checkpoint is read before the folder is listed
/// (a writer publishes a checkpoint before naming it there), and a listed file that is gone when
/// read (log clean-up after a newer checkpoint) starts the load over, up to four attempts.
Result<TableState> LoadTableState(const LogSource& src, const TableState* base = nullptr);

}  // namespace otlake::lake
