"""Parameter search on a validation split carved from the training part (never the test part).

A grid is ``{parameter: [values]}`` over the fields of a model's parameters; every combination
(in the grid's order) is fitted on the validation split's training part and scored on its
held-out positives. The best is the highest validation HitRate@K among the combinations whose
validation catalog coverage@K is at least ``min_coverage`` (the floor); a tie goes to the higher
validation coverage@K, then to the earlier combination of the grid, so a rerun picks the same one.
When no combination reaches the floor, the one with the highest validation coverage is taken (ties:
hit rate, then grid order) and :func:`meets_floor` says so.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from sparkjobs.errors import ConfigError

if TYPE_CHECKING:
    from recommendations.evaluation import Holdout
    from recommendations.models import Recommender

P = TypeVar("P", bound=BaseModel)
GridValue = int | float


@dataclass(frozen=True)
class Trial:
    """One combination of the grid and how it did on the validation split."""

    params: dict[str, GridValue]
    hit_rate: float
    coverage: float
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "hit_rate": self.hit_rate,
            "coverage": self.coverage,
            "seconds": round(self.seconds, 1),
        }


def combinations(
    base: P, grid: Mapping[str, Sequence[GridValue]], where: str
) -> list[tuple[dict[str, GridValue], P]]:
    """Every combination of ``grid`` applied to ``base`` (validated), in the grid's order."""
    unknown = sorted(set(grid) - set(type(base).model_fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown parameter(s) {unknown}; expected some of {sorted(type(base).model_fields)}"
        )
    empty = sorted(name for name, values in grid.items() if not values)
    if empty:
        raise ConfigError(f"{where}: no values to try for {empty}")
    names = list(grid)
    out = []
    for values in itertools.product(*(grid[n] for n in names)):
        combo = dict(zip(names, values, strict=True))
        try:
            out.append((combo, type(base).model_validate({**base.model_dump(), **combo})))
        except ValidationError as exc:
            raise ConfigError(f"{where}: {combo} is not a valid setting: {exc.errors()[0]['msg']}") from exc
    return out


def meets_floor(trials: Sequence[Trial], min_coverage: float) -> bool:
    """Whether at least one trial reaches the validation coverage floor."""
    return any(t.coverage >= min_coverage for t in trials)


def best(trials: Sequence[Trial], min_coverage: float = 0.0) -> int:
    """Index of the best trial (see the module docstring)."""
    if not trials:
        raise ValueError("no trials to choose from")
    if not meets_floor(trials, min_coverage):
        return max(range(len(trials)), key=lambda i: (trials[i].coverage, trials[i].hit_rate, -i))
    eligible = [i for i, t in enumerate(trials) if t.coverage >= min_coverage]
    return max(eligible, key=lambda i: (trials[i].hit_rate, trials[i].coverage, -i))


def tune(
    base: P,
    grid: Mapping[str, Sequence[GridValue]],
    make: Callable[[P], Recommender],
    validation: Holdout,
    *,
    catalog_size: int,
    k: int,
    min_coverage: float,
    where: str,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[P, list[Trial]]:
    """The best parameters of ``grid`` around ``base`` on ``validation``, and every trial."""
    from recommendations.evaluation import run_model

    candidates = combinations(base, grid, where)
    trials = []
    for combo, params in candidates:
        result = run_model(make(params), validation, catalog_size, [k])
        m = result.metrics[k]
        seconds = result.train_seconds + result.score_seconds
        trials.append(Trial(combo, m.hit_rate, m.coverage, seconds))
        log(
            f"tuning {where} {combo}: validation HitRate@{k} {m.hit_rate:.4f}, coverage {m.coverage:.2%} "
            f"({seconds:.0f} s)"
        )
    return candidates[best(trials, min_coverage)][1], trials
