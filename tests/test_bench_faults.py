"""Table 6 of the bench: every pattern's scenarios under a fault at every moment."""

import bench

from asyncio_patterns.demos.testing import shapes


def test_fault_rows_count_what_the_harness_tried_and_found():
    rows = bench.fault_rows({"Workers": [shapes.workers_scenario(), shapes.workers_scenario(safe=True)],
                             "race": [shapes.race_scenario()]}, seeds=[None, 4])
    workers, race = rows
    assert (workers.pattern, workers.scenarios, workers.moments) == ("Workers", 2, 12)  # 3 moments x 2 seeds x 2
    assert len(workers.broken) == 2 and all("3 of 5 accepted jobs lost" in line for line in workers.broken)
    assert race.moments == 0 and race.broken == ("counter_race: no fault (seed 4): 1 update(s) lost",)
    line = bench.format_fault_row(workers)
    assert line.split()[:4] == ["Workers", "2", "12", "2"]
    lines, ok = bench.fault_summary(rows)
    assert not ok and lines[-1].startswith("3 runs broke a promise in 12 moments tried") and lines[-1].endswith("FAIL")
    assert lines[0].startswith("  first: Workers.stop: cancel at await 0 (t=0.5 s")


def test_the_fault_verdict_passes_when_nothing_broke():
    rows = bench.fault_rows({"Workers": [shapes.workers_scenario(safe=True)]}, seeds=[None])
    lines, ok = bench.fault_summary(rows)
    assert ok and lines == [f"0 runs broke a promise in 3 moments tried ({rows[0].seconds:.1f} s), goal 0: PASS"]


def test_faults_only_prints_the_table(monkeypatch, capsys):
    monkeypatch.setattr(bench, "fault_rows", lambda: [bench.FaultRow("locked", 1, 6, (), 0.01)])
    assert bench.main(["--faults-only"]) == 0
    out = capsys.readouterr().out
    assert "locked                         1        6        0     0.01" in out and "goal 0: PASS" in out
