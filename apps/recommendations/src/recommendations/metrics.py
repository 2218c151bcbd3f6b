"""Ranking metrics of one recommender on a hold-out, computed on the driver from ranked lists.

Plain Python on purpose: the lists of every model are collected once (users x 50 items is small)
and every metric, at every cut-off K, is computed from the same two inputs — so the metrics are
the same code for every model and can be checked by hand on tiny inputs without a JVM.

Inputs:

- ``ranked``: user → their recommended items, best first, each with a flag saying whether the
  model itself ranked it (``True``) or the popular fallback filled the slot (``False``); every user
  the recommender serves (every user with training data) is a key;
- ``truth``: evaluated user → their test positives (only users with at least one).

Definitions, for an evaluated user with hits ``h`` among their top K and ``P`` test positives
(a user absent from ``ranked`` has no hits):

- ``HitRate@K``   share of evaluated users with ``h >= 1``;
- ``Precision@K`` mean of ``h / K``;
- ``Recall@K``    mean of ``h / P``;
- ``NDCG@K``      mean of ``DCG / IDCG``, ``DCG = sum over hit ranks r of 1 / log2(r + 1)``,
  ``IDCG`` the same sum over ranks ``1 .. min(P, K)``;
- ``MAP@K``       mean of ``AP = (sum over hit ranks r of hits-within-the-first-r / r) / min(P, K)``;
- ``coverage``    distinct items in the top K of *every* user in ``ranked`` / catalog items;
- ``personalised`` share of the evaluated users whose top K holds at least one item the model
  ranked itself (the rest got the popular fallback only).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

#: one recommendation in a ranked list: (item_id, ranked by the model itself — not the fallback)
Ranked = Mapping[int, Sequence[tuple[int, bool]]]


@dataclass(frozen=True)
class RankingMetrics:
    """Metrics of one recommender at one cut-off ``k``."""

    model: str
    k: int
    users: int
    hit_rate: float
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float
    items_recommended: int
    personalised: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(k: int, catalog_size: int) -> None:
    if k < 1:
        raise ValueError(f"the cut-off k must be >= 1, got {k}")
    if catalog_size < 1:
        raise ValueError(f"catalog_size must be >= 1, got {catalog_size}")


def ranking_metrics(
    model: str, ranked: Ranked, truth: Mapping[int, set[int]], k: int, catalog_size: int
) -> RankingMetrics:
    """The metrics of the module docstring for ``ranked`` against ``truth`` at cut-off ``k``."""
    _check(k, catalog_size)
    if not truth:
        raise ValueError("no evaluated users: truth is empty")
    # per-user terms, summed with math.fsum (exactly rounded): the users arrive in whatever order the
    # engine collected them, and a plain float sum differed in the last bit between Spark and DuckDB
    terms: dict[str, list[float]] = {
        m: [] for m in ("hit", "precision", "recall", "ndcg", "map", "personalised")
    }
    for user, positives in truth.items():
        if not positives:
            raise ValueError(f"user {user} has no test positives; leave such users out of truth")
        top = list(ranked.get(user, ()))[:k]
        hits, dcg, precision_sum = 0, 0.0, 0.0
        for rank, (item, _) in enumerate(top, start=1):
            if item in positives:
                hits += 1
                dcg += 1.0 / math.log2(rank + 1)
                precision_sum += hits / rank
        ideal = min(len(positives), k)
        idcg = sum(1.0 / math.log2(rank + 1) for rank in range(1, ideal + 1))
        terms["hit"].append(float(hits > 0))
        terms["precision"].append(hits / k)
        terms["recall"].append(hits / len(positives))
        terms["ndcg"].append(dcg / idcg)
        terms["map"].append(precision_sum / ideal)
        terms["personalised"].append(float(any(own for _, own in top)))
    n = len(truth)
    sums = {m: math.fsum(values) for m, values in terms.items()}
    items = {item for recs in ranked.values() for item, _ in list(recs)[:k]}
    return RankingMetrics(
        model=model,
        k=k,
        users=n,
        hit_rate=sums["hit"] / n,
        precision=sums["precision"] / n,
        recall=sums["recall"] / n,
        ndcg=sums["ndcg"] / n,
        map=sums["map"] / n,
        coverage=len(items) / catalog_size,
        items_recommended=len(items),
        personalised=sums["personalised"] / n,
    )


def hit_rate_curve(ranked: Ranked, truth: Mapping[int, set[int]], ks: Iterable[int]) -> dict[int, float]:
    """HitRate@K for each K of ``ks`` (the plot of the docs): K → share of users with a hit in the top K."""
    if not truth:
        raise ValueError("no evaluated users: truth is empty")
    first_hit: list[int | None] = []
    for user, positives in truth.items():
        ranks = [r for r, (item, _) in enumerate(ranked.get(user, ()), start=1) if item in positives]
        first_hit.append(ranks[0] if ranks else None)
    curve = {}
    for k in ks:
        if k < 1:
            raise ValueError(f"the cut-off k must be >= 1, got {k}")
        curve[k] = sum(1 for r in first_hit if r is not None and r <= k) / len(first_hit)
    return curve
