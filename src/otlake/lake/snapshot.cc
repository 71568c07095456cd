#include "otlake/lake/snapshot.h"

#include <algorithm>

#include "otlake/lake/checkpoint.h"

namespace otlake::lake {

namespace {

// One attempt. Sets *vanished when a file the listing named was gone when read: a writer cleaned
// the log up meanwhile (after publishing a newer checkpoint), so a new listing finds that one.
Result<TableState> LoadOnce(const LogSource& src, const TableState* base, bool* vanished) {
  // _last_checkpoint is read before the folder is listed. A writer publishes a checkpoint before
  // it updates _last_checkpoint, so a listing made after reading it holds the checkpoint it
  // names. (Listed first, a checkpoint published between the listing and the read would look
  // missing: the cause of queries answering no rows during compaction.)
  bool missing = false;
  int64_t hinted = -1;
  auto hint = src.read("_last_checkpoint", &missing);
  if (hint.ok()) {
    auto v = ParseLastCheckpoint(*hint);
    if (v.ok()) hinted = *v;
  } else if (!missing) {
    return hint.status();
  }
  OTLAKE_ASSIGN_OR_RAISE(std::vector<std::string> names, src.list());
  std::vector<int64_t> commits;
  int64_t newest_checkpoint = -1;
  for (const std::string& n : names) {
    int64_t v;
    if (ParseCommitFileName(n, &v)) commits.push_back(v);
    if (ParseCheckpointFileName(n, &v)) newest_checkpoint = std::max(newest_checkpoint, v);
  }
  std::sort(commits.begin(), commits.end());
  // A checkpoint newer than _last_checkpoint can exist if the writer crashed between publishing
  // it and updating _last_checkpoint; it is complete (published by rename after fsync), so the
  // newest listed one wins.
  if (hinted > newest_checkpoint) {
    return Status::Invalid("_last_checkpoint in '", src.log_dir, "' names version ", hinted,
                           " but its checkpoint file is missing");
  }

  auto read = [&](const std::string& name) -> Result<std::string> {
    bool gone = false;
    auto bytes = src.read(name, &gone);
    if (!bytes.ok() && gone) *vanished = true;
    return bytes;
  };
  TableState state;
  if (base != nullptr && base->version >= newest_checkpoint) {
    state = *base;
  } else if (newest_checkpoint >= 0) {
    const std::string name = CheckpointFileName(newest_checkpoint);
    OTLAKE_ASSIGN_OR_RAISE(std::string bytes, read(name));
    OTLAKE_ASSIGN_OR_RAISE(state, ReadCheckpointBytes(std::move(bytes), src.log_dir + "/" + name,
                                                      newest_checkpoint));
  }
  for (int64_t v : commits) {
    if (v <= state.version) continue;
    if (v != state.version + 1) {
      return Status::Invalid("delta log '", src.log_dir, "' is missing version ", state.version + 1);
    }
    OTLAKE_ASSIGN_OR_RAISE(std::string body, read(CommitFileName(v)));
    OTLAKE_RETURN_NOT_OK(ApplyCommit(body, v, &state));
  }
  return state;
}

}  // namespace

Result<TableState> LoadTableState(const LogSource& src, const TableState* base) {
  // Log files are deleted only once a newer checkpoint covers them (seal), so each retry sees a
  // newer table; three cover a seal racing a read, and a fourth failure is reported as it is.
  for (int attempt = 1;; ++attempt) {
    bool vanished = false;
    auto state = LoadOnce(src, base, &vanished);
    if (state.ok() || !vanished || attempt == 4) return state;
  }
}

}  // namespace otlake::lake
