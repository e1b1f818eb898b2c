"""The ES policy: a deterministic MLP, evaluated for a whole population in one batched forward, and the running
observation normaliser fed by the population's rollouts.

Source: Salimans et al. (2017), arXiv:1703.03864, §2.3 ("virtual batch" / observation normalisation, MuJoCo
setup: a feed-forward policy with two hidden layers, observations normalised by running statistics, clipped to
±5). The flat parameter vector θ ``[D]`` is ``ESPolicy.parameters()`` in order (weight then bias, layer by layer),
so :class:`~epo_isaac.es.optimizer.OpenAIES` optimises it and :func:`population_forward` reads P candidates
``[P, D]`` as P networks at once.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "elu": nn.ELU, "relu": nn.ReLU}
_FUNCTIONS = {"tanh": torch.tanh, "elu": torch.nn.functional.elu, "relu": torch.relu}


class ESPolicy(nn.Sequential):
    """obs ``[..., O]`` (already normalised) → actions ``[..., A]`` clamped to [−1, 1]; no critic, no noise.

    Args:
        num_obs: O.
        num_actions: A.
        units: hidden widths (e.g. ``[64, 64]``); empty for a linear policy.
        activation: ``tanh``, ``elu`` or ``relu``.

    Raises:
        ValueError: an unknown activation or a width < 1.
    """

    def __init__(self, num_obs: int, num_actions: int, units: list[int], activation: str) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if any(u < 1 for u in units):
            raise ValueError(f"hidden widths must be >= 1, got {units}")
        layers: list[nn.Module] = []
        width = num_obs
        for u in units:
            layers += [nn.Linear(width, u), ACTIVATIONS[activation]()]
            width = u
        layers.append(nn.Linear(width, num_actions))
        super().__init__(*layers)
        self.activation = activation
        self.shapes = [(m.out_features, m.in_features) for m in self if isinstance(m, nn.Linear)]

    def forward(self, obs: Tensor) -> Tensor:  # noqa: D102 (see class docstring)
        return super().forward(obs).clamp(-1.0, 1.0)


def population_forward(candidates: Tensor, obs: Tensor, shapes: list[tuple[int, int]], activation: str) -> Tensor:
    """Every candidate's network on its own block of observations, in one batched matmul per layer.

    Args:
        candidates: ``[P, D]`` flat parameter vectors (layout of :class:`ESPolicy`).
        obs: ``[P, B, O]`` normalised observations, block p for candidate p.
        shapes: ``ESPolicy.shapes``, (out, in) per linear layer.
        activation: the hidden activation (``ESPolicy.activation``).

    Returns:
        ``[P, B, A]`` actions clamped to [−1, 1]; row p equals ``ESPolicy`` loaded with ``candidates[p]``.

    Raises:
        ValueError: if D does not match ``shapes``.
    """
    dim = sum(o * i + o for o, i in shapes)
    if candidates.dim() != 2 or candidates.shape[1] != dim or obs.shape[0] != candidates.shape[0]:
        raise ValueError(f"expected candidates [P, {dim}] and obs [P, B, O], got {tuple(candidates.shape)} and "
                         f"{tuple(obs.shape)}")
    act = _FUNCTIONS[activation]
    x, offset, count = obs, 0, candidates.shape[0]
    for k, (out, inp) in enumerate(shapes):
        weight = candidates[:, offset:offset + out * inp].view(count, out, inp)
        offset += out * inp
        bias = candidates[:, offset:offset + out].view(count, 1, out)
        offset += out
        x = torch.baddbmm(bias, x, weight.transpose(1, 2))
        if k < len(shapes) - 1:
            x = act(x)
    return x.clamp(-1.0, 1.0)


class ObsNormalizer:
    """Running mean and variance of observations (float64, merged by Chan et al.'s parallel formula).

    ``normalize`` uses the statistics as of the last ``merge``: every candidate of a generation sees the same
    normaliser, and the rollouts of generation g update it for generation g + 1 (Salimans et al. §2.3).

    Args:
        num_obs: O.
        clip: normalised observations are clipped to [−clip, clip] (5 in the paper's code).
        min_var: variance floor, so constant observations stay finite (1e-2, the paper's code).
        device: where the statistics live.
    """

    def __init__(self, num_obs: int, clip: float = 5.0, min_var: float = 1e-2,
                 device: torch.device | str = "cpu") -> None:
        self.clip, self.min_var = clip, min_var
        self.count = 0.0
        self.mean = torch.zeros(num_obs, dtype=torch.float64, device=device)
        self.var = torch.ones(num_obs, dtype=torch.float64, device=device)
        self._refresh()

    def _refresh(self) -> None:
        self._mean32 = self.mean.float()
        self._inv_std32 = self.var.clamp_min(self.min_var).rsqrt().float()

    def normalize(self, obs: Tensor) -> Tensor:
        """``[..., O]`` → ``(obs − mean) / std`` clipped to ±clip (identity-scaled before the first merge)."""
        if self.count == 0:
            return obs.clamp(-self.clip, self.clip)
        return ((obs - self._mean32) * self._inv_std32).clamp(-self.clip, self.clip)

    def merge(self, moments: Tensor) -> None:
        """Fold in a batch given by ``moments`` = ``[3, O]`` float64 rows (count, Σx, Σx²) (see :func:`moments`);
        a zero count changes nothing."""
        count = float(moments[0, 0])
        if count <= 0:
            return
        mean_b = moments[1] / count
        var_b = (moments[2] / count - mean_b.square()).clamp_min(0.0)
        total = self.count + count
        delta = mean_b - self.mean
        m2 = self.var * self.count + var_b * count + delta.square() * self.count * count / total
        self.mean = self.mean + delta * (count / total)
        self.var = m2 / total
        self.count = total
        self._refresh()

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean.clone(), "var": self.var.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = float(state["count"])
        self.mean = state["mean"].to(self.mean)
        self.var = state["var"].to(self.var)
        self._refresh()


def moments(obs: Tensor) -> Tensor:
    """``[3, O]`` float64: (count, Σx, Σx²) of observations ``[N, O]`` (count broadcast over the row); sums of
    these over steps and ranks are what :meth:`ObsNormalizer.merge` takes."""
    x = obs.double()
    count = torch.full((x.shape[1],), float(x.shape[0]), dtype=torch.float64, device=x.device)
    return torch.stack((count, x.sum(0), x.square().sum(0)))
