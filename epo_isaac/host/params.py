"""The ``params`` dict rl_games' ``Runner.load`` takes, built from the validated :class:`TrainConfig`.

EPO/SAPG get our ``epo`` algorithm and ``epo_actor_critic`` network with the typed config itself under
``config["epo"]``; PPO gets rl_games' own continuous A2C pieces (registered as ``ppo``); ES:
:func:`epo_isaac.es.config.es_params`.
"""

from __future__ import annotations

from typing import Any

from epo_isaac.es.config import es_params
from epo_isaac.host.config import TrainConfig, check_layout, ga_schedule, minibatch_size

RL_GAMES_ACTIVATION = {"silu": "swish"}
"""Our activation names that rl_games' ``actor_critic`` network (train=PPO) spells otherwise."""


def rl_games_params(
    tc: TrainConfig,
    *,
    name: str,
    num_envs: int,
    env_name: str,
    seed: int,
    device: str,
    train_dir: str,
    experiment: str,
    torch_threads: int,
    world_size: int = 1,
) -> dict[str, Any]:
    """The ``{"params": ...}`` dict for ``rl_games.torch_runner.Runner.load`` (ES: :func:`es_params`).

    Args:
        tc: the validated ``train`` settings.
        num_envs: envs per rank; ``world_size``: ranks (``torchrun``).

    Raises:
        UserError: a layout or GA schedule :func:`~epo_isaac.host.config.check_layout` rejects.
    """
    check_layout(num_envs, tc, world_size)
    if tc.algo == "es":
        return es_params(tc.es, video_interval=tc.video_interval, name=name, num_envs=num_envs,
                         env_name=env_name, seed=seed, device=device, train_dir=train_dir, experiment=experiment,
                         torch_threads=torch_threads, world_size=world_size)
    p = tc.ppo
    is_ppo = tc.algo == "ppo"
    config: dict[str, Any] = {
        "name": name,
        "full_experiment_name": experiment,
        "train_dir": train_dir,
        "env_name": env_name,
        "device": device,
        "device_name": device,
        "multi_gpu": False,  # rl_games' own init would create an NCCL group: epo_isaac.host.multirank joins ranks
        "ranks": world_size,
        "ppo": True,
        "mixed_precision": p.mixed_precision,
        "normalize_input": p.normalize_input,
        "normalize_value": p.normalize_value,
        "normalize_advantage": p.normalize_advantage,
        "value_bootstrap": True,
        "num_actors": num_envs,
        "reward_shaper": {"scale_value": p.reward_scale},
        "gamma": p.gamma,
        "tau": p.tau,
        "learning_rate": p.learning_rate,
        "lr_schedule": None if p.lr_schedule == "constant" else p.lr_schedule,
        "schedule_type": "standard",
        "kl_threshold": p.kl_threshold,
        "score_to_win": p.score_to_win,
        "max_epochs": p.max_epochs,
        "max_frames": p.max_frames,
        "save_best_after": p.save_best_after,
        "save_frequency": p.save_frequency,
        "grad_norm": p.grad_norm,
        "entropy_coef": p.entropy_coef if is_ppo else 0.0,
        "truncate_grads": True,
        "e_clip": p.e_clip,
        "clip_value": p.clip_value,
        "horizon_length": p.horizon_length,
        "minibatch_size": minibatch_size(num_envs, tc),
        "mini_epochs": p.mini_epochs,
        "critic_coef": p.critic_coef,
        "bounds_loss_coef": p.bounds_loss_coef,
        "seq_length": p.seq_length,
        "torch_compile": False,
        "print_stats": False,
        "player": {"deterministic": True, "games_num": 10, "print_stats": True,
                   "device_name": device},
    }
    if not is_ppo:
        if tc.algo == "epo" and tc.ga.enabled:  # frames count every rank's env steps
            warmup, interval, _ = ga_schedule(num_envs * world_size, tc)
            tc = tc.model_copy(update={"ga": tc.ga.model_copy(update={"warmup_frames": warmup,
                                                                        "interval_frames": interval})})
        config["epo"] = tc  # read by epo_isaac.epo.agent.EPOAgent
    return {"params": {
        "seed": seed,
        "torch_threads": torch_threads,
        "algo": {"name": "ppo" if is_ppo else "epo"},
        "model": {"name": "continuous_a2c_logstd"},
        "network": ppo_network(tc) if is_ppo else epo_network(tc),
        "config": config,
    }}


def epo_network(tc: TrainConfig) -> dict[str, Any]:
    """rl_games' ``network`` params of :class:`~epo_isaac.epo.networks.EPOActorCritic` (builder
    ``epo_actor_critic``): the population's layout and ``train.network``."""
    return {"name": "epo_actor_critic", "num_agents": tc.population.size, "latent_dim": tc.population.latent_dim,
            **tc.network.model_dump()}


def ppo_network(tc: TrainConfig) -> dict[str, Any]:
    """rl_games' ``network`` params of its own ``actor_critic`` (train=PPO) from ``train.network``."""
    net = tc.network
    network: dict[str, Any] = {
        "name": "actor_critic",
        "separate": False,
        "space": {"continuous": {
            "mu_activation": "None", "sigma_activation": "None",
            "mu_init": {"name": "default"},
            "sigma_init": {"name": "const_initializer", "val": net.sigma_init},
            "fixed_sigma": True,
        }},
        "mlp": {"units": list(net.units), "activation": RL_GAMES_ACTIVATION.get(net.activation, net.activation),
                "d2rl": False, "initializer": {"name": "default"}, "regularizer": {"name": "None"}},
    }
    if net.lstm_units:
        network["rnn"] = {"name": "lstm", "units": net.lstm_units, "layers": net.lstm_layers, "before_mlp": True,
                          "layer_norm": net.lstm_layer_norm}
    return network
