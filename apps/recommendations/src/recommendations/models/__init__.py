"""The recommenders compared by the evaluation and selectable in ``build_recommendations``.

Each is a :class:`~recommendations.models.base.Recommender`: ``fit`` on training interactions,
then ``recommend`` the ``top_n`` best unrated items per user, topped up with popular items —
``user_id, item_id, score, rank, source`` (``source`` is the model's name, or ``popular`` for a
slot the fallback filled). :func:`make_recommender` builds one by name.
"""

from __future__ import annotations

from typing import Literal

from recommendations.model import ModelParams
from recommendations.models.als import AlsParams, AlsRecommender
from recommendations.models.base import Recommender
from recommendations.models.ease import EaseParams, EaseRecommender
from recommendations.models.knn import ItemKnnRecommender, PopularityRecommender

#: the models a build can serve
ModelName = Literal["item_knn", "ease", "als"]
#: everything the evaluation compares, in report order
EVALUATED = ("popularity", "item_knn", "ease", "als")

__all__ = [
    "EVALUATED",
    "AlsParams",
    "EaseParams",
    "ModelName",
    "Recommender",
    "make_recommender",
]


def make_recommender(
    name: str, params: ModelParams, *, ease: EaseParams, als: AlsParams, salt_buckets: int = 1
) -> Recommender:
    """The recommender called ``name`` (one of :data:`EVALUATED`)."""
    if name == "popularity":
        return PopularityRecommender(params, salt_buckets)
    if name == "item_knn":
        return ItemKnnRecommender(params, salt_buckets)
    if name == "ease":
        return EaseRecommender(params, ease)
    if name == "als":
        return AlsRecommender(params, als)
    raise ValueError(f"unknown model {name!r}; expected one of {list(EVALUATED)}")
