"""Pure loss and target functions of EPO / SAPG (spec: docs/spec/epo_algorithm.md §2–§3).

Everything here is stateless torch maths on tensors the agent already holds. Conventions:

* Time-major rollouts: ``[T, N]`` = horizon steps × envs.
* ``dones[t] = 1`` means *transition t ended its episode*: no bootstrap from step ``t + 1``. rl_games stores
  the opposite "done before step t" flag; ``gae`` documents the shift.
* Per-sample losses are returned **unreduced** (shape ``[B]``) so the caller can mask (RNN), weight
  (off-policy λ) or average them as it likes. Signs follow rl_games: every loss is to be *minimised*.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

OFF_POLICY_CLIPS: tuple[str, ...] = ("plain", "mu_scaled")


def _check_time_major(rewards: Tensor, values: Tensor, dones: Tensor, last_values: Tensor) -> None:
    if rewards.dim() != 2 or values.shape != rewards.shape or dones.shape != rewards.shape:
        raise ValueError(
            "rewards, values and dones must all be [T, N]; got "
            f"{tuple(rewards.shape)}, {tuple(values.shape)}, {tuple(dones.shape)}"
        )
    if last_values.shape != rewards.shape[1:]:
        raise ValueError(
            f"last_values must be [N] = {tuple(rewards.shape[1:])}, got {tuple(last_values.shape)}"
        )


def gae(
    rewards: Tensor, values: Tensor, dones: Tensor, last_values: Tensor, gamma: float, tau: float
) -> Tensor:
    """Generalised advantage estimation (Schulman et al. 2016; spec §2, official EPO/SAPG targets).

    δ_t = r_t + γ·V_{t+1}·(1 − d_t) − V_t,   A_t = δ_t + γ·τ·(1 − d_t)·A_{t+1},
    with V_T = ``last_values`` and A_T = 0.

    Equals rl_games' ``A2CBase.discount_values`` with its flags shifted by one step: rl_games passes
    ``mb_fdones[t]`` = "the episode ended *before* step t" and ``fdones`` = the done of the last step, so
    ``dones[t] == mb_fdones[t + 1]`` for t < T − 1 and ``dones[T − 1] == fdones``.

    Args:
        rewards: ``[T, N]`` rewards (already scaled).
        values: ``[T, N]`` V(s_t) from the rollout (denormalised, same units as rewards).
        dones: ``[T, N]`` 1/True where transition t ended its episode (bool or float).
        last_values: ``[N]`` V(s_T), the value of the observation after the last step.
        gamma: discount γ.
        tau: GAE λ (rl_games calls it τ).

    Returns:
        ``[T, N]`` advantages (returns = advantages + values).

    Raises:
        ValueError: on mismatched shapes.
    """
    _check_time_major(rewards, values, dones, last_values)
    not_done = 1.0 - dones.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    next_adv = torch.zeros_like(last_values, dtype=rewards.dtype)
    next_values = last_values.to(rewards.dtype)
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * next_values * not_done[t] - values[t]
        next_adv = delta + gamma * tau * not_done[t] * next_adv
        advantages[t] = next_adv
        next_values = values[t]
    return advantages


def nstep_returns(
    rewards: Tensor, values: Tensor, dones: Tensor, last_values: Tensor, gamma: float, n: int
) -> Tensor:
    """n-step return targets (the EPO paper's 3-step option, spec §2).

    G_t = Σ_{k<m} γ^k r_{t+k} + γ^m V_{t+m}, with m = min(n, T − t) and V_T = ``last_values``. The sum stops
    after the first transition with ``dones = 1`` (that reward counts, nothing after it, no bootstrap).
    n = 1 gives r_t + γ·V_{t+1}·(1 − d_t), the same as :func:`one_step_targets`.

    Args:
        rewards, values, dones: ``[T, N]`` as in :func:`gae`.
        last_values: ``[N]`` V(s_T).
        gamma: discount γ.
        n: number of reward steps, ≥ 1.

    Returns:
        ``[T, N]`` return targets.

    Raises:
        ValueError: if n < 1 or shapes mismatch.
    """
    _check_time_major(rewards, values, dones, last_values)
    if n < 1:
        raise ValueError(f"n-step returns need n >= 1, got n={n}")
    horizon = rewards.shape[0]
    device = rewards.device
    d = dones.to(rewards.dtype)
    values_ext = torch.cat([values, last_values.to(values.dtype).unsqueeze(0)], dim=0)  # [T+1, N]
    steps = torch.arange(horizon, device=device)
    returns = torch.zeros_like(rewards)
    alive = torch.ones_like(rewards)  # 1 while no episode end has been crossed
    for k in range(n):
        idx = steps + k
        valid = (idx < horizon).to(rewards.dtype).unsqueeze(1)  # [T, 1]
        idx = idx.clamp(max=horizon - 1)
        returns = returns + valid * alive * (gamma**k) * rewards[idx]
        alive = alive * (1.0 - valid * d[idx])
    m = torch.clamp(horizon - steps, max=n)  # reward steps actually taken
    boot = values_ext[steps + m]
    discount = (gamma ** m.to(rewards.dtype)).unsqueeze(1)
    return returns + discount * alive * boot


def one_step_targets(rewards: Tensor, next_values: Tensor, next_dones: Tensor, gamma: float) -> Tensor:
    """Critic target for the master's off-policy rows (spec §3.3): r + γ·V_old(s′; φ_0)·(1 − d′).

    Args:
        rewards: ``[B]`` rewards of the relabelled follower transitions.
        next_values: ``[B]`` V_old(s′; φ_0) from the pre-update network.
        next_dones: ``[B]`` 1/True where the transition ended its episode.
        gamma: discount γ.

    Returns:
        ``[B]`` targets; the off-policy advantage is ``targets − V_old(s; φ_0)``.
    """
    return rewards + gamma * next_values * (1.0 - next_dones.to(rewards.dtype))


def ppo_surrogate(logp_new: Tensor, logp_old: Tensor, advantages: Tensor, e_clip: float) -> Tensor:
    """Clipped PPO policy loss per sample (Schulman et al. 2017; rl_games ``actor_loss`` semantics).

    ρ = exp(logp_new − logp_old); loss = max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε)).

    Args:
        logp_new: ``[B]`` log π_θ(a|s) (with grad). Log-probs, **not** rl_games' negative log-probs.
        logp_old: ``[B]`` log π_old(a|s) stored at rollout (treated as a constant).
        advantages: ``[B]`` (normalised) advantages.
        e_clip: ε.

    Returns:
        ``[B]`` per-sample loss to minimise.
    """
    ratio = torch.exp(logp_new - logp_old.detach())
    clipped = torch.clamp(ratio, 1.0 - e_clip, 1.0 + e_clip)
    return torch.max(-advantages * ratio, -advantages * clipped)


def off_policy_surrogate(
    logp_new: Tensor,
    logp_behaviour: Tensor,
    logp_master_old: Tensor,
    advantages: Tensor,
    e_clip: float,
    clip: Literal["plain", "mu_scaled"],
) -> Tensor:
    """Off-policy policy loss for follower data relabelled with the master's latent (spec §3.4).

    ρ = π_θ(a|s, φ_0) / π_behaviour(a|s, φ_j) = exp(logp_new − logp_behaviour).

    * ``plain`` (official SAPG/EPO code): clipped = clip(ρ, 1 − ε, 1 + ε).
    * ``mu_scaled`` (EPO paper, Meng et al. "Off-policy PPO"): μ = exp(logp_master_old − logp_behaviour),
      clipped = clip(ρ, μ(1 − ε), μ(1 + ε)), i.e. the trust region is centred on the old master policy.

    loss = max(−A·ρ, −A·clipped).

    Args:
        logp_new: ``[B]`` log π_θ(a|s, φ_0), with grad.
        logp_behaviour: ``[B]`` log-prob the follower stored at rollout (constant).
        logp_master_old: ``[B]`` log π_old(a|s, φ_0) from the pre-update network (constant; only ``mu_scaled``
            reads it).
        advantages: ``[B]`` off-policy advantages.
        e_clip: ε.
        clip: ``"plain"`` or ``"mu_scaled"``.

    Returns:
        ``[B]`` per-sample loss to minimise.

    Raises:
        ValueError: on an unknown ``clip`` name.
    """
    if clip not in OFF_POLICY_CLIPS:
        raise ValueError(f"unknown off-policy clip {clip!r}; valid: {', '.join(OFF_POLICY_CLIPS)}")
    logp_behaviour = logp_behaviour.detach()
    ratio = torch.exp(logp_new - logp_behaviour)
    if clip == "plain":
        clipped = torch.clamp(ratio, 1.0 - e_clip, 1.0 + e_clip)
    else:
        mu = torch.exp(logp_master_old.detach() - logp_behaviour)
        clipped = torch.max(torch.min(ratio, mu * (1.0 + e_clip)), mu * (1.0 - e_clip))
    return torch.max(-advantages * ratio, -advantages * clipped)


def value_loss(
    values_new: Tensor, values_old: Tensor, returns: Tensor, e_clip: float, clip_value: bool
) -> Tensor:
    """Critic loss per sample, rl_games ``default_critic_loss`` semantics (spec §3.6).

    Unclipped: (R − V)². Clipped: max((V − R)², (V_old + clip(V − V_old, −ε, ε) − R)²).
    No ½ factor here: rl_games applies ``0.5 · critic_coef`` when it sums the losses.

    Args:
        values_new: ``[B]`` (or ``[B, 1]``) current value predictions, normalised space.
        values_old: same shape, predictions stored at rollout.
        returns: same shape, targets in the same (normalised) space.
        e_clip: ε for the value clip.
        clip_value: whether to clip.

    Returns:
        Per-sample loss with the inputs' shape.
    """
    if not clip_value:
        return (returns - values_new) ** 2
    clipped = values_old + torch.clamp(values_new - values_old, -e_clip, e_clip)
    return torch.max((values_new - returns) ** 2, (clipped - returns) ** 2)


def bounds_loss(mu: Tensor, bound: float = 1.1) -> Tensor:
    """Soft bound on the action mean (rl_games ``bound`` loss, spec §3.6).

    Σ_a [max(μ_a − bound, 0)² + min(μ_a + bound, 0)²].

    Args:
        mu: ``[B, A]`` action means (pre-clip).
        bound: soft bound (1.1 in rl_games).

    Returns:
        ``[B]`` per-sample loss.
    """
    high = torch.clamp_min(mu - bound, 0.0) ** 2
    low = torch.clamp_max(mu + bound, 0.0) ** 2
    return (high + low).sum(dim=-1)


def gaussian_entropy(log_std: Tensor) -> Tensor:
    """Entropy of a diagonal Gaussian per sample, in nats: Σ_a (log σ_a + ½·log(2πe)).

    The value of rl_games' ``Normal(mu, exp(log_std)).entropy().sum(-1)``, computed from the log-std so the caller
    picks which parameters it trains (the followers' bonus: their own offsets only,
    ``EPOActorCritic.agent_log_std(ids, detach_shared=True)``; spec §2).

    Args:
        log_std: ``[B, A]`` log σ of each sample's action distribution.

    Returns:
        ``[B]`` entropies.
    """
    return (log_std + 0.5 * math.log(2.0 * math.pi * math.e)).sum(dim=-1)


def entropy_coefs(num_agents: int, scale: float) -> Tensor:
    """Per-agent entropy coefficients (spec §2, SAPG's schedule re-indexed for master = agent 0).

    c_0 = 0 (master); c_b = scale · 0.5 · b / (M − 1) for followers b = 1..M−1; M = 1 gives ``[0]``.

    Args:
        num_agents: M ≥ 1.
        scale: schedule scale ≥ 0 (0 regrasp/throw, 0.005 one-arm reorientation, 0.002 two-arm).

    Returns:
        ``[M]`` float32 coefficients on CPU (move with ``.to(device)``).

    Raises:
        ValueError: if num_agents < 1 or scale < 0.
    """
    if num_agents < 1:
        raise ValueError(f"num_agents must be >= 1, got {num_agents}")
    if scale < 0:
        raise ValueError(f"entropy scale must be >= 0 (it multiplies an entropy bonus), got {scale}")
    if num_agents == 1:
        return torch.zeros(1)
    return scale * 0.5 * torch.arange(num_agents, dtype=torch.float32) / (num_agents - 1)
