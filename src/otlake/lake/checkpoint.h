// Delta checkpoints: a TableState written as one Parquet file with the standard checkpoint schema
// (one action per row; each row has exactly one non-null top-level struct column), and read back.
//
// Columns (all nullable, as Spark writes them):
//   txn      struct<appId: string, version: long, lastUpdated: long>
//   add      struct<path: string, partitionValues: map<string,string>, size: long,
//                   modificationTime: long, dataChange: boolean, stats: string>
//   remove   struct<path: string, deletionTimestamp: long, dataChange: boolean>
//   metaData struct<id, name, description: string, format: struct<provider: string,
//                   options: map<string,string>>, schemaString: string,
//                   partitionColumns: list<string>, configuration: map<string,string>,
//                   createdTime: long>
//   protocol struct<minReaderVersion: int, minWriterVersion: int>
// Row order: protocol, metaData, txn..., add..., remove....
// WriteCheckpoint writes to `path` (must not exist) and fsyncs it; publishing it under its final
// name and updating _last_checkpoint is the caller's job. No Arrow in this header.
#pragma once

#include <cstdint>
#include <string>

#include "otlake/common/status.h"
#include "otlake/lake/delta_log.h"

namespace otlake::lake {

/// Writes `state` as a checkpoint Parquet file at `path`; returns the number of actions (rows).
Result<int64_t> WriteCheckpoint(const TableState& state, const std::string& path);

/// Reads a checkpoint file into a TableState with `version` set to `version`.
Result<TableState> ReadCheckpoint(const std::string& path, int64_t version);
/// The same from the checkpoint's bytes (read from any filesystem); `name` is for messages.
Result<TableState> ReadCheckpointBytes(std::string bytes, const std::string& name,
                                       int64_t version);

}  // namespace otlake::lake
