"""The recommender: item-item cosine similarity on positive interactions, with a popularity fallback.

Pure DataFrame functions shared by ``build_recommendations`` (on the window of the logical date)
and ``evaluate_recommendations`` (on each user's older ratings), so what is evaluated is exactly
what is served.

1. Positives: interactions rated ``>= positive_rating``.
2. Similarity: for each pair of items, ``cooccurrence`` = users who liked both (each user counts
   with their ``max_items_per_user`` most recent positives, which bounds the quadratic pair
   count of very heavy users); pairs liked together by fewer than ``min_cooccurrence`` users are
   dropped; ``score = cooccurrence / (sqrt(n_i * n_j) + shrinkage)`` (cosine of the binary
   like-vectors, ``n`` = users who liked the item, shrunk towards 0 for pairs with little support),
   divided by ``n_j ** popularity_penalty`` for the neighbour ``j`` (0: plain cosine; > 0 lets
   less popular neighbours through); the ``top_k`` most similar items per item are kept.
3. Scoring: a user's candidate score is the sum of the similarities between the candidate and the
   items the user liked; items the user already rated are excluded; the ``top_n`` best are the
   ``item_knn`` recommendations (users with fewer than ``min_user_positives`` positives get none).
4. Fallback: every user's list is topped up to ``top_n`` with the most popular items (most users
   who liked them) that the user has not rated and that are not already in the list
   (``source = 'popular'``).

Ties are broken by item id, so a rerun on the same input gives the same ranks.

Skew: a self-join on ``user_id`` to count co-occurrences would put a heavy user's thousands of
likes (squared) into one task; instead each user's bounded list is gathered once and its pairs are
generated in place. The scoring join on ``item_id`` is skewed too (popular items are everybody's
seeds): it goes through :func:`sparkjobs.spark.salting.salted_join`, with ``salt_buckets`` from
the Spark settings (``--salt``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from sparkjobs.spark.salting import salted_join

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

ITEM_KNN = "item_knn"
POPULAR = "popular"


class ModelParams(BaseModel):
    """Parameters of the recommender (``model:`` in the build and evaluate job configs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    positive_rating: float = Field(4.0, description="a rating at or above this is a positive interaction")
    min_cooccurrence: int = Field(2, ge=1, description="item pairs liked together by fewer users are ignored")
    max_items_per_user: int = Field(
        100, ge=1, description="similarity counts each user's N most recent positives (bounds heavy users)"
    )
    top_k: int = Field(25, ge=1, description="similar items kept per item (published and used for scoring)")
    top_n: int = Field(20, ge=1, le=1000, description="recommendations per user")
    min_user_positives: int = Field(1, ge=1, description="users with fewer positives get popular items only")
    popular_pool: int = Field(
        1000, ge=1, description="popular items published, and the pool the fallback draws from"
    )
    shrinkage: float = Field(
        0.0, ge=0.0, description="added to the cosine's denominator: pairs with little support score lower"
    )
    popularity_penalty: float = Field(
        0.0, ge=0.0, le=1.0, description="a neighbour's score is divided by (its likes) ** this"
    )


@dataclass
class ModelOutput:
    """What :func:`fit_and_recommend` produces (lazy frames)."""

    similar_items: DataFrame  # item_id, similar_item_id, score, cooccurrence, rank
    popular_items: DataFrame  # item_id, score, rank
    recommendations: DataFrame  # user_id, item_id, score, rank, source


#: the exact type scores are summed in: 18 decimals, magnitudes below 1e20 (similarities are <= 1)
EXACT_SUM_TYPE = "decimal(38,18)"


#: what the model functions call on an intermediate frame that is used twice or that a long plan
#: continues from; the job decides what to do with it: BuildRecommendationsJob persists it on DuckDB,
#: where SQLFrame plans in Python and copies the whole expression tree at each operation (a cut
#: keeps the trees short), and leaves it alone on Spark. The default does nothing.
Reuse = Callable[["DataFrame"], "DataFrame"]


def _as_is(df: DataFrame) -> DataFrame:
    return df


def exact_sum(column: str) -> Column:
    """Sum of the non-null values of ``column`` in a group, exactly (null if none), as a double.

    ``F.sum`` adds doubles in whatever order the shuffle delivers them, so the last bits of a
    score could change between two runs over the same input — and a rerun must publish
    byte-for-byte the same snapshot. Each term is rounded to 18 decimals and added as a decimal:
    addition is then exact, so the total does not depend on the order, and it is still a plain
    ``sum`` (partially aggregated before the shuffle; sorting the terms of every group first, as
    an earlier version did, blocked that and grew with every candidate row).

    Each term goes to the decimal through its shortest text: that is how Spark casts a double to a
    decimal (0.40824829046386313 -> 0.408248290463863130), while DuckDB's cast takes the double's
    exact binary value (-> 0.408248290463863104), so the scores differed in the last bit between
    the engines; through the text both give Spark's decimal (tests/app/spark/test_engine_parity.py).
    On Spark the text is skipped: its cast already takes the shortest text (same decimals, checked by
    test_sparks_decimal_cast_of_a_double_is_the_cast_of_its_text), and formatting every term as a
    string cost ~0.7 s of CPU per 2.3M candidate rows (MovieLens' item-kNN scoring).
    """
    from sparkjobs.sql import F, current_engine

    term = F.col(column) if current_engine() == "spark" else F.col(column).cast("string")
    return F.sum(term.cast(EXACT_SUM_TYPE)).cast("double")


def positives(interactions: DataFrame, params: ModelParams) -> DataFrame:
    """``user_id, item_id, timestamp`` of the interactions rated ``>= positive_rating``."""
    from sparkjobs.sql import F

    return interactions.filter(F.col("rating") >= F.lit(params.positive_rating)).select(
        "user_id", "item_id", "timestamp"
    )


def item_similarity(liked: DataFrame, params: ModelParams, reuse: Reuse = _as_is) -> DataFrame:
    """Top-``top_k`` cosine neighbours per item: ``item_id, similar_item_id, score, cooccurrence, rank``.

    ``reuse`` is applied to the frames used twice below (each user's bounded list, the scored pairs)."""
    from sparkjobs.sql import F, Window

    recent_first = Window.partitionBy("user_id").orderBy(F.col("timestamp").desc(), F.col("item_id").desc())
    recent = reuse(
        liked.select("user_id", "item_id", "timestamp")
        .withColumn("__n", F.row_number().over(recent_first))
        .filter(F.col("__n") <= params.max_items_per_user)
        .select("user_id", "item_id")
    )
    likes = recent.groupBy("item_id").agg(F.count(F.lit(1)).alias("likes"))
    # Pairs inside each user's (bounded) list instead of a self-join on user_id: one shuffle to
    # gather the lists, then every pair a < b is generated in place; heavy users cost at most
    # max_items_per_user² / 2 pairs, so the skew of the self-join never appears.
    # Positions are 1-based in element_at on every engine (a lambda's index is 0-based on Spark and
    # 1-based on DuckDB, so none is used); sequence(i + 1, n) is ascending because i < n.
    per_user = (
        recent.groupBy("user_id")
        .agg(F.array_sort(F.collect_set("item_id")).alias("items"))
        .withColumn("n", F.size("items"))
        .filter(F.col("n") >= 2)
    )
    firsts = per_user.select("items", "n", F.explode(F.sequence(F.lit(1), F.col("n") - 1)).alias("i"))
    pairs = (
        firsts.select(
            F.element_at("items", F.col("i")).alias("item_a"),
            F.explode(F.sequence(F.col("i") + 1, F.col("n"))).alias("j"),
            "items",
        )
        .select("item_a", F.element_at("items", F.col("j")).alias("item_b"))
        .groupBy("item_a", "item_b")
        .agg(F.count(F.lit(1)).alias("cooccurrence"))
        .filter(F.col("cooccurrence") >= params.min_cooccurrence)
    )
    scored = reuse(
        pairs.join(
            F.broadcast(likes.select(F.col("item_id").alias("item_a"), F.col("likes").alias("likes_a"))),
            "item_a",
        )
        .join(
            F.broadcast(likes.select(F.col("item_id").alias("item_b"), F.col("likes").alias("likes_b"))),
            "item_b",
        )
        .select(
            "item_a",
            "item_b",
            "cooccurrence",
            "likes_a",
            "likes_b",
            (
                F.col("cooccurrence")
                / (F.sqrt(F.col("likes_a").cast("double") * F.col("likes_b")) + F.lit(params.shrinkage))
            ).alias("score"),
        )
    )

    def towards(neighbour_likes: str) -> Column:
        if params.popularity_penalty == 0:
            return F.col("score")
        return F.col("score") / F.pow(F.col(neighbour_likes).cast("double"), F.lit(params.popularity_penalty))

    both_ways = scored.select(
        F.col("item_a").alias("item_id"),
        F.col("item_b").alias("similar_item_id"),
        towards("likes_b").alias("score"),
        "cooccurrence",
    ).unionByName(
        scored.select(
            F.col("item_b").alias("item_id"),
            F.col("item_a").alias("similar_item_id"),
            towards("likes_a").alias("score"),
            "cooccurrence",
        )
    )
    best_first = Window.partitionBy("item_id").orderBy(F.col("score").desc(), F.col("similar_item_id"))
    return (
        both_ways.withColumn("rank", F.row_number().over(best_first))
        .filter(F.col("rank") <= params.top_k)
        .select(
            F.col("item_id").cast("int"),
            F.col("similar_item_id").cast("int"),
            F.col("score").cast("double"),
            F.col("cooccurrence").cast("int"),
            F.col("rank").cast("int"),
        )
    )


def popular_items(liked: DataFrame, params: ModelParams) -> DataFrame:
    """The ``popular_pool`` items liked by most users: ``item_id, score (users), rank``."""
    from sparkjobs.sql import F, Window

    order = Window.orderBy(F.col("score").desc(), F.col("item_id"))
    return (
        liked.groupBy("item_id")
        .agg(F.countDistinct("user_id").cast("double").alias("score"))
        .withColumn("rank", F.row_number().over(order))
        .filter(F.col("rank") <= params.popular_pool)
        .select(F.col("item_id").cast("int"), "score", F.col("rank").cast("int"))
    )


def recommend(
    users: DataFrame,
    rated: DataFrame,
    liked: DataFrame,
    similar: DataFrame,
    popular: DataFrame,
    params: ModelParams,
    salt_buckets: int = 1,
    reuse: Reuse = _as_is,
) -> DataFrame:
    """``top_n`` recommendations per user of ``users``: ``user_id, item_id, score, rank, source``.

    ``rated`` (``user_id, item_id``): everything each user rated (never recommended back);
    ``liked``: the positives the scores start from; ``similar``/``popular``: from
    :func:`item_similarity` / :func:`popular_items`.

    One aggregation does it all: the user's (seed, neighbour) pairs, the popular candidates and the
    rated items are unioned and grouped by (user, item) (partially aggregated before the shuffle);
    a group with a rated row is dropped, the rest are ordered knn-first (by summed similarity)
    then popular (by popularity rank). ``reuse`` is applied to the grouped candidates (:data:`Reuse`).
    """
    from sparkjobs.sql import F, Window

    top_n = params.top_n
    users = users.select(F.col("user_id").cast("int")).distinct()
    rated = rated.select(F.col("user_id").cast("int"), F.col("item_id").cast("int"))
    per_user = Window.partitionBy("user_id")
    seeds = (
        liked.select(F.col("user_id").cast("int"), F.col("item_id").cast("int"))
        .distinct()
        .join(users, "user_id", "left_semi")
        .withColumn("__positives", F.count(F.lit(1)).over(per_user))
        .filter(F.col("__positives") >= params.min_user_positives)
        .select("user_id", "item_id")
    )
    neighbours = similar.select("item_id", "similar_item_id", F.col("score").alias("similarity"))
    knn_rows = salted_join(seeds, neighbours, "item_id", salt_buckets).select(
        "user_id",
        F.col("similar_item_id").alias("item_id"),
        F.col("similarity"),
        F.lit(None).cast("int").alias("pop_rank"),
        F.lit(None).cast("double").alias("pop_score"),
        F.lit(False).alias("rated"),
    )
    # A user loses at most (their rated popular items + top_n knn items) of the popular pool, so
    # pool ranks up to 2 * top_n + that count are enough to fill any list.
    pool = F.broadcast(
        popular.select("item_id", F.col("score").alias("pop_score"), F.col("rank").alias("pop_rank"))
    )
    rated_popular = rated.join(pool.select("item_id"), "item_id").groupBy("user_id").count()
    bounds = users.join(rated_popular, "user_id", "left").select(
        "user_id", (F.lit(2 * top_n) + F.coalesce(F.col("count"), F.lit(0))).alias("bound")
    )
    popular_rows = bounds.join(pool, F.col("pop_rank") <= F.col("bound")).select(
        "user_id",
        "item_id",
        F.lit(None).cast("double").alias("similarity"),
        "pop_rank",
        "pop_score",
        F.lit(False).alias("rated"),
    )
    rated_rows = rated.join(users, "user_id", "left_semi").select(
        "user_id",
        "item_id",
        F.lit(None).cast("double").alias("similarity"),
        F.lit(None).cast("int").alias("pop_rank"),
        F.lit(None).cast("double").alias("pop_score"),
        F.lit(True).alias("rated"),
    )
    candidates = reuse(
        knn_rows.unionByName(popular_rows)
        .unionByName(rated_rows)
        .groupBy("user_id", "item_id")
        .agg(
            F.max("rated").alias("rated"),
            exact_sum("similarity").alias("similarity"),
            F.min("pop_rank").alias("pop_rank"),
            F.max("pop_score").alias("pop_score"),
        )
        .filter(~F.col("rated"))
        .withColumn("__knn", F.col("similarity").isNotNull())
    )
    order = per_user.orderBy(
        F.col("__knn").desc(), F.col("similarity").desc(), F.col("pop_rank"), F.col("item_id")
    )
    ranked = candidates.withColumn("rank", F.row_number().over(order)).filter(F.col("rank") <= top_n)
    return ranked.select(
        F.col("user_id").cast("int"),
        F.col("item_id").cast("int"),
        F.when(F.col("__knn"), F.col("similarity"))
        .otherwise(F.col("pop_score"))
        .cast("double")
        .alias("score"),
        F.col("rank").cast("int"),
        F.when(F.col("__knn"), F.lit(ITEM_KNN)).otherwise(F.lit(POPULAR)).alias("source"),
    )


def fit(
    interactions: DataFrame, params: ModelParams, keep: Reuse = _as_is, reuse: Reuse = _as_is
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """The positives of ``interactions`` (``user_id, item_id, rating, timestamp``), the item
    similarity and the popular pool; ``keep`` is applied to the last two (published and scored
    from), ``reuse`` inside :func:`item_similarity`."""
    liked = positives(interactions, params)
    similar = keep(item_similarity(liked, params, reuse))
    popular = keep(popular_items(liked, params))
    return liked, similar, popular


def fit_and_recommend(
    users: DataFrame,
    rated: DataFrame,
    interactions: DataFrame,
    params: ModelParams,
    salt_buckets: int = 1,
) -> ModelOutput:
    """Similarity and popularity from ``interactions`` (``user_id, item_id, rating, timestamp``),
    then recommendations for ``users`` excluding ``rated``."""
    liked, similar, popular = fit(interactions, params)
    recs = recommend(users, rated, liked, similar, popular, params, salt_buckets)
    return ModelOutput(similar, popular, recs)
