"""One source for figures: the README's performance table must say what benchmarks/RESULTS.md says.

Every row of the README table under ``## Performance`` names its source in its last
cell: a RESULTS.md section and, where the row states a target, the BENCH metrics it
reports, e.g. `` `bench_model: fwdbwd_speedup_vs_hf_tiny_512, fwdbwd_speedup_vs_hf_130m_256` ``.
The check, per row:

* the section exists, and so does each named metric's ``BENCH`` line in it;
* every number in the result cell equals, to the precision it is shown with, a number
  of that section ("7.5×" stands for 7.463, "10.2 M" for 10.16 M or 1.016e+07);
* the target cell states each named metric's target ("≥ 5×" for ``target >=5``).

Sections that no README row names are not checked, so a new benchmark section never
breaks it; a README row without a source does.

    python benchmarks/readme_figures.py        # prints each mismatch; exit 1 if any
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README, RESULTS = ROOT / "README.md", ROOT / "benchmarks" / "RESULTS.md"

# A number not glued to a word ("fp32", "130m", "H200" are names, not figures), optionally with
# thousands separators, decimals, an exponent and a million/thousand suffix ("10.2 M", "4.5k").
NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:e([+-]?\d+))?(?:\s?([Mk])(?![\w]))?(?![\w])")
SCALE = {None: 1.0, "M": 1e6, "k": 1e3}
BENCH = re.compile(r"^BENCH (\S+) (\S+) target (>=|<=|>|<)(\S+) (?:PASS|FAIL)$", re.M)
TARGET_OPS = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}


@dataclass(frozen=True)
class Figure:
    value: float
    half_unit: float  # half the last shown digit: the rounding tolerance
    text: str


def figures(text: str) -> list[Figure]:
    out = []
    for m in NUMBER.finditer(text):
        whole, frac, exp, suffix = m.groups()
        decimals = len(frac) - 1 if frac else 0
        scale = SCALE[suffix] * (10.0 ** int(exp) if exp else 1.0)
        value = float(whole.replace(",", "") + (frac or "")) * scale
        out.append(Figure(value, 0.5 * 10.0**-decimals * scale, m.group(0)))
    return out


def sections(results_text: str) -> dict[str, str]:
    """RESULTS.md section name -> its text (between the ``<!-- name:start/end -->`` markers)."""
    pattern = re.compile(r"<!-- (\S+):start -->(.*?)<!-- \1:end -->", re.S)
    return {m.group(1): m.group(2) for m in pattern.finditer(results_text)}


def performance_rows(readme_text: str) -> list[list[str]]:
    """Cells of each body row of the first table under the ``## Performance`` heading."""
    part = readme_text.split("## Performance", 1)
    if len(part) < 2:
        raise ValueError("README.md has no '## Performance' section")
    rows = []
    for line in part[1].splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not set("".join(cells)) <= set("-: "):
            rows.append(cells)
    return rows[1:]  # without the header


def parse_source(cell: str) -> tuple[str, list[str]]:
    text = cell.strip().strip("`").strip()
    name, _, metrics = text.partition(":")
    return name.strip(), [m.strip() for m in metrics.split(",") if m.strip()]


def check(readme_text: str, results_text: str) -> list[str]:
    """Mismatches between the README's performance table and RESULTS.md, one line each (empty: agree)."""
    found = sections(results_text)
    problems = []
    rows = performance_rows(readme_text)
    if not rows:
        return ["README.md: the performance table has no rows"]
    for cells in rows:
        label = cells[0]
        if len(cells) < 4:
            problems.append(f"{label!r}: no source cell (`section: metric, ...`) naming where its figures come from")
            continue
        result, target, (section, metrics) = cells[1], cells[2], parse_source(cells[-1])
        if section not in found:
            problems.append(f"{label!r}: RESULTS.md has no section {section!r}")
            continue
        body = found[section]
        bench = {m.group(1): m for m in BENCH.finditer(body)}
        for metric in metrics:
            if metric not in bench:
                problems.append(f"{label!r}: RESULTS.md section {section!r} has no BENCH line for {metric!r}")
                continue
            _, _, op, goal = bench[metric].groups()
            want = f"{TARGET_OPS[op]} {float(goal):g}"
            if want not in target:
                problems.append(f"{label!r}: target cell {target!r} does not state {metric}'s target {want!r}")
        known = figures(body)
        for fig in figures(result):
            if not any(abs(k.value - fig.value) <= fig.half_unit * (1 + 1e-9) for k in known):
                problems.append(f"{label!r}: {fig.text!r} is not a figure of RESULTS.md section {section!r}")
    return problems


def main() -> int:
    problems = check(README.read_text(encoding="utf-8"), RESULTS.read_text(encoding="utf-8"))
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
