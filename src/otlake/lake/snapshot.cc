#include "otlake/lake/snapshot.h"

#include <algorithm>

#include "otlake/lake/checkpoint.h"

namespace otlake::lake {

Result<TableState> LoadTableState(const LogSource& src, const TableState* base) {
  OTLAKE_ASSIGN_OR_RAISE(std::vector<std::string> names, src.list());
  std::vector<int64_t> commits;
  int64_t newest_checkpoint = -1;
  for (const std::string& n : names) {
    int64_t v;
    if (ParseCommitFileName(n, &v)) commits.push_back(v);
    if (ParseCheckpointFileName(n, &v)) newest_checkpoint = std::max(newest_checkpoint, v);
  }
  std::sort(commits.begin(), commits.end());

  // _last_checkpoint names the checkpoint readers start from. A newer checkpoint file can exist
  // if the writer crashed between publishing it and updating _last_checkpoint; it is complete
  // (published by rename after fsync), so the newest listed one wins.
  bool missing = false;
  auto hint = src.read("_last_checkpoint", &missing);
  if (hint.ok()) {
    auto v = ParseLastCheckpoint(*hint);
    if (v.ok() && *v > newest_checkpoint) {
      return Status::Invalid("_last_checkpoint in '", src.log_dir, "' names version ", *v,
                             " but its checkpoint file is missing");
    }
  } else if (!missing) {
    return hint.status();
  }

  TableState state;
  if (base != nullptr && base->version >= newest_checkpoint) {
    state = *base;
  } else if (newest_checkpoint >= 0) {
    const std::string name = CheckpointFileName(newest_checkpoint);
    OTLAKE_ASSIGN_OR_RAISE(std::string bytes, src.read(name, nullptr));
    OTLAKE_ASSIGN_OR_RAISE(state, ReadCheckpointBytes(std::move(bytes), src.log_dir + "/" + name,
                                                      newest_checkpoint));
  }
  for (int64_t v : commits) {
    if (v <= state.version) continue;
    if (v != state.version + 1) {
      return Status::Invalid("delta log '", src.log_dir, "' is missing version ", state.version + 1);
    }
    OTLAKE_ASSIGN_OR_RAISE(std::string body, src.read(CommitFileName(v), nullptr));
    OTLAKE_RETURN_NOT_OK(ApplyCommit(body, v, &state));
  }
  return state;
}

}  // namespace otlake::lake
