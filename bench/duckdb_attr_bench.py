#!/usr/bin/env python3
"""An attribute aggregation that reads one key of every row, through DuckDB's delta_scan (the
issue 21 target: GROUP BY span_attrs['http.route'] over a 10M-span day in <= 3 s), and the same
needle as query_bench's attribute filter. Prints wall and process CPU per query (best of --runs).

  .venv/bin/python bench/duckdb_attr_bench.py TABLE_DIR [--runs 3] [--threads 2]
"""
import glob
import os
import resource
import sys
import time

import duckdb
import duckdb_extension_delta

QUERIES = {
    "GROUP BY span_attrs['http.route']":
        "SELECT span_attrs['http.route'] AS route, count(*) FROM delta_scan('{t}') GROUP BY 1 ORDER BY 2 DESC",
    "needle span_attrs['app.user.id'] = 'user-4242'":
        "SELECT count(*) FROM delta_scan('{t}') WHERE span_attrs['app.user.id'] = 'user-4242'",
    "CAST(span_attrs['app.cart.items'] AS INT) >= 12":
        "SELECT count(*) FROM delta_scan('{t}') WHERE CAST(span_attrs['app.cart.items'] AS INT) >= 12",
}


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv):
    table = argv[0]
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 3
    threads = int(argv[argv.index("--threads") + 1]) if "--threads" in argv else 2
    con = duckdb.connect()
    ext = glob.glob(os.path.join(os.path.dirname(duckdb_extension_delta.__file__), "**", "*.duckdb_extension"),
                    recursive=True)[0]
    con.execute(f"LOAD '{ext}'")
    con.execute(f"SET threads = {threads}")
    rows = con.execute(f"SELECT count(*) FROM delta_scan('{table}')").fetchone()[0]
    print(f"{table}: {rows} rows, DuckDB {duckdb.__version__}, {threads} threads")
    for name, sql in QUERIES.items():
        best = None
        for _ in range(runs):
            c0, w0 = cpu(), time.time()
            out = con.execute(sql.format(t=table)).fetchall()
            w, c = time.time() - w0, cpu() - c0
            best = (w, c) if best is None or w < best[0] else best
        print(f"  {name}: {best[0]:.2f} s wall, {best[1]:.2f} s CPU; {len(out)} result rows, first {out[0]}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
