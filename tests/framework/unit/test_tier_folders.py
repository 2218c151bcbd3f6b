"""The folder is the tier: tests/conftest.py marks each test by its folder and refuses a test that
needs a heavier tier than its folder (run on a throw-away tree with pytester)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytest_plugins = ["pytester"]


def _tree(pytester: pytest.Pytester, files: dict[str, str]) -> None:
    conftest = (ROOT / "tests" / "conftest.py").read_text()
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "conftest.py").write_text(conftest)
    for name, body in files.items():
        path = pytester.path / "tests" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    pytester.makeini("[pytest]\nmarkers =\n    spark: s\n    postgres: p\n    e2e: e\n")


def test_the_folder_gives_the_marker(pytester: pytest.Pytester) -> None:
    _tree(
        pytester,
        {
            "framework/unit/test_a.py": "def test_a():\n    pass\n",
            "app/e2e/test_b.py": "def test_b():\n    pass\n",
        },
    )
    assert pytester.runpytest("-q", "-m", "e2e", "tests").parseoutcomes() == {"passed": 1, "deselected": 1}
    fast = pytester.runpytest("-q", "-m", "not spark and not postgres and not e2e", "tests")
    assert fast.parseoutcomes() == {"passed": 1, "deselected": 1}


def test_a_spark_test_in_a_unit_folder_is_refused(pytester: pytest.Pytester) -> None:
    _tree(
        pytester,
        {"framework/unit/test_c.py": "import pytest\n\n@pytest.mark.spark\ndef test_c():\n    pass\n"},
    )
    result = pytester.runpytest("-q", "tests")
    assert result.ret != 0
    assert "test_c.py::test_c: needs ['spark'] but lives in a unit/ folder" in result.stderr.str()


def test_a_test_outside_the_tier_folders_is_refused(pytester: pytest.Pytester) -> None:
    _tree(pytester, {"misc/test_d.py": "def test_d():\n    pass\n"})
    result = pytester.runpytest("-q", "tests")
    assert result.ret != 0
    assert "tests live in tests/<framework|app>/<unit|spark|postgres|e2e>/" in result.stderr.str()
