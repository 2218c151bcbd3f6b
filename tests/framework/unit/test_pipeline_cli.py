"""`sparkjobs pipeline ...` and `sparkjobs schedule` in-process: options, output, exit codes 0/1/2."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sparkjobs.cli import cli
from sparkjobs.pipeline.ledger import Holder, SQLiteLedger

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "framework" / "e2e"))
    monkeypatch.delenv("SPARKJOBS_ENV", raising=False)
    trace = str(tmp_path / "trace.jsonl")
    step = {"has_spark": False}
    doc = {
        "state": {"url": f"sqlite:///{tmp_path}/state/ledger.db"},
        "observability": {"runs_dir": str(tmp_path / "runs")},
        "pipelines": {
            "demo": {
                "schedule": {"cron": "0 2 * * *"},
                "defaults": {"retry": {"max_attempts": 1}},
                "steps": {
                    "first": {
                        **step,
                        "job": "pipeline_jobs.record",
                        "params": {"trace": trace, "label": "first"},
                    },
                    "second": {
                        **step,
                        "job": "pipeline_jobs.broken",
                        "depends_on": ["first"],
                        "params": {"trace": trace, "label": "second", "fixed_by": str(tmp_path / "fixed")},
                    },
                },
            },
            "fast": {
                "schedule": {"cron": "* * * * * */2"},
                "steps": {"only": {**step, "job": "pipeline_jobs.record", "params": {"trace": trace}}},
            },
        },
    }
    root = tmp_path / "conf"
    (root / "base").mkdir(parents=True)
    (root / "base" / "pipelines.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def ledger_of(conf: Path) -> SQLiteLedger:
    return SQLiteLedger(conf.parent / "state" / "ledger.db")


def test_pipeline_is_a_lazy_subcommand() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    assert "pipeline" in out and "schedule" in out


def test_list(conf: Path) -> None:
    code, out, _ = invoke("pipeline", "list", "--conf-dir", str(conf))
    assert code == 0
    assert out.splitlines() == [
        "demo  0 2 * * * (UTC)         first → second",
        "fast  * * * * * */2 (UTC)     only",
    ]


def test_graph(conf: Path) -> None:
    code, out, _ = invoke("pipeline", "graph", "demo", "--conf-dir", str(conf), "--direction", "TD")
    assert code == 0
    assert out == (
        "flowchart TD\n"
        '    first["first<br/>job: pipeline_jobs.record"]\n'
        '    second["second<br/>job: pipeline_jobs.broken"]\n'
        "    first --> second\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--date", "2024-03-01", "--from", "2024-03-01", "--to", "2024-03-02"],
            "either --date or --from/--to",
        ),
        (["--from", "2024-03-01"], "--from and --to go together"),
        (["--from", "2024-03-05", "--to", "2024-03-01"], "--from 2024-03-05 is after --to 2024-03-01"),
        (["--date", "03/01/2024"], "bad --date '03/01/2024'"),
        (["--resume", "r1", "--mode", "initial_load"], "keeps the mode it started with"),
        (["--resume", "r1", "--resume-last"], "either --resume RUN_ID or --resume-last"),
        (["--scheduled", "--date", "2024-03-01"], "--scheduled computes the date itself"),
    ],
)
def test_run_usage_errors_exit_2(conf: Path, args: list[str], message: str) -> None:
    code, _, err = invoke("pipeline", "run", "demo", "--conf-dir", str(conf), *args)
    assert code == 2
    assert message in err


def test_unknown_pipeline_exit_2_with_suggestion(conf: Path) -> None:
    code, _, err = invoke("pipeline", "run", "dmeo", "--conf-dir", str(conf))
    assert code == 2
    assert "unknown pipeline 'dmeo' (did you mean: demo?)" in err


def test_dry_run_prints_the_plan_and_runs_nothing(conf: Path) -> None:
    code, out, _ = invoke(
        "pipeline", "run", "demo", "--conf-dir", str(conf), "--date", "2024-03-01", "--dry-run"
    )
    assert code == 0
    plan = json.loads(out)
    assert plan["order"] == ["first", "second"]
    assert [s["step"] for s in plan["plans"]["2024-03-01"]] == ["first", "second"]
    assert not (conf.parent / "trace.jsonl").exists()
    assert not (conf.parent / "state").exists()


def test_failed_run_exits_1_naming_the_step_and_the_resume_command_then_resume(conf: Path) -> None:
    code, out, err = invoke("pipeline", "run", "demo", "--conf-dir", str(conf), "--date", "2024-03-01")
    assert code == 1
    summary = json.loads(out)
    run_id = summary["run_id"]
    assert (summary["status"], summary["failed_step"]) == ("failed", "second")
    assert f"pipeline 'demo' failed at step 'second' (run_id={run_id}, date=2024-03-01)" in err
    assert f"resume with: sparkjobs pipeline run demo --resume {run_id} --conf-dir {conf}" in err

    (conf.parent / "fixed").touch()
    code, out, _ = invoke("pipeline", "run", "demo", "--conf-dir", str(conf), "--resume", run_id)
    assert code == 0
    summary = json.loads(out)
    assert summary["run_id"] == run_id
    assert [(s["step"], s["status"]) for s in summary["steps"]] == [
        ("first", "skipped"),
        ("second", "success"),
    ]
    traced = [json.loads(line)["step"] for line in (conf.parent / "trace.jsonl").read_text().splitlines()]
    assert traced == ["first", "second"]


def test_backfill_prints_one_line_per_date(conf: Path) -> None:
    (conf.parent / "fixed").touch()
    code, out, _ = invoke(
        "pipeline", "run", "demo", "--conf-dir", str(conf), "--from", "2024-02-28", "--to", "2024-03-01"
    )
    assert code == 0
    assert [json.loads(line)["logical_date"] for line in out.splitlines()] == [
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]


def test_status_and_runs_show(conf: Path) -> None:
    (conf.parent / "fixed").touch()
    code, out, _ = invoke("pipeline", "run", "demo", "--conf-dir", str(conf), "--date", "2024-03-01")
    assert code == 0
    run_id = json.loads(out)["run_id"]
    code, out, _ = invoke("pipeline", "status", "demo", "--conf-dir", str(conf))
    assert code == 0
    assert run_id in out and "2024-03-01" in out and "2/2 ok" in out
    code, out, _ = invoke("pipeline", "status", "demo", "--conf-dir", str(conf), "--format", "json")
    data = json.loads(out)
    assert [r["run_id"] for r in data["runs"]] == [run_id]
    assert data["locks"] == []
    code, out, _ = invoke("pipeline", "runs", "show", run_id, "--conf-dir", str(conf), "--format", "json")
    shown = json.loads(out)
    assert [(a["step"], a["attempt"], a["status"]) for a in shown["attempts"]] == [
        ("first", 1, "success"),
        ("second", 1, "success"),
    ]
    code, out, _ = invoke("pipeline", "runs", "show", run_id, "--conf-dir", str(conf))
    assert code == 0 and "attempts" in out and "pipeline_jobs.broken" in out
    code, _, err = invoke("pipeline", "runs", "show", "nope", "--conf-dir", str(conf))
    assert code == 2 and "no pipeline run 'nope'" in err


def test_a_locked_date_exits_2(conf: Path) -> None:
    ledger = SQLiteLedger(conf.parent / "state" / "ledger.db", holder=Holder("other-host", "other", 99))
    ledger.init_schema()
    ledger.acquire_lock("demo", date(2024, 3, 1), "their-run", stale_after_s=120)
    code, _, err = invoke("pipeline", "run", "demo", "--conf-dir", str(conf), "--date", "2024-03-01")
    assert code == 2
    assert "pipeline 'demo' is already running for 2024-03-01: run their-run (pid 99 on other-host)" in err
    # unlock refuses a live-looking holder without --force
    code, _, err = invoke("pipeline", "unlock", "demo", "--date", "2024-03-01", "--conf-dir", str(conf))
    assert code == 2 and "still looks alive" in err
    code, out, _ = invoke(
        "pipeline", "unlock", "demo", "--date", "2024-03-01", "--force", "--conf-dir", str(conf)
    )
    assert code == 0 and "removed the lock of run their-run" in out
    assert ledger.get_lock("demo", date(2024, 3, 1)) is None


def test_print_crontab(conf: Path, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "demo.log"
    code, out, _ = invoke(
        "schedule", "demo", "--print-crontab", "--conf-dir", str(conf), "--log-file", str(log)
    )
    assert code == 0
    line = out.splitlines()[-1]
    assert line.startswith("0 2 * * * cd ")
    assert f"pipeline run demo --scheduled --conf-dir {conf} >> {log} 2>&1" in line
    code, _, err = invoke("schedule", "fast", "--print-crontab", "--conf-dir", str(conf))
    assert code == 2 and "minute resolution" in err


def test_schedule_max_fires_runs_the_pipeline(conf: Path) -> None:
    code, out, _ = invoke("schedule", "fast", "--conf-dir", str(conf), "--max-fires", "2")
    assert code == 0
    assert json.loads(out.splitlines()[-1]) == {
        "pipeline": "fast",
        "runs": 2,
        "failed": [],
        "skipped_fires": 0,
        "stopped_by": None,
    }
    assert [r.trigger for r in ledger_of(conf).list_runs("fast")] == ["schedule", "schedule"]


@pytest.mark.parametrize("command", [["pipeline", "run", "demo"], ["pipeline", "list"], ["schedule", "demo"]])
def test_an_env_that_is_a_path_is_refused_like_sparkjobs_run(conf: Path, command: list[str]) -> None:
    code, _, err = invoke(*command, "--conf-dir", str(conf), "--env", "../x")
    assert code == 2
    assert "bad environment name '../x'" in err and "no path separators" in err


def test_an_explicit_conf_dir_that_is_missing_is_an_error(tmp_path: Path) -> None:
    code, _, err = invoke("pipeline", "list", "--conf-dir", str(tmp_path / "nope"))
    assert code == 2
    assert "configuration directory not found" in err


def test_a_pipeline_error_quoting_a_dsn_is_printed_masked(conf: Path) -> None:
    code, _, err = invoke(
        "pipeline", "run", "demo", "--conf-dir", str(conf), "--date", "postgresql://u:hunter22pw@db/x"
    )
    assert code == 2
    assert "bad --date 'postgresql://u:********@db/x'" in err
    assert "hunter22pw" not in err


def test_a_pipeline_error_quoting_a_secret_variable_is_printed_masked(
    conf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAREHOUSE_PASSWORD", "s3cr3t-value")
    code, _, err = invoke("pipeline", "run", "s3cr3t-value", "--conf-dir", str(conf))
    assert code == 2
    assert "unknown pipeline '********'" in err
    assert "s3cr3t-value" not in err
