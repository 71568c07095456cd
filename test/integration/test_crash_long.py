"""The long kill -9 loop (issue 4: >= 200 cycles), behind the `slow` label: CI runs the short loop
of test_crash.py (20 cycles); this one runs only with OTLAKE_SLOW=1 (or -m slow):

  OTLAKE_SLOW=1 .venv/bin/python -m pytest -q -s test/integration/test_crash_long.py

OTLAKE_CRASH_LONG_CYCLES sets its length (default 200). Same checks as the short loop, after every
cycle: every acknowledged span and event in the tables exactly once, no span twice, every table
readable by deltalake, polars and DuckDB."""
import os

import pytest

import test_crash


@pytest.mark.slow
def test_kill9_loop_long(tmp_path, monkeypatch):
    monkeypatch.setattr(test_crash, "CYCLES", int(os.environ.get("OTLAKE_CRASH_LONG_CYCLES", "200")))
    test_crash.test_kill9_loop_loses_nothing_acknowledged(tmp_path)
