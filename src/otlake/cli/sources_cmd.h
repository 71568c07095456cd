// `otlake sources ...`: the ingestion-sources commands, and what `otlake start` needs to run the
// connector (sources::Service, registered for the receiver's /v3/ hook). docs/sources.md.
#pragma once

#include "otlake/sources/api.h"
#include "otlake/sources/connector.h"
