"""Every recommender on the same hold-out, item-kNN, EASE^R and ALS tuned on a validation split first.

:class:`ComparisonSpec` is the shared configuration (``evaluate_recommendations`` and
``python -m recommendations.compare``); :func:`compare` runs it; :func:`default_verdict` /
:func:`default_model` read the verdict *on validation*; :func:`tuning_report` is what the tuning
tried and chose, on validation only.

Protocol: the test part is held out first (:func:`recommendations.evaluation.holdout`); the
validation split is carved from the *training* part alone, the same way; every grid combination of
each servable model (item-kNN, EASE^R, ALS; an empty grid is one combination: the parameters as
given) is fitted on the validation split's training part and scored on its held-out positives; the
choice (:func:`recommendations.tuning.best`: the best validation HitRate@K among the combinations
whose validation coverage@K reaches ``tuning.min_coverage``, else the best validation coverage;
ties: higher validation coverage, then grid order) is fitted on the whole training part and scored
on the test part, once per model. The default model is chosen by the same rule over each model's
chosen combination *on validation* (ties: item-kNN, EASE^R, ALS); the test numbers only report it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from recommendations.evaluation import ModelResult, holdout, run_model
from recommendations.model import ModelParams
from recommendations.models import AlsParams, EaseParams, make_recommender
from recommendations.tuning import GridValue, Trial, best, combinations, meets_floor, tune
from sparkjobs.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

EvaluatedModel = Literal["popularity", "item_knn", "ease", "als"]
SERVABLE = ("item_knn", "ease", "als")


def _all_models() -> list[EvaluatedModel]:
    return ["popularity", "item_knn", "ease", "als"]


# the grids of the documented run (docs/comparison/spec.yml writes them out)
def _default_knn_grid() -> dict[str, list[GridValue]]:
    return {"max_items_per_user": [50, 100, 200], "top_k": [25, 50, 100]}


def _default_ease_grid() -> dict[str, list[GridValue]]:
    return {"l2": [25.0, 50.0, 100.0, 200.0], "popularity_penalty": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]}


def _default_als_grid() -> dict[str, list[GridValue]]:
    return {"alpha": [1.0, 2.5, 5.0, 10.0, 20.0, 40.0]}


def _checked(base: BaseModel, grid: dict[str, list[GridValue]], where: str) -> dict[str, list[GridValue]]:
    """``grid`` if every combination is a valid setting of ``base`` (pydantic wants a ValueError)."""
    try:
        combinations(base, grid, where)
    except ConfigError as exc:
        raise ValueError(str(exc)) from exc
    return grid


class TuningSpec(BaseModel):
    """The validation split and the grids (an empty grid: the parameters are used as given)."""

    model_config = ConfigDict(extra="forbid")

    validation_fraction: float = Field(
        0.2, gt=0.0, lt=1.0, description="share of each user's latest *training* ratings used to tune"
    )
    min_coverage: float = Field(
        0.10,
        ge=0.0,
        le=1.0,
        description="validation coverage@K floor of the tuning and of the default model (0: off); "
        "when nothing reaches it, the best validation coverage is chosen",
    )
    item_knn: dict[str, list[GridValue]] = Field(
        default_factory=_default_knn_grid, description="grid over `params.*` (item-kNN)"
    )
    ease: dict[str, list[GridValue]] = Field(
        default_factory=_default_ease_grid, description="grid over `ease.*`"
    )
    als: dict[str, list[GridValue]] = Field(
        default_factory=_default_als_grid, description="grid over `als.*`"
    )

    @field_validator("item_knn")
    @classmethod
    def _knn_keys(cls, grid: dict[str, list[GridValue]]) -> dict[str, list[GridValue]]:
        return _checked(ModelParams(), grid, "tuning.item_knn")

    @field_validator("ease")
    @classmethod
    def _ease_keys(cls, grid: dict[str, list[GridValue]]) -> dict[str, list[GridValue]]:
        return _checked(EaseParams(), grid, "tuning.ease")

    @field_validator("als")
    @classmethod
    def _als_keys(cls, grid: dict[str, list[GridValue]]) -> dict[str, list[GridValue]]:
        return _checked(AlsParams(), grid, "tuning.als")

    def grid(self, model: str) -> dict[str, list[GridValue]]:
        """The grid of ``model`` (empty for popularity, which has nothing to tune)."""
        grids = {"item_knn": self.item_knn, "ease": self.ease, "als": self.als}
        return grids.get(model, {})


class ComparisonSpec(BaseModel):
    """What is compared, on which split, with which cut-offs."""

    model_config = ConfigDict(extra="forbid")

    test_fraction: float = Field(
        0.2, gt=0.0, lt=1.0, description="share of each user's latest ratings held out"
    )
    cutoffs: list[int] = Field(
        default_factory=lambda: [10, 20], description="K of the metrics (first: headline)"
    )
    curve_max_k: int = Field(50, ge=1, le=500, description="HitRate@K is also reported for K = 1..this")
    models: list[EvaluatedModel] = Field(default_factory=_all_models, description="models compared")
    params: ModelParams = Field(default_factory=ModelParams, description="item-kNN and shared parameters")
    ease: EaseParams = Field(default_factory=EaseParams, description="EASE^R parameters")
    als: AlsParams = Field(default_factory=AlsParams, description="ALS parameters")
    tuning: TuningSpec = Field(default_factory=TuningSpec, description="validation split and grids")

    @model_validator(mode="after")
    def _check(self) -> ComparisonSpec:
        if not self.cutoffs or any(k < 1 or k > 500 for k in self.cutoffs):
            raise ValueError(f"cutoffs must be 1..500, at least one; got {self.cutoffs}")
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"models listed twice: {self.models}")
        return self

    @property
    def k(self) -> int:
        return self.cutoffs[0]


@dataclass(frozen=True)
class Comparison:
    """The outcome: one result per model, in the order of ``spec.models``."""

    spec: ComparisonSpec
    users: int
    catalog_size: int
    results: dict[str, ModelResult]
    #: evaluated users of the validation split (``None``: nothing was tuned)
    validation_users: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.spec.k,
            "cutoffs": self.spec.cutoffs,
            "test_fraction": self.spec.test_fraction,
            "validation_fraction": self.spec.tuning.validation_fraction,
            "positive_rating": self.spec.params.positive_rating,
            "evaluated_users": self.users,
            "catalog_items": self.catalog_size,
            "default_model": default_model(self),
            "default": default_verdict(self),
            "models": {name: r.to_dict() for name, r in self.results.items()},
        }


TIE_BREAK = "higher validation coverage@{k}, then the earlier combination of the grid"


def rule(spec: ComparisonSpec) -> str:
    """The choice rule in words (tuning and default model)."""
    k, floor = spec.k, spec.tuning.min_coverage
    if not floor:
        return f"highest validation HitRate@{k}; ties: {TIE_BREAK.format(k=k)}"
    return (
        f"highest validation HitRate@{k} among the combinations with validation coverage@{k} >= "
        f"{floor * 100:g}% (if none reaches it: the highest validation coverage@{k}); ties: "
        f"{TIE_BREAK.format(k=k)}"
    )


def _trials(result: ModelResult) -> list[Trial]:
    return [Trial(t["params"], t["hit_rate"], t["coverage"]) for t in result.tuning]


def tuning_report(comparison: Comparison) -> dict[str, Any]:
    """The grids, every validation trial and the chosen combination per tuned model (no test number)."""
    spec = comparison.spec
    floor = spec.tuning.min_coverage
    models = {}
    for name, result in comparison.results.items():
        if not result.tuning:
            continue
        trials = _trials(result)
        models[name] = {
            "grid": spec.tuning.grid(name),
            "trials": result.tuning,
            "chosen": result.tuning[best(trials, floor)]["params"],
            "floor_met": meets_floor(trials, floor),
        }
    return {
        "k": spec.k,
        "validation_fraction": spec.tuning.validation_fraction,
        "validation_users": comparison.validation_users,
        "min_coverage": floor,
        "rule": rule(spec),
        "models": models,
    }


def default_verdict(comparison: Comparison) -> dict[str, Any] | None:
    """The default model, chosen on the validation split only: each servable model's chosen
    combination is a candidate with its validation HitRate@K and coverage@K, and the rule of the
    tuning (:func:`recommendations.tuning.best`, same floor) picks among them (ties: higher
    validation coverage, then item-kNN, EASE^R, ALS). ``None`` when no servable model was validated.
    Returns ``model``, ``floor_met`` (False: nothing reached the floor, the best coverage was taken),
    ``min_coverage`` and ``validation`` (per candidate: params, hit_rate, coverage)."""
    floor = comparison.spec.tuning.min_coverage
    validation: dict[str, dict[str, Any]] = {}
    for name in SERVABLE:
        result = comparison.results.get(name)
        if result is None or not result.tuning:
            continue
        trial = result.tuning[best(_trials(result), floor)]
        validation[name] = {k: trial[k] for k in ("params", "hit_rate", "coverage")}
    if not validation:
        return None
    names = list(validation)  # in SERVABLE order: an exact tie goes to the earlier
    candidates = [
        Trial(validation[n]["params"], validation[n]["hit_rate"], validation[n]["coverage"]) for n in names
    ]
    return {
        "model": names[best(candidates, floor)],
        "min_coverage": floor,
        "floor_met": meets_floor(candidates, floor),
        "validation": validation,
    }


def default_model(comparison: Comparison) -> str | None:
    """The model of :func:`default_verdict` (chosen on validation)."""
    verdict = default_verdict(comparison)
    return None if verdict is None else str(verdict["model"])


def compare(
    interactions: DataFrame,
    catalog_size: int,
    spec: ComparisonSpec,
    *,
    salt_buckets: int = 1,
    log: Callable[[str], None] = lambda _: None,
) -> Comparison:
    """Tune (on validation), then fit every model of ``spec.models`` on the training part and score it."""
    top_n = max([*spec.cutoffs, spec.curve_max_k])
    params = spec.params.model_copy(update={"top_n": top_n})
    chosen: dict[str, Any] = {"item_knn": params, "ease": spec.ease, "als": spec.als}

    def make(name: str, **override: Any) -> Any:
        p = {**chosen, **override}
        return make_recommender(name, p["item_knn"], ease=p["ease"], als=p["als"], salt_buckets=salt_buckets)

    data = holdout(interactions, spec.test_fraction, params.positive_rating)
    trials: dict[str, list[Trial]] = {}
    validation_users = None
    try:
        # every servable model is scored on validation (an empty grid: once, as given), so the
        # default model can be chosen there and not on the test part
        tuned = [name for name in spec.models if name in SERVABLE]
        if tuned:
            # carved from the training part only: the test part is not in data.train
            validation = holdout(data.train, spec.tuning.validation_fraction, params.positive_rating)
            validation_users = len(validation.truth)
            try:
                for name in tuned:
                    chosen[name], trials[name] = tune(
                        chosen[name],
                        spec.tuning.grid(name),
                        lambda p, name=name: make(name, **{name: p}),  # type: ignore[misc]
                        validation,
                        catalog_size=catalog_size,
                        k=spec.k,
                        min_coverage=spec.tuning.min_coverage,
                        where=f"tuning.{name}",
                        log=log,
                    )
            finally:
                validation.release()
        params, ease, als = chosen["item_knn"], chosen["ease"], chosen["als"]
        curve = range(1, spec.curve_max_k + 1)
        results: dict[str, ModelResult] = {}
        for name in spec.models:
            result = run_model(make(name), data, catalog_size, spec.cutoffs, curve)
            results[name] = ModelResult(
                **{
                    **result.__dict__,
                    "params": _params_of(name, params, ease, als),
                    "tuning": [t.to_dict() for t in trials.get(name, [])],
                }
            )
            m = result.metrics[spec.k]
            log(
                f"{name}: HitRate@{spec.k} {m.hit_rate:.4f}, coverage {m.coverage:.2%} "
                f"(fit {result.train_seconds:.1f} s, score {result.score_seconds:.1f} s)"
            )
    finally:
        data.release()
    return Comparison(spec, len(data.truth), catalog_size, results, validation_users)


def _params_of(name: str, params: ModelParams, ease: EaseParams, als: AlsParams) -> dict[str, Any]:
    shared = {"positive_rating": params.positive_rating, "popular_pool": params.popular_pool}
    if name == "ease":
        return {**shared, **ease.model_dump()}
    if name == "als":
        return {**shared, **als.model_dump()}
    if name == "popularity":
        return shared
    knn = {
        "min_cooccurrence",
        "max_items_per_user",
        "top_k",
        "shrinkage",
        "popularity_penalty",
        "min_user_positives",
    }
    return {**shared, **{k: v for k, v in params.model_dump().items() if k in knn}}
