"""The pure parts of benchmarks/report.py: statistics, formatting, parsing, the checkpoint table.
Timings are never asserted (a busy machine would fail them for no fault of the code)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_report", ROOT / "benchmarks" / "report.py")
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)


def test_spread_is_median_min_max():
    assert report.spread([3.0, 1.0, 2.0]) == (2.0, 1.0, 3.0)
    assert report.spread([4.0, 1.0]) == (2.5, 1.0, 4.0)
    with pytest.raises(ValueError):
        report.spread([])


def test_format_spread_shows_the_range_only_for_several_runs():
    assert report.format_spread([12.34]) == "12.3"
    assert report.format_spread([13.0, 11.9, 12.3]) == "12.3 (11.9-13.0)"
    assert report.format_spread([1.234, 1.5], digits=2) == "1.37 (1.23-1.50)"


def test_markdown_table_escapes_pipes():
    table = report.markdown_table(("a", "b"), [(1, "x|y")])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | x\\|y |"]


def test_natural_key_orders_numbers_by_value():
    names = ["n16a.pt", "n4b.pt", "n256a.pt", "n4a.pt"]
    assert sorted(names, key=report.natural_key) == ["n4a.pt", "n4b.pt", "n16a.pt", "n256a.pt"]


def test_lesson_key_is_the_number():
    assert report.lesson_key(Path("notebooks/03_noise_schedules.ipynb")) == "03"


def test_parse_widget_table_reads_rows_and_skips_the_header():
    out = ("torch threads: 1; 3 moves per control\n"
           "explorer                 control   build s  median s   max s\n"
           "grey_level_explorer      level        0.31     0.052   0.060\n"
           "steps_explorer           steps        1.20     0.400   0.410\n")
    first, rows = report.parse_widget_table(out)
    assert first == "torch threads: 1; 3 moves per control"
    assert rows == [["grey_level_explorer", "level", 0.31, 0.052, 0.06],
                    ["steps_explorer", "steps", 1.2, 0.4, 0.41]]
    assert report.parse_widget_table("") == ("", [])


def test_compact_formats_nested_figures():
    assert report.compact({"n": 500, "frechet": 14.192, "histogram": [0.1] * 10}) == "n 500, frechet 14.2"
    assert report.compact({"seen": {"0": 0.0, "1": 0.6015625}}) == "seen w 0/1: 0/0.602"
    assert report.compact({"random": {"image_to_text": (1.0, 0.0)}}) == "random image_to_text 1±0"
    assert report.compact([0.98, 0.5]) == "0.98/0.5"


def test_quality_summary_names_what_is_recorded():
    meta = {"test_accuracy_over_t": [0.98, 0.77], "times": [0.0, 0.25], "n_test": 359}
    assert report.quality_summary(meta) == "test_accuracy_over_t: 0.98/0.77 at t 0/0.25 (n_test 359)"
    assert report.quality_summary({"steps": 10}) == "none recorded"


def test_checkpoint_rows_cover_the_shipped_checkpoints():
    rows = {row[0]: row for row in report.checkpoint_rows()}
    assert "ddpm8.pt" in rows and "classifier8.pt" in rows
    assert "text2image_steps.pt" not in rows  # a bundle of snapshots, not a checkpoint
    assert all(len(row) == 8 for row in rows.values())
    assert rows["ddpm8.pt"][1] == "UNet"
    assert rows["ddpm8.pt"][5] == "1 CPU thread" and rows["text2image.pt"][5].startswith("cuda")  # where each trained
    assert "frechet" in rows["ddpm8.pt"][-1]
    # a file trained in stages gives each one: the steps and where each ran
    steps, where = rows["ddpm28_cond.pt"][3], rows["ddpm28_cond.pt"][5]
    assert steps == "14422 + 4770 + 3000", steps
    assert where.startswith("cuda") and where.endswith(", then 1 CPU thread, then 1 CPU thread"), where
    assert "test_accuracy" in rows["classifier8.pt"][-1]


def test_quick_flag_sets_the_smoke_run():
    args = report.parse_args(["--quick", "--lessons", "00", "01"])
    assert (args.repeats, args.steps, args.modes, args.fast_benchmarks) == (1, 5, ["fast"], True)
    assert args.lessons == ["00", "01"]
    full = report.parse_args(["--skip-lessons"])
    assert (full.repeats, full.steps, full.modes, full.fast_benchmarks) == (3, 20, ["fast", "full"], False)
    assert "lessons" in full.skip
