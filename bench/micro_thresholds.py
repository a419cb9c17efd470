"""Stages Benchmarks/Thresholds/ for `make bench-micro-check`.

package-benchmark 1.38 writes a threshold file with the spaces in the benchmark's name turned to underscores
but looks it up by the name as it is, so the check reads a copy under the names it expects (no benchmark
name has an underscore of its own). The copy keeps only the metrics the check is meant to hold (allocations
and, where the CPU exposes them, instructions): wall time and throughput are recorded for reference, but on
shared machines they move by more than any regression worth catching.
"""

import json
import pathlib
import sys

CHECKED = ("mallocCountTotal", "instructions")


def main(source: str, destination: str) -> None:
    target = pathlib.Path(destination)
    target.mkdir(parents=True, exist_ok=True)
    for file in sorted(pathlib.Path(source).glob("*.p90.json")):
        thresholds = {k: v for k, v in json.loads(file.read_text()).items() if k in CHECKED}
        (target / file.name.replace("_", " ")).write_text(json.dumps(thresholds, indent=2) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
