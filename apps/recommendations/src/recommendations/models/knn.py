"""Popularity and item-kNN as :class:`~recommendations.models.base.Recommender` s (the logic is
:mod:`recommendations.model`, shared with the build)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from recommendations.model import ModelParams, item_similarity, positives, recommend
from recommendations.models.base import Recommender

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class ItemKnnRecommender(Recommender):
    """Item-item cosine neighbours (:func:`recommendations.model.item_similarity`), popular fallback."""

    name = "item_knn"

    def __init__(self, params: ModelParams, salt_buckets: int = 1) -> None:
        super().__init__(params)
        self.salt_buckets = salt_buckets

    def neighbours(self, liked: DataFrame) -> DataFrame:
        return item_similarity(liked, self.params)

    def fit(self, interactions: DataFrame) -> None:
        self.liked = self.keep(positives(interactions, self.params))
        self.similar = self.keep(self.neighbours(self.liked))
        self.popular = self.fit_popular(interactions)

    def recommend(self, users: DataFrame, rated: DataFrame) -> DataFrame:
        return recommend(users, rated, self.liked, self.similar, self.popular, self.params, self.salt_buckets)


class PopularityRecommender(ItemKnnRecommender):
    """The baseline: the same recommender without neighbours, i.e. the popular fallback alone."""

    name = "popularity"

    def neighbours(self, liked: DataFrame) -> DataFrame:
        return super().neighbours(liked).limit(0)
