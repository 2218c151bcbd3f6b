"""The reference application built on sparkjobs: a daily recommendation pipeline on MovieLens ratings.

raw daily event files → ``ingest_events`` (bronze) → ``build_recommendations`` (silver + gold)
→ ``load_recommendations`` (serving store) → HTTP API; ``evaluate_recommendations`` measures the
recommender against a popularity baseline. ``python -m recommendations.sample_data`` writes the
input, ``python -m recommendations.demo`` runs the whole chain once. See docs/recommendations.md.

Importing this package never imports pyspark.
"""

#: the one version source (apps/recommendations/pyproject.toml reads it)
__version__ = "0.1.0"

__all__: list[str] = []
