// The Delta Lake transaction log as otlake writes and reads it: action values, their JSON
// encoding (one action per line of a `_delta_log/%020d.json` commit), the table schema as a
// Delta `schemaString`, and replay of commits into a TableState. docs/delta.md is the prose
// version of this file; the two change together.
//
// Reading accepts what the Delta protocol allows for the actions we use (add, remove, txn,
// metaData, protocol, commitInfo) and ignores unknown actions and fields, so a table touched by
// another Delta writer still opens. No Arrow dependency (JSON via header-only RapidJSON, which
// cannot clash with Arrow's copy: toolchain.md pitfall 5).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "otlake/common/status.h"
#include "otlake/table/schema.h"

namespace otlake::lake {

/// The `add` action: a data file that is part of the table.
struct AddFile {
  std::string path;  ///< relative to the table root, URI-encoded as the protocol says
  std::map<std::string, std::string> partition_values;
  int64_t size = 0;
  int64_t modification_time = 0;  ///< ms since epoch
  bool data_change = true;
  std::string stats;  ///< JSON string (numRecords, minValues, maxValues, nullCount); may be empty
};

/// The `remove` action: a tombstone for a file that left the table.
struct RemoveFile {
  std::string path;
  int64_t deletion_timestamp = 0;
  bool data_change = true;
};

/// The `txn` action: the latest version an application committed (idempotent writes).
struct Txn {
  std::string app_id;
  int64_t version = -1;
  std::optional<int64_t> last_updated;
};

/// The `metaData` action.
struct Metadata {
  std::string id;
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::string format_provider = "parquet";
  std::map<std::string, std::string> format_options;
  std::string schema_string;
  std::vector<std::string> partition_columns;
  std::map<std::string, std::string> configuration;
  std::optional<int64_t> created_time;
};

/// The `protocol` action.
struct Protocol {
  int32_t min_reader_version = 1;
  int32_t min_writer_version = 2;
};

/// A table snapshot: the result of replaying the log up to `version`.
struct TableState {
  int64_t version = -1;  ///< -1: no commit seen yet
  bool has_protocol = false;
  Protocol protocol;
  bool has_metadata = false;
  Metadata metadata;
  std::map<std::string, AddFile> adds;        ///< live files by path
  std::map<std::string, RemoveFile> removes;  ///< tombstones by path
  std::map<std::string, Txn> txns;            ///< by appId
};

/// The Delta schemaString for table `id`: every column with its Delta type and nullability.
std::string SchemaString(table::TableId id);

/// True if `schema_string` (a table's metaData.schemaString) is one of otlake's schema_version 1
/// tables, whose attributes were *_attrs_json text columns (docs/attributes.md).
bool IsSchemaVersion1(std::string_view schema_string);

/// The file name of commit `version`: "%020d.json".
std::string CommitFileName(int64_t version);
/// The file name of the single-part checkpoint at `version`: "%020d.checkpoint.parquet".
std::string CheckpointFileName(int64_t version);

/// Parses "%020d.json" (commit) or "%020d.checkpoint.parquet"; false for any other name.
bool ParseCommitFileName(std::string_view name, int64_t* version);
bool ParseCheckpointFileName(std::string_view name, int64_t* version);

/// One JSON line per action (no trailing newline).
std::string EncodeProtocol(const Protocol& p);
std::string EncodeMetadata(const Metadata& m);
std::string EncodeAdd(const AddFile& a);
std::string EncodeRemove(const RemoveFile& r);
std::string EncodeTxn(const Txn& t);
/// commitInfo: `operation` e.g. "WRITE"; `parameters` are string-valued as Spark writes them.
std::string EncodeCommitInfo(int64_t timestamp_ms, std::string_view operation,
                             const std::map<std::string, std::string>& parameters,
                             bool is_blind_append);

/// Applies every action of one commit file (newline-delimited JSON) to `state` and sets
/// `state->version = version`. Status::Invalid names the line that does not parse.
Status ApplyCommit(std::string_view commit_json, int64_t version, TableState* state);

/// Applies one action to `state` (shared by JSON replay and checkpoint loading).
void ApplyAdd(AddFile a, TableState* state);
void ApplyRemove(RemoveFile r, TableState* state);

/// Encodes `_last_checkpoint`: {"version":V,"size":N}.
std::string EncodeLastCheckpoint(int64_t version, int64_t size);
/// Parses `_last_checkpoint`; returns its version.
Result<int64_t> ParseLastCheckpoint(std::string_view json);

}  // namespace otlake::lake
