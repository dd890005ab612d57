"""Start-up: how long `monitor --help` and `monitor status` take, against `import typer`.

    .venv/bin/python -m bench.startup_bench                  # 9 runs of each
    .venv/bin/python -m bench.startup_bench --runs 15

A command line is felt by its start-up, and most of it is imports. Seconds say little on a shared
machine (the same `--help` takes 0.2 s idle and 1 s while tests run), so each command is timed as
a ratio to `python -c "import typer"` (the least a Typer program pays), measured in the same run:
the commands take turns, run after run, so a busy spell slows them all alike, and the medians are
compared. `status` reads a small archive made first (the seed corpus, five documents). The
target is `--help` within 3 times `import typer`; the command exits 1 when it is missed.

`python -X importtime -m monitor --help 2> imports.txt` shows where the time goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELP_TARGET = 3.0  # `monitor --help` at most this many times `import typer`


def commands(data_dir: Path) -> dict[str, list[str]]:
    python = sys.executable
    return {
        'python -c "import typer"': [python, "-c", "import typer"],
        "monitor --help": [python, "-m", "monitor", "--help"],
        "monitor status (5 articles)": [
            python,
            "-m",
            "monitor",
            "--data-dir",
            str(data_dir),
            "status",
        ],
    }


def clean_env() -> dict[str, str]:
    """No MONITOR_* settings of the caller's, so the figures are the defaults'."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}


def seconds(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs of each command (default 9)")
    args = parser.parse_args()
    env = clean_env()
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        seeds = [sys.executable, "-m", "monitor", "--data-dir", str(data_dir), "seeds"]
        subprocess.run(seeds, check=True, capture_output=True, env=env, cwd=ROOT)
        timed = commands(data_dir)
        for command in timed.values():  # one untimed run each: the page cache, .pyc files
            seconds(command, env)
        taken: dict[str, list[float]] = {name: [] for name in timed}
        for _ in range(args.runs):
            for name, command in timed.items():
                taken[name].append(seconds(command, env))
    medians = {name: statistics.median(runs) for name, runs in taken.items()}
    base = medians['python -c "import typer"']
    print(f"start-up, median of {args.runs} interleaved runs (Python {sys.version.split()[0]}):")
    print(f"{'command':<30} {'median':>8} {'min':>8} {'max':>8} {'ratio':>7}  target")
    for name, median in medians.items():
        ratio = median / base
        target = f"≤ {HELP_TARGET:g}×" if name == "monitor --help" else ""
        runs = taken[name]
        print(
            f"{name:<30} {median:>7.3f}s {min(runs):>7.3f}s {max(runs):>7.3f}s "
            f"{ratio:>6.1f}×  {target}"
        )
    missed = medians["monitor --help"] / base > HELP_TARGET
    if missed:
        print(f"`monitor --help` is over {HELP_TARGET:g}× `import typer`: see -X importtime")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
