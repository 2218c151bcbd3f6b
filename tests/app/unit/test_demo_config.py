"""`make run`'s configuration (conf/demo) can run every step on the engine it names.

No test runs the whole demo (it takes a minute), so the engine check the demo does before any work
— each step's requirements, which can depend on its config (``model: als`` needs Spark MLlib) —
is done here on the real conf/ for each step.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recommendations.demo import STEPS
from sparkjobs.executor import RunRequest, prepare

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("step", STEPS)
def test_every_demo_step_runs_on_the_demo_engine(step: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("SPARKJOBS_ENV", "SPARKJOBS_CONF_DIR", "SPARKJOBS_PROJECT_DIR"):
        monkeypatch.delenv(key, raising=False)
    prepared = prepare(RunRequest(job=step, env="demo", conf_dir=ROOT / "conf"), {})
    assert prepared.context.engine == "duckdb", prepared.context.engine_reason


def test_the_demo_serves_the_comparisons_verdict_with_its_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    for key in ("SPARKJOBS_ENV", "SPARKJOBS_CONF_DIR", "SPARKJOBS_PROJECT_DIR"):
        monkeypatch.delenv(key, raising=False)
    verdict = json.loads((ROOT / "docs" / "comparison" / "comparison.json").read_text())
    prepared = prepare(RunRequest(job="build_recommendations", env="demo", conf_dir=ROOT / "conf"), {})
    config = prepared.config
    assert config.model == verdict["default_model"]
    chosen = verdict["models"][config.model]["params"]
    served = {**config.params.model_dump(), **getattr(config, config.model, config.params).model_dump()}
    assert {k: served[k] for k in chosen} == chosen
