"""OpenAI-ES: an ask/tell evolution strategy over a flat parameter vector or a torch module's parameters.

Source: Salimans, Ho, Chen, Sidor, Sutskever (2017), "Evolution Strategies as a Scalable Alternative to
Reinforcement Learning", arXiv:1703.03864. One generation (Algorithm 1/2 of the paper):

1. ``ask()``: draw ε_1..ε_P ~ N(0, I) (mirrored pairs ε, −ε when ``antithetic``, §2.3 / appendix) and
   return the candidates θ + σ·ε_i;
2. the caller evaluates a fitness F_i for each candidate (any reward function, higher is better);
3. ``tell(F)``: shape the fitness (centred ranks, §2.2 / appendix), estimate the gradient of the smoothed
   objective ĝ = 1/(P·σ) · Σ_i shaped_i · ε_i (eq. 3), add weight decay (−(λ/σ)·θ: Salimans' code's l2coeff λ,
   see :attr:`ESConfig.weight_decay`) and take one optimiser step (``torch.optim`` Adam or SGD with momentum,
   ``maximize=True``), then decay σ and the learning rate.

The noise of generation g is a pure function of ``(seed, g)`` (:func:`~epo_isaac.es.maths.population_noise`,
drawn on the CPU so every device sees the same numbers): workers that share only the seed can rebuild each other's
perturbations (the paper's shared noise, §2.1) and a run resumes bit-exactly from :meth:`OpenAIES.state_dict`.
The pure maths (shaping, gradient estimate, noise) is in :mod:`epo_isaac.es.maths`; this module is the loop.

Example::

    policy = torch.nn.Linear(4, 2)
    es = OpenAIES(policy, ESConfig(population_size=50, sigma=0.05))
    for _ in range(200):
        candidates = es.ask()
        fitness = torch.tensor([reward(load_vector(policy, c)) for c in candidates])
        stats = es.tell(fitness)
    es.load_into(policy)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import torch
from pydantic import BaseModel, Field, model_validator
from torch import Tensor

from epo_isaac.cli.validate import SETTINGS
from epo_isaac.es.maths import centered_ranks, es_gradient, generation_seed, population_noise, usable_members

OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")


class ESConfig(BaseModel):
    """Settings of :class:`OpenAIES` (``train.es.*``; defaults follow the paper's MuJoCo setup where it gives one).

    Raises:
        pydantic.ValidationError (a ``ValueError``): an out-of-range or unknown setting; through
            :func:`epo_isaac.cli.validate.validate`, one line naming the field and what it must be.
    """

    model_config = SETTINGS

    population_size: Annotated[int, Field(ge=2)] = 48
    """P candidates per generation; even when ``antithetic`` (P/2 mirrored pairs). ``train=ES``: must divide
    task.num_envs (per rank) into blocks."""
    sigma: Annotated[float, Field(gt=0)] = 0.02
    """σ of the parameter perturbations θ + σ·ε, in parameter units."""
    learning_rate: Annotated[float, Field(gt=0)] = 0.01
    """Step size of the optimiser on the ES gradient estimate (Adam's α, or SGD's step)."""
    antithetic: bool = True
    """Mirrored sampling: members 2k and 2k+1 use ε_k and −ε_k."""
    rank_shaping: bool = True
    """Centred-rank fitness shaping (returns → ranks in [−0.5, 0.5], :func:`centered_ranks`); false uses the
    fitness as given (the plain Monte Carlo estimate of eq. 3)."""
    weight_decay: Annotated[float, Field(ge=0)] = 0.005
    """L2 coefficient λ, with the meaning of ``l2coeff`` in Salimans et al.'s code (openai/evolution-strategies-
    starter, es_distributed/es.py: ``optimizer.update(−g + l2coeff·θ)`` with g = Σ_i shaped_i·ε_i / P, no 1/σ).
    Our gradient ĝ = g/σ (eq. 3) carries the 1/σ, so the optimiser steps on (g − λ·θ)/σ: −(λ/σ)·θ is added to ĝ,
    with the σ of the generation. Adam (invariant to a common gradient scale, up to its ε) then takes Salimans'
    Adam step; SGD takes Salimans' SGD step at stepsize learning_rate/σ (learning_rate multiplies ĝ, as α in the
    paper's Algorithm 1), so the decay's weight against the fitness gradient is Salimans' in both."""
    optimizer: Literal[OPTIMIZERS] = "adam"  # type: ignore[valid-type]
    """``adam`` (``torch.optim.Adam``, default betas) or ``sgd`` (``torch.optim.SGD`` with momentum and
    dampening μ: v ← μ·v + (1 − μ)·g as in the paper's code, except that torch starts v at g)."""
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    """SGD momentum μ (0: plain SGD); unused by Adam."""
    sigma_decay: Annotated[float, Field(gt=0, le=1)] = 1.0
    """σ ← max(σ·sigma_decay, sigma_min) after every iteration."""
    sigma_min: Annotated[float, Field(ge=0)] = 0.0
    """Floor of σ, at most sigma."""
    lr_decay: Annotated[float, Field(gt=0, le=1)] = 1.0
    """learning_rate ← max(learning_rate·lr_decay, lr_min) after every iteration."""
    lr_min: Annotated[float, Field(ge=0)] = 0.0
    """Floor of the learning rate, at most learning_rate."""

    @model_validator(mode="after")
    def _consistent(self) -> ESConfig:
        p = self.population_size
        if self.antithetic and p % 2:
            raise ValueError(f"population_size={p}: expected an even number with antithetic=true (e.g. {p + 1})")
        if self.sigma_min > self.sigma:
            raise ValueError(f"sigma_min={self.sigma_min}: expected <= sigma={self.sigma}")
        if self.lr_min > self.learning_rate:
            raise ValueError(f"lr_min={self.lr_min}: expected <= learning_rate={self.learning_rate}")
        return self


# ----------------------------------------------------------------------------------------------- modules


def _parameters(params: Iterable[torch.nn.Parameter] | torch.nn.Module) -> list[Tensor]:
    return list(params.parameters() if isinstance(params, torch.nn.Module) else params)


def copy_into_parameters(params: Iterable[Tensor], vector: Tensor) -> None:
    """Copy a flat ``[D]`` vector into ``params`` in place, in iteration order.

    Unlike ``torch.nn.utils.vector_to_parameters`` this copies: each parameter keeps its identity, device and
    dtype and never aliases ``vector``, so one module can be reloaded with every candidate and any optimiser or
    hook holding its parameters stays valid.

    Raises:
        ValueError: if ``vector`` is not 1-D or its length is not the total number of parameter elements D.
    """
    params = list(params)
    total = sum(p.numel() for p in params)
    if vector.dim() != 1 or vector.numel() != total:
        raise ValueError(f"expected a [{total}] vector for these parameters, got shape {tuple(vector.shape)}")
    offset = 0
    with torch.no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vector[offset:offset + n].view_as(p))
            offset += n


def load_vector(module: torch.nn.Module, vector: Tensor) -> torch.nn.Module:
    """Copy a flat ``[D]`` vector into ``module.parameters()`` in place and return the module.

    For evaluating a candidate in one expression: ``reward(load_vector(policy, candidate))``.

    Raises:
        ValueError: if ``vector`` is not 1-D or its length is not the module's parameter count.
    """
    copy_into_parameters(module.parameters(), vector)
    return module


# ----------------------------------------------------------------------------------------------- optimiser


def _weight_decay(config: ESConfig, sigma: float) -> float:
    """torch's ``weight_decay`` on ĝ (which carries 1/σ) for Salimans' ``l2coeff`` λ: λ/σ
    (:attr:`ESConfig.weight_decay`)."""
    return config.weight_decay / sigma


def _make_optimizer(theta: Tensor, config: ESConfig) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimiser that ascends θ (``maximize=True``), L2 weight decay included (set again from
    the current σ at every :meth:`OpenAIES.tell`)."""
    decay = _weight_decay(config, config.sigma)
    if config.optimizer == "adam":
        return torch.optim.Adam([theta], lr=config.learning_rate, weight_decay=decay, maximize=True)
    return torch.optim.SGD([theta], lr=config.learning_rate, momentum=config.momentum, dampening=config.momentum,
                           weight_decay=decay, maximize=True)


class OpenAIES:
    """OpenAI-ES (Salimans et al. 2017) as an ask/tell optimiser; maximises the fitness it is told.

    Args:
        params: the initial mean θ_0: a 1-D floating tensor ``[D]`` (copied), a module, or an iterable of
            parameters (flattened in order, as ``torch.nn.utils.parameters_to_vector``).
        config: the settings (:class:`ESConfig`).
        seed: run seed ≥ 0; the noise of generation g is
            :func:`~epo_isaac.es.maths.population_noise` ``(seed, g, ...)``.
        device: where θ, the candidates and the optimiser state live; default: the device of ``params``.
            θ keeps the dtype of ``params``.

    Raises:
        ValueError: on an empty or non-floating parameter set, a tensor that is not 1-D, or a bad seed.

    Attributes:
        config: the settings (σ and the learning rate it holds are the initial ones; see :attr:`sigma`).
        seed: the run seed.
        device: the device of θ, of the candidates and of the optimiser state.
        generation: generations told so far (the next ``ask`` samples this generation).
        sigma: current σ (decays with ``config.sigma_decay``).
        learning_rate: current step size (decays with ``config.lr_decay``).
    """

    def __init__(self, params: Tensor | Iterable[torch.nn.Parameter] | torch.nn.Module, config: ESConfig,
                 seed: int = 0, device: torch.device | str | None = None) -> None:
        if isinstance(params, Tensor) and not isinstance(params, torch.nn.Parameter):
            if params.dim() != 1:
                raise ValueError(f"params must be a flat [D] tensor (use .flatten()), got shape {tuple(params.shape)}")
            theta = params.detach().clone()
        else:
            tensors = [params] if isinstance(params, torch.nn.Parameter) else _parameters(params)
            if not tensors:
                raise ValueError("params has no parameters: pass a module with parameters or a [D] tensor")
            theta = torch.cat([p.detach().reshape(-1) for p in tensors])
        if not theta.is_floating_point() or theta.numel() == 0:
            raise ValueError(f"params must be a non-empty floating tensor, got {theta.dtype} with {theta.numel()} "
                             "elements")
        generation_seed(seed, 0)  # validates the seed
        self.config = config
        self.seed = seed
        self.device = torch.device(device) if device is not None else theta.device
        self._theta = theta.to(self.device).clone()
        self.generation = 0
        self.sigma = float(config.sigma)
        self.learning_rate = float(config.learning_rate)
        self._optimizer = _make_optimizer(self._theta, config)
        self._pending: Tensor | None = None  # eps of the asked, not yet told, generation

    @property
    def theta(self) -> Tensor:
        """``[D]`` the current mean θ (a copy)."""
        return self._theta.clone()

    @property
    def dim(self) -> int:
        """D, the number of parameters."""
        return self._theta.numel()

    def noise(self, generation: int) -> Tensor:
        """``[P, D]`` the ε of ``generation``, rebuilt from ``(seed, generation)`` alone, on :attr:`device`."""
        eps = population_noise(self.seed, generation, self.config.population_size, self.dim,
                               self.config.antithetic, self._theta.dtype)
        return eps.to(self.device)

    def ask(self) -> Tensor:
        """``[P, D]`` the candidates θ + σ·ε_i of the current generation.

        Asking again before :meth:`tell` returns the same population.
        """
        if self._pending is None:
            self._pending = self.noise(self.generation)
        return self._theta + self.sigma * self._pending

    def tell(self, fitness: Tensor | Iterable[float]) -> dict[str, float]:
        """Update θ from the fitness of the last :meth:`ask`; returns the generation's statistics.

        Args:
            fitness: ``[P]`` one finite fitness per candidate, in the order of :meth:`ask`; higher is better.

        Returns:
            ``fitness_mean``, ``fitness_max``, ``fitness_min``, ``fitness_std``; ``grad_norm`` (‖ĝ‖ before
            weight decay), ``update_norm`` (‖Δθ‖), ``theta_norm`` (after the step); ``sigma`` and
            ``learning_rate`` used for this generation; ``generation``, the index of the generation told;
            ``excluded``, how many candidates were left out. Fitness statistics are over the candidates used.

        A candidate with NaN/inf fitness is left out of the update (with its mirrored partner when
        ``antithetic``, so the pairs stay balanced) and named in a ``UserWarning``.

        Raises:
            ValueError: without a pending ask, on a shape other than ``[P]``, or when fewer than two candidates
                (one pair) have finite fitness.
        """
        if self._pending is None:
            raise ValueError("tell() needs a pending ask(): call ask() first, then tell() once with its fitness")
        fit = torch.as_tensor(fitness).detach()
        size = self.config.population_size
        if fit.shape != (size,):
            raise ValueError(f"fitness must have shape [population_size] = [{size}], got {tuple(fit.shape)}")
        fit = fit.to(device=self.device, dtype=torch.float64)  # rank in full precision: no float32 ties
        used = usable_members(fit, self.config.antithetic)
        excluded = torch.nonzero(~used).flatten().tolist()
        if int(used.sum()) < 2:
            raise ValueError(f"fitness must be finite for at least two candidates (one mirrored pair); NaN/inf at "
                             f"candidate indices {torch.nonzero(~torch.isfinite(fit)).flatten().tolist()[:10]}")
        if excluded:
            warnings.warn(f"OpenAI-ES generation {self.generation}: non-finite fitness at candidate indices "
                          f"{torch.nonzero(~torch.isfinite(fit)).flatten().tolist()[:10]}; excluded from the update"
                          + (" with their mirrored partners" if self.config.antithetic else ""), stacklevel=2)
        shaped = centered_ranks(fit[used]) if self.config.rank_shaping else fit[used]
        grad = es_gradient(self._pending[used], shaped, self.sigma)
        before = self._theta.clone()
        for group in self._optimizer.param_groups:
            group["lr"] = self.learning_rate
            group["weight_decay"] = _weight_decay(self.config, self.sigma)
        self._theta.grad = grad  # ascent direction; weight decay (−(λ/σ)·θ) is the optimiser's, maximize=True
        self._optimizer.step()
        self._theta.grad = None
        update = self._theta - before
        good = fit[used]
        stats = {
            "fitness_mean": good.mean().item(),
            "fitness_max": good.max().item(),
            "fitness_min": good.min().item(),
            "fitness_std": good.std().item(),
            "grad_norm": grad.norm().item(),
            "update_norm": update.norm().item(),
            "theta_norm": self._theta.norm().item(),
            "sigma": self.sigma,
            "learning_rate": self.learning_rate,
            "generation": float(self.generation),
            "excluded": float(len(excluded)),
        }
        self._pending = None
        self.generation += 1
        self.sigma = max(self.sigma * self.config.sigma_decay, self.config.sigma_min)
        self.learning_rate = max(self.learning_rate * self.config.lr_decay, self.config.lr_min)
        return stats

    def load_into(self, module: torch.nn.Module | Iterable[torch.nn.Parameter], vector: Tensor | None = None) -> None:
        """Copy θ (or ``vector``, e.g. one row of :meth:`ask`) into the module's parameters, in place.

        Raises:
            ValueError: if the module's parameter count is not D.
        """
        copy_into_parameters(_parameters(module), self._theta if vector is None else vector)

    def state_dict(self) -> dict[str, Any]:
        """Everything an exact resume needs (tensors are copies; loadable with ``torch.load(weights_only=True)``).

        A pending ask is not saved: after :meth:`load_state_dict`, ``ask()`` redraws the same population.
        """
        return {
            "theta": self._theta.clone(),
            "optimizer": self._optimizer.state_dict(),
            "sigma": self.sigma,
            "learning_rate": self.learning_rate,
            "generation": self.generation,
            "seed": self.seed,
            "config": {name: getattr(self.config, name) for name in ESConfig.model_fields},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output (tensors move to :attr:`device`; this optimiser's config is kept).

        Raises:
            ValueError: on a missing key, a θ of another length, or a saved config whose population_size,
                antithetic or optimizer differ from this one's (the noise or the moments would not match).
        """
        missing = [k for k in ("theta", "optimizer", "sigma", "learning_rate", "generation", "seed") if k not in state]
        if missing:
            raise ValueError(f"ES state is missing keys {missing}")
        if state["theta"].shape != self._theta.shape:
            raise ValueError(f"ES state has theta of shape {tuple(state['theta'].shape)}, this optimiser has "
                             f"{tuple(self._theta.shape)}")
        saved = state.get("config", {})
        for key in ("population_size", "antithetic", "optimizer"):
            if key in saved and saved[key] != getattr(self.config, key):
                raise ValueError(f"ES state was saved with {key}={saved[key]!r}, this optimiser has "
                                 f"{key}={getattr(self.config, key)!r}; use the saved value to resume")
        generation_seed(int(state["seed"]), int(state["generation"]))  # validates both
        as_theta = {"device": self.device, "dtype": self._theta.dtype}
        self._theta = state["theta"].detach().to(**as_theta).clone()
        self._optimizer = _make_optimizer(self._theta, self.config)
        self._optimizer.load_state_dict(state["optimizer"])
        self.sigma = float(state["sigma"])
        self.learning_rate = float(state["learning_rate"])
        self.generation = int(state["generation"])
        self.seed = int(state["seed"])
        self._pending = None
