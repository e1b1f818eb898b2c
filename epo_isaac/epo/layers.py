"""The network's plain-torch parts that the settings also name: activations, log-std modes and the MLP.

Kept apart from :mod:`epo_isaac.epo.networks` (an rl_games ``NetworkBuilder``) so that the settings
(:mod:`epo_isaac.epo.config`) and the library API built on them (:mod:`epo_isaac.epo.gene_pool`) import without
rl_games.
"""

from __future__ import annotations

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}
LOG_STD_MODES: tuple[str, ...] = ("per_agent", "shared", "shared_plus_offset")


def mlp(in_size: int, units: list[int], activation: str) -> nn.Sequential:
    """Dense layers ``in_size -> units[0] -> ... -> units[-1]``, each followed by ``activation``.

    Raises:
        ValueError: ``activation`` is not a key of :data:`ACTIVATIONS`.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for unit in units:
        layers += [nn.Linear(in_size, unit), ACTIVATIONS[activation]()]
        in_size = unit
    return nn.Sequential(*layers)
