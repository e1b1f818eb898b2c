"""The leaves of a nested checkpoint (dicts, lists and tuples), for the tests that compare checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, leaf) of every leaf in nested dicts/lists/tuples: ``("model.a2c_network.latents", tensor)``."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{prefix}{k}.")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from leaves(v, f"{prefix}{i}.")
    else:
        yield prefix.rstrip("."), value
