"""Hostile config text (issue 9): alias bombs, deep nesting, unreadable folders → ConfigError, no hang."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sparkjobs.config.files import MAX_DEPTH, layer_files, parse_json_text, read_config_file
from sparkjobs.errors import ConfigError


def _bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [6, 9])
def test_yaml_alias_bomb_is_refused_quickly(tmp_path: Path, levels: int) -> None:
    path = tmp_path / "bomb.yml"
    path.write_text(_bomb(levels))
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    assert time.monotonic() - started < 5
    assert "alias" in str(info.value) and str(path) in str(info.value)


def test_yaml_anchors_that_stay_small_still_work(tmp_path: Path) -> None:
    path = tmp_path / "ok.yml"
    path.write_text("defaults: &d {retries: 2, timeout: 5}\njobs:\n  a: *d\n  b: {<<: *d, retries: 3}\n")
    data = read_config_file(path)
    assert data["jobs"] == {"a": {"retries": 2, "timeout": 5}, "b": {"retries": 3, "timeout": 5}}


def test_alias_that_expands_past_the_depth_limit_is_refused(tmp_path: Path) -> None:
    half = MAX_DEPTH // 2 + 2
    inner = "[" * half + "1" + "]" * half
    path = tmp_path / "deep_alias.yml"
    path.write_text(f"a: &a {inner}\nb: " + "[" * half + "*a" + "]" * half + "\n")
    with pytest.raises(ConfigError, match=f"deeper than {MAX_DEPTH}"):
        read_config_file(path)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.yml", "".join("  " * i + "a:\n" for i in range(5000))),
        ("deep_flow.yml", "a: " + "[" * 5000 + "]" * 5000),
        ("deep.json", "[" * 100_000 + "]" * 100_000),
        ("deep.toml", "a = " + "[" * 3000 + "]" * 3000),
    ],
)
def test_deep_nesting_is_refused_with_file_and_limit(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text('{"a": ' + text + "}" if name.endswith(".json") else text)
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    message = str(info.value)
    assert f"deeper than {MAX_DEPTH}" in message and name in message


def test_nesting_at_the_limit_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_text(json.dumps({"a": json.loads("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))}))
    assert "a" in read_config_file(path)


def test_json_brackets_inside_strings_do_not_count(tmp_path: Path) -> None:
    assert parse_json_text(json.dumps({"a": "[" * 1000 + '\\"{'}), "--json") == {"a": "[" * 1000 + '\\"{'}


def test_inline_json_refuses_duplicate_keys_and_depth() -> None:
    with pytest.raises(ConfigError, match="duplicate key 'rows'") as info:
        parse_json_text('{"rows": 1, "rows": 2}', "--json")
    assert "--json" in str(info.value)
    with pytest.raises(ConfigError, match="deeper than"):
        parse_json_text('{"a": ' + "[" * 50_000 + "]" * 50_000 + "}", "--json")


def test_unreadable_layer_directory_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "base"
    folder.mkdir()

    def refuse(self: Path) -> object:  # what listing a chmod-000 folder does as a non-root user
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", refuse)
    with pytest.raises(ConfigError, match="cannot read config directory") as info:
        layer_files(folder)
    assert str(folder) in str(info.value)


def test_duplicate_yaml_key_is_still_refused_next_to_a_merge(tmp_path: Path) -> None:
    path = tmp_path / "dup.yml"
    path.write_text("d: &d {a: 1}\nx:\n  <<: *d\n  b: 1\n  b: 2\n")
    with pytest.raises(ConfigError, match="duplicate key 'b'"):
        read_config_file(path)
