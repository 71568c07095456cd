#!/usr/bin/env python3
"""Peak memory under overload: the server's VmHWM against --max-buffered-bytes (issue 21's
"peak RSS <= 1.5x the budget under 10x overload").

Runs bench/ingest_bench.py --overload (native load_client, 64 connections, 512-span protobuf
requests, every acknowledged span checked stored once) once per configuration, alternating the
configurations round after round, and prints each run's VmHWM (read just before the stop, so the
final flush is not in it), its ratio to the budget, the answers and the stored check. A
configuration is extra server flags and/or environment variables, e.g. glibc's arena limit:

  .venv/bin/python bench/memory_bench.py [--budget 268435456] [--rate 10000] [--duration 60]
      [--rounds 1] [--bin build/release/otlake] [--config 'name|FLAG ...|VAR=value ...|binary'] ...

Without --config it runs "default" (no extra flags). Not a test: it prints numbers
(bench/README.md); test/integration/test_memory_budget.py holds the bound as a test.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def parse_config(text):
    parts = text.split("|") + ["", "", ""]
    name, flags, env, binary = parts[:4]
    return name, flags.split(), dict(kv.split("=", 1) for kv in env.split()), binary


def cfg_bin(cfg, args):
    return cfg[3] if len(cfg) > 3 and cfg[3] else args.bin


def run(cfg, args):
    name, flags, env = cfg[:3]
    server_args = " ".join([f"--max-buffered-bytes={args.budget}"] + flags)
    cmd = [sys.executable, os.path.join(ROOT, "bench", "ingest_bench.py"), "--overload", "--rate",
           str(args.rate), "--duration", str(args.duration), f"--server-args={server_args}"]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    if cfg_bin(cfg, args):
        cmd += ["--bin", cfg_bin(cfg, args)]
    out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    text = out.stdout + out.stderr
    hwm = re.search(r"peak RSS \(VmHWM\) (\d+) MiB", text)
    statuses = re.search(r"statuses (\{[^}]*\})", text)
    stored = re.search(r"stored check: (.*)", text)
    mem = re.search(r"/healthz memory (\{[^}]*\})", text)
    if not hwm:
        print(text)
        sys.exit(f"{name}: no VmHWM in the output (exit {out.returncode})")
    mib = int(hwm.group(1))
    print(f"{name:<16} VmHWM {mib:5d} MiB = {mib * 2**20 / args.budget:4.2f}x budget; "
          f"answers {statuses.group(1) if statuses else '?'}; {stored.group(1) if stored else '?'}; "
          f"exit {out.returncode}", flush=True)
    if args.verbose:
        print(f"  /healthz memory {mem.group(1) if mem else '?'}")
    return mib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=256 << 20)
    ap.add_argument("--rate", type=float, default=10000)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--bin", default=None, help="otlake binary (default: ingest_bench.py's, build/release)")
    ap.add_argument("--config", action="append", default=[],
                    help="'name|server flags|ENV=value ...|binary' (repeatable; later parts optional)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    configs = [parse_config(c) for c in args.config] or [("default", [], {}, "")]
    la = os.getloadavg()
    print(f"budget {args.budget / 2**20:.0f} MiB, overload at {args.rate:.0f} req/s for "
          f"{args.duration:.0f} s; load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
    results = {c[0]: [] for c in configs}
    for _ in range(args.rounds):
        for c in configs:
            results[c[0]].append(run(c, args))
    for name, v in results.items():
        print(f"{name:<16} VmHWM {min(v)}-{max(v)} MiB ({min(v) * 2**20 / args.budget:.2f}-"
              f"{max(v) * 2**20 / args.budget:.2f}x budget) over {len(v)} run(s)")


if __name__ == "__main__":
    main()
