"""Layered, validated configuration (never imports pyspark, pipelines or the CLI)."""

from sparkjobs.config.coerce import type_raw_value, type_raw_values
from sparkjobs.config.layers import ENV_PREFIX, LayeredConfig, available_envs, load_layers
from sparkjobs.config.secrets import MASK, mask, mask_text
from sparkjobs.config.tree import deep_merge, parse_scalar, split_key
from sparkjobs.config.validate import validate_model

__all__ = [
    "ENV_PREFIX",
    "MASK",
    "LayeredConfig",
    "available_envs",
    "deep_merge",
    "load_layers",
    "mask",
    "mask_text",
    "parse_scalar",
    "split_key",
    "type_raw_value",
    "type_raw_values",
    "validate_model",
]
