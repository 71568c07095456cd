// The arrow::fs filesystem of a source's provider: S3 (AWS or S3-compatible via endpoint_url,
// static keys, the default chain, or STS AssumeRole with role_arn + external_id), GCS
// (arrow::fs::GcsFileSystem) and Azure Blob Storage (arrow::fs::AzureFileSystem). Paths on each
// are "<bucket or container>/<key>". docs/sources.md "Providers" is the contract for how a
// source's fields map to each provider's credentials. Only provider_fs.cc includes the Arrow
// filesystem headers.
#pragma once

#include <memory>

#include "otlake/common/status.h"
#include "otlake/sources/source.h"

namespace arrow::fs {
class FileSystem;
}

namespace otlake::sources {

/// Makes the filesystem for `s` (already validated). Fails only for settings Arrow rejects;
/// wrong credentials or an unreachable endpoint show up on first use.
Result<std::shared_ptr<arrow::fs::FileSystem>> MakeSourceFileSystem(const Source& s);

/// The Azure storage account of an azure source: access_key_id, else the first label of an
/// endpoint_url host "<account>.blob.core.windows.net"; "" if neither names one.
std::string AzureAccountName(const Source& s);

}  // namespace otlake::sources
