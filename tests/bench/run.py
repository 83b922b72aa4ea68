"""``make bench``: build or reuse the datasets, measure each, write BENCHMARKS.md.

    python -m tests.bench.run [--sizes 100000,1000000] [--databases sqlite,postgres]

``BENCH_SIZES`` and ``BENCH_DATABASES`` override the defaults (for quick runs);
``--rebuild`` ignores cached datasets. Each (database, size) is measured in a
process of its own (``tests.bench.scenarios``), since Django binds one database
per process. Results are also kept as JSON in ``.bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from tests.bench.datasets import BENCH_DIR, ROOT, Dataset, cache_key
from tests.bench.report import write_report

RESULTS = BENCH_DIR / "results"


def log(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"[{stamp} load {os.getloadavg()[0]:.2f}] {message}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "100000,1000000"))
    parser.add_argument("--databases", default=os.environ.get("BENCH_DATABASES", "sqlite,postgres"))
    parser.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument(
        "--build-only", action="store_true", help="Build datasets, measure nothing."
    )
    parser.add_argument(
        "--report-only", action="store_true", help="Rewrite BENCHMARKS.md from .bench/results/."
    )
    args = parser.parse_args()
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size]
    databases = [name for name in args.databases.split(",") if name]
    key = cache_key()
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    runs = []
    for database in databases:
        for size in sizes:
            dataset = Dataset(database, size, key)
            if args.report_only:
                runs.append(RESULTS / f"{database}_{size}.json")
                continue
            log(f"{database} {size:,}: dataset {dataset.name}")
            info, built = dataset.ensure(log, rebuild=args.rebuild)
            if args.build_only:
                continue
            log(f"{database} {size:,}: measuring")
            out = RESULTS / f"{database}_{size}.json"
            # --only re-measures some steps and keeps the earlier rows of the others.
            earlier = json.loads(out.read_text()) if args.only and out.exists() else []
            env = {**dataset.env(), "DB_CONN_MAX_AGE": "600"}
            subprocess.run(
                [sys.executable, "-m", "tests.bench.scenarios", f"--size={size}", f"--out={out}"]
                + ([f"--only={args.only}"] if args.only else []),
                cwd=ROOT,
                env=env,
                check=True,
            )
            rows = json.loads(out.read_text())
            names = {row["name"] for row in rows}
            kept = [row for row in earlier if row["name"] not in names and "rate" not in row]
            rows = kept + rows
            rows.append(
                {
                    "name": "generate_trackers load rate",
                    "size": size,
                    "database": "postgresql" if database == "postgres" else database,
                    "rate": info["load_rate"],
                    "command_rate": info.get("command_rate"),
                    "built_now": built,
                    "built_at": info["built_at"],
                    "load_seconds": info["load_seconds"],
                    "loadavg": info.get("loadavg"),
                }
            )
            out.write_text(json.dumps(rows, indent=1))
            runs.append(out)
    elapsed = time.perf_counter() - started
    log(f"done in {elapsed / 60:.1f} min")
    if not args.no_report:
        meta = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "commit": subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.python_implementation()} {platform.python_version()}, "
            f"{platform.system()} {platform.release()}",
            "elapsed_min": "-" if args.report_only else round(elapsed / 60, 1),
            "loadavg": " ".join(f"{value:.2f}" for value in os.getloadavg()),
        }
        write_report(ROOT / "BENCHMARKS.md", [json.loads(Path(p).read_text()) for p in runs], meta)
        log("wrote BENCHMARKS.md")


if __name__ == "__main__":
    main()
