# otlake's front door (DuckDB-style). Every target installs what it needs first (Debian packages
# and the pinned virtualenv, tools/install-deps.sh), so on a fresh Debian 12 machine:
#   make run    build build/release/otlake and start it in the foreground on ./otlake_data, :4318
#   make test   build and run every test (unit, fuzz corpora, fuzz smoke, integration)
.PHONY: all release debug fuzz test unit integration fuzz-smoke bench run deps clean

JOBS ?= $(shell nproc)
PYTEST_ARGS ?=

all: release

deps:
	@tools/install-deps.sh

build/%/build.ninja: CMakeLists.txt CMakePresets.json | deps
	cmake --preset $* >/dev/null

release: deps build/release/build.ninja
	cmake --build --preset release -j $(JOBS)

debug: deps build/debug/build.ninja
	cmake --build --preset debug -j $(JOBS)

fuzz: deps build/fuzz/build.ninja
	cmake --build --preset fuzz -j $(JOBS)

unit: release
	ctest --test-dir build/release --output-on-failure -j $(JOBS)

# Each libFuzzer target runs briefly over its checked-in corpus (longer runs: FUZZ_SECONDS=600).
FUZZ_SECONDS ?= 20
fuzz-smoke: fuzz
	ctest --test-dir build/fuzz --output-on-failure -L fuzz-smoke

integration: release
	.venv/bin/python -m pytest -q test/integration $(PYTEST_ARGS)

test: release
	tools/run-tests.sh

# Benchmarks (not tests): decode throughput, then end-to-end ingest against the real binary.
bench: release
	build/release/decode_bench
	.venv/bin/python bench/ingest_bench.py

run: release
	@[ -d otlake_data/default ] || build/release/otlake init
	build/release/otlake start -F

clean:
	rm -rf build
