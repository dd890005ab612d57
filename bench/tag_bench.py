"""Relevance tagging speed: items classified per second, and what loading the rules costs.

    .venv/bin/python -m bench.tag_bench                    # 20,000 items
    .venv/bin/python -m bench.tag_bench --items 5000 --rules topics.yaml

The items are the labelled texts (tests/fixtures/relevance/dev.yaml and test.yaml, when present)
and the five seeds, repeated in turn until `--items` have been tagged; each is tagged as the
pipeline tags it, with `tag(title, text, rules)`, language detection included. The labelled items
are news-length (a few hundred words); the seeds are long (up to 20,000 characters), so their
share, printed, weighs on the figure. Loading is measured twice: `load_rules` in this process,
and a cold start in a fresh interpreter (imports, rules file, compiling, first detection), which
is what `monitor classify` pays once per run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from monitor.config.rules import load_rules
from monitor.extract.seeds import load_seeds
from monitor.tag.tagger import tag

ROOT = Path(__file__).resolve().parent.parent
LABELLED = [ROOT / "tests/fixtures/relevance/dev.yaml", ROOT / "tests/fixtures/relevance/test.yaml"]
COLD_START = """
import time
start = time.perf_counter()
from pathlib import Path
from monitor.config.rules import load_rules
from monitor.text.lang import detect_language
rules = load_rules(Path({rules!r}))
detect_language("Azərbaycan ilə Qazaxıstan arasında əməkdaşlıq genişlənir")
print(time.perf_counter() - start)
"""


def corpus() -> list[tuple[str, str]]:
    """(title, text) of every labelled item and seed."""
    items: list[tuple[str, str]] = []
    for path in LABELLED:
        if path.exists():
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            entries = data["items"] if isinstance(data, dict) else data
            items += [(entry["title"], entry["text"]) for entry in entries]
    items += [(seed.title, seed.text) for seed in load_seeds(ROOT / "seeds")]
    return items


def cold_start(rules_path: Path) -> float:
    script = COLD_START.format(rules=str(rules_path))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return float(result.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--rules", type=Path, default=ROOT / "topics.yaml")
    args = parser.parse_args()

    start = time.perf_counter()
    rules = load_rules(args.rules)
    load_seconds = time.perf_counter() - start
    items = corpus()
    chars = [len(title) + len(text) for title, text in items]

    durations = []
    relevant = 0
    begin = time.perf_counter()
    for index in range(args.items):
        title, text = items[index % len(items)]
        before = time.perf_counter()
        relevant += tag(title, text, rules).relevant
        durations.append(time.perf_counter() - before)
    elapsed = time.perf_counter() - begin
    tagged_chars = sum(chars[i % len(items)] for i in range(args.items))

    durations.sort()
    print(f"corpus: {len(items)} distinct items, median {statistics.median(chars):.0f} chars")
    print(f"load_rules (in process): {load_seconds * 1000:.0f} ms")
    print(f"cold start (imports + rules + first detection): {cold_start(args.rules) * 1000:.0f} ms")
    print(
        f"tagged {args.items} items in {elapsed:.2f} s = {args.items / elapsed:,.0f} items/s "
        f"({tagged_chars / elapsed / 1e6:.1f} M chars/s); relevant {relevant}"
    )
    print(
        f"per item: median {statistics.median(durations) * 1000:.3f} ms, "
        f"p95 {durations[int(len(durations) * 0.95)] * 1000:.3f} ms, "
        f"max {durations[-1] * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
