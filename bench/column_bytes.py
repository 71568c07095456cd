#!/usr/bin/env python3
"""Where a Delta table's bytes go: compressed bytes per Parquet leaf column (summed over every live
data file's row groups, from the footers), per row, largest first, plus the Delta log.

Usage: .venv/bin/python bench/column_bytes.py TABLE_DIR [TABLE_DIR ...] [--top N]
"""
import os
import sys
from collections import defaultdict

import pyarrow.parquet as pq
from deltalake import DeltaTable


def main(argv):
    top = 40
    dirs = []
    i = 0
    while i < len(argv):
        if argv[i] == "--top":
            top = int(argv[i + 1])
            i += 2
        else:
            dirs.append(argv[i])
            i += 1
    for d in dirs:
        dt = DeltaTable(d)
        per_col = defaultdict(int)
        rows = data = 0
        for f in dt.file_uris():
            path = f.removeprefix("file://")
            md = pq.ParquetFile(path).metadata
            rows += md.num_rows
            data += os.path.getsize(path)
            for g in range(md.num_row_groups):
                rg = md.row_group(g)
                for c in range(rg.num_columns):
                    cc = rg.column(c)
                    per_col[cc.path_in_schema] += cc.total_compressed_size
        log = sum(os.path.getsize(os.path.join(d, "_delta_log", n)) for n in os.listdir(os.path.join(d, "_delta_log")))
        cols = sum(per_col.values())
        print(f"{d}: {rows} rows, {len(dt.file_uris())} files, data {data / max(rows, 1):.2f} B/row "
              f"(column chunks {cols / max(rows, 1):.2f}, footers/indexes/blooms {(data - cols) / max(rows, 1):.2f}), "
              f"log {log / max(rows, 1):.2f} B/row")
        for name, n in sorted(per_col.items(), key=lambda kv: -kv[1])[:top]:
            print(f"  {n / max(rows, 1):8.2f} B/row  {100.0 * n / max(cols, 1):5.1f}%  {name}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
