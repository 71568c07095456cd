#!/usr/bin/env bash
# Installs what otlake needs to build and test: Debian packages (apt) and the project
# virtualenv (.venv) with the pinned versions in requirements.txt. Safe to re-run: each step is
# skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(build-essential cmake ninja-build pkg-config python3 python3-venv
  libboost-dev rapidjson-dev zlib1g-dev libzstd-dev libnghttp2-dev libsqlite3-dev libgtest-dev
  clang-14 libclang-rt-14-dev curl procps tzdata openssl libssl-dev)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

# The web UI (ui/) is built with Node.js >= 18 and npm (Debian 12's nodejs is 18); its browser
# tests drive Debian's chromium (never a downloaded browser).
node_ok() { command -v node >/dev/null && command -v npm >/dev/null &&
  node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' 2>/dev/null; }
ui_missing=()
node_ok || ui_missing+=(nodejs npm)
[ -x /usr/bin/chromium ] || ui_missing+=(chromium)
if ((${#ui_missing[@]})); then
  echo "install-deps: installing Debian packages for the web UI: ${ui_missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${ui_missing[@]}"
fi

PY=${PYTHON:-python3}
stamp=.venv/.requirements.sha
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install-deps: creating .venv with pinned requirements"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi

# Emulators for the gcs and azure ingestion-source tests (test/integration/test_sources_providers.py),
# into .tools/: fake-gcs-server from the Go module proxy, azurite from npm.
FAKE_GCS_VERSION=v1.56.1
AZURITE_VERSION=3.37.0
mkdir -p .tools
if [ "$(cat .tools/fake-gcs-server.version 2>/dev/null)" != "$FAKE_GCS_VERSION" ] || [ ! -x .tools/bin/fake-gcs-server ]; then
  GO=$(command -v go || echo /usr/local/go/bin/go)
  echo "install-deps: building fake-gcs-server $FAKE_GCS_VERSION with $GO"
  GOBIN="$PWD/.tools/bin" "$GO" install "github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION"
  echo "$FAKE_GCS_VERSION" > .tools/fake-gcs-server.version
fi
if [ "$(cat .tools/azurite.version 2>/dev/null)" != "$AZURITE_VERSION" ] || [ ! -x .tools/azurite/node_modules/.bin/azurite-blob ]; then
  echo "install-deps: installing azurite $AZURITE_VERSION"
  npm install --prefix .tools/azurite --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION"
  echo "$AZURITE_VERSION" > .tools/azurite.version
fi

# Spark with Delta, for the slow reader tests (test_attrs_maps.py, test_querying_doc.py with
# OTLAKE_SLOW=1): only with --spark (pyspark is ~300 MB). The recipe of toolchain.md: Debian's
# OpenJDK 17 and maven, pyspark 4.0.1 from PyPI, the delta-spark 4.0.0 jars from Maven Central into
# ~/.m2 (Spark's own --packages resolution does not work here).
if [[ " $* " == *" --spark "* ]]; then
  spark_missing=()
  for p in openjdk-17-jre-headless maven; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || spark_missing+=("$p")
  done
  if ((${#spark_missing[@]})); then
    echo "install-deps: installing Debian packages for Spark: ${spark_missing[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${spark_missing[@]}"
  fi
  .venv/bin/python -c 'import pyspark' 2>/dev/null ||
    .venv/bin/pip install -q --disable-pip-version-check pyspark==4.0.1
  for a in delta-spark_2.13 delta-storage; do
    [ -f ~/.m2/repository/io/delta/$a/4.0.0/$a-4.0.0.jar ] ||
      mvn -q dependency:get -Dartifact=io.delta:$a:4.0.0
  done
fi

# OTLP/gRPC clients for test/integration/test_grpc_clients.py, built from the Go module proxy into
# .tools/bin: telemetrygen (~2 min, 120 CPU-s, from empty Go caches); with --collector also a
# Collector (otlp receiver, batch processor, otlp_grpc exporter) built by the Collector's builder
# from test/integration/collector/manifest.yaml (~4.5 min, 250 CPU-s more, so its tests are slow
# ones: OTLAKE_SLOW=1). Rebuilt when a version or the manifest changes.
TELEMETRYGEN_VERSION=v0.161.0
OCB_VERSION=v0.165.0
GO=$(command -v go || echo /usr/local/go/bin/go)
if [ "$(cat .tools/telemetrygen.version 2>/dev/null)" != "$TELEMETRYGEN_VERSION" ] || [ ! -x .tools/bin/telemetrygen ]; then
  echo "install-deps: building telemetrygen $TELEMETRYGEN_VERSION with $GO"
  GOBIN="$PWD/.tools/bin" "$GO" install \
    "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$TELEMETRYGEN_VERSION"
  echo "$TELEMETRYGEN_VERSION" > .tools/telemetrygen.version
fi
if [[ " $* " == *" --collector "* ]]; then
  want="$OCB_VERSION $(sha256sum test/integration/collector/manifest.yaml | cut -d' ' -f1)"
  if [ "$(cat .tools/otelcol-otlake.version 2>/dev/null)" != "$want" ] || [ ! -x .tools/bin/otelcol-otlake ]; then
    echo "install-deps: building the Collector's builder $OCB_VERSION and otelcol-otlake with $GO"
    GOBIN="$PWD/.tools/bin" "$GO" install "go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION"
    .tools/bin/builder --config test/integration/collector/manifest.yaml
    mv .tools/otelcol-build/otelcol-otlake .tools/bin/otelcol-otlake
    echo "$want" > .tools/otelcol-otlake.version
  fi
fi
