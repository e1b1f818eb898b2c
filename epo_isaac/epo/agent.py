"""The EPO agent: rl_games' continuous A2C agent with a latent-conditioned population.

Reads top to bottom, one epoch (``train_epoch``):
  rollout (every agent acts with its own latent) → on-policy targets (GAE / n-step) → off-policy
  relabelling of follower data under the master's latent → one PPO-style update over both →
  genetic step on the latents → logs. Spec: ``docs/spec/epo_algorithm.md`` §2–§4.
``algo: sapg`` is the same agent with the genetic algorithm off.

Slightly over ~400 lines on purpose: it is the one epoch loop and reads in one pass (rl_games' hooks, rollout,
targets, update, GA step, logs, checkpoint state); the maths it calls is in ``losses``, ``genetic``, ``gate``,
``population`` and ``rollout``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from rl_games.algos_torch import torch_ext
from rl_games.algos_torch.a2c_continuous import A2CAgent

from epo_isaac.epo import losses
from epo_isaac.epo.gene_pool import LatentGenePool
from epo_isaac.epo.genetic import latent_diversity
from epo_isaac.epo.population import FitnessTracker, agent_ids, block_size
from epo_isaac.epo.rollout import Rollout, env_rows, flat, replay_rnn, sample_follower_envs, sample_follower_rows
from epo_isaac.host.checkpoint import population_meta
from epo_isaac.host.config import TrainConfig
from epo_isaac.host.multirank import RanksMixin, restored_fitness, saved_rank
from epo_isaac.host.resume import ResumableAgentMixin
from epo_isaac.host.session import rank_seed
from epo_isaac.host.stats import EpochStats
from epo_isaac.host.threads import PhaseThreadsMixin


class EPOAgent(PhaseThreadsMixin, RanksMixin, ResumableAgentMixin, A2CAgent):
    """Registered as rl_games algo ``epo``. Its settings: ``config["epo"]``, the run's
    :class:`~epo_isaac.host.config.TrainConfig` (:func:`~epo_isaac.host.params.rl_games_params`). Under
    ``torchrun`` every rank runs the full block layout on its own envs (:mod:`epo_isaac.host.multirank`)."""

    reports_population_stats = True  # per-agent stats in epoch_summary; ProgressObserver must not add its own

    def __init__(self, base_name: str, params: dict[str, Any]) -> None:
        super().__init__(base_name, params)
        tc = TrainConfig.model_validate(self.config["epo"])  # train.*, GA schedule resolved (host.params)
        self.algo = tc.algo
        self.population_size = tc.population.size  # M (num_agents elsewhere: rl_games owns that name)
        self.block = block_size(self.num_actors, self.population_size)
        self.net = self.model.a2c_network
        self.agent_of_env = agent_ids(self.num_actors, self.population_size, self.ppo_device)
        self.entropy_coefs = losses.entropy_coefs(self.population_size, tc.ppo.entropy_scale).to(self.ppo_device)
        self.off_cfg = tc.off_policy
        self.ga_enabled = tc.ga.enabled and self.algo == "epo"
        self.ga_interval = tc.ga.interval_frames
        self.ga_warmup = tc.ga.warmup_frames
        self.fitness_kind = tc.ga.fitness
        self.value_target = tc.ppo.value_target
        self.nstep = tc.ppo.nstep
        seed = int(params.get("seed") or 0)
        self.ga_generator = torch.Generator().manual_seed(seed + 1)  # shared: every rank plans the same generation
        self.gene_pool = LatentGenePool.from_latents(self.net.latents, tc.ga, self.ga_generator)  # writes in place
        # per rank: each rank draws its own follower rows (docs/distributed.md)
        self.sample_generator = torch.Generator().manual_seed(rank_seed(seed, self.ranks.rank) + 2)
        self.fitness = FitnessTracker(self.num_actors, self.population_size, self.ppo_device)
        self.next_check_frame = self.ga_warmup
        self.stats = EpochStats(self.num_actors, self.population_size, self.ppo_device)
        self.epoch_summary: dict[str, Any] = {}

    # ---------------------------------------------------------------- rollout
    def _act(self, obs: torch.Tensor, ids: torch.Tensor, rnn_states: Any) -> dict[str, torch.Tensor]:
        return self.model({"is_train": False, "prev_actions": None, "obs": self._preproc_obs(obs),
                           "agent_ids": ids, "rnn_states": rnn_states})

    @torch.no_grad()
    def collect_rollout(self) -> tuple[Rollout, float]:
        """Step every env ``horizon_length`` times; each agent acts with its own latent (spec §2)."""
        T, N = self.horizon_length, self.num_actors
        ro = Rollout.allocate(T, N, self.obs_shape[0], self.actions_num, self.ppo_device)
        seq_states: list[list[torch.Tensor]] = []
        step_time = 0.0
        for t in range(T):
            if self.is_rnn and t % self.seq_length == 0:
                seq_states.append([s.clone() for s in self.rnn_states])
            res = self._act(self.obs["obs"], self.agent_of_env, self.rnn_states)
            self.rnn_states = res["rnn_states"]
            ro.obs[t] = self.obs["obs"]
            ro.starts[t] = self.dones.float()
            ro.actions[t], ro.neglogp[t] = res["actions"], res["neglogpacs"]
            ro.values[t], ro.mus[t], ro.sigmas[t] = res["values"][:, 0], res["mus"], res["sigmas"]
            start = time.perf_counter()
            self.obs, rewards, self.dones, infos = self.env_step(res["actions"])
            step_time += time.perf_counter() - start
            ro.rewards[t] = self.rewards_shaper(rewards)[:, 0]
            if "time_outs" in infos:
                ro.time_outs[t] = infos["time_outs"].to(self.ppo_device).float()
            self._track_episodes(rewards[:, 0], infos)
            if self.is_rnn and self.dones.any():
                for s in self.rnn_states:
                    s[:, self.dones.bool(), :] = 0
        last = self._act(self.obs["obs"], self.agent_of_env, self.rnn_states)["values"][:, 0]
        ro.finish(self.obs["obs"], last, self.dones)
        if self.is_rnn:  # [layers, N, H] per sequence -> [layers, N·T/L, H], env-major
            ro.rnn_states = [torch.stack([s[i] for s in seq_states], 2).flatten(1, 2)
                             for i in range(len(self.rnn_states))]
        return ro, step_time

    def _track_episodes(self, rewards: torch.Tensor, infos: dict[str, Any]) -> None:
        """Episode bookkeeping: rl_games' meters, per-agent stats and the fitness (spec §1)."""
        done = self.dones.bool()
        self.current_rewards[:, 0] += rewards
        self.current_lengths += 1
        done_idx = done.nonzero(as_tuple=False)  # [K, 1], the shape rl_games' meters expect
        self.game_rewards.update(self.current_rewards[done_idx])
        self.game_lengths.update(self.current_lengths[done_idx])
        self.game_shaped_rewards.update(self.current_rewards[done_idx])
        self.algo_observer.process_infos(infos, done_idx)
        if self.fitness_kind == "true_objective":
            if "true_objective" not in infos:
                raise RuntimeError("train.ga.fitness=true_objective but this task reports no true_objective; "
                                   "use train.ga.fitness=return")
            value = infos["true_objective"].to(self.ppo_device).float()
        else:
            value = self.current_rewards[:, 0]
        self.fitness.update(done, value)
        self.stats.update(done, self.current_rewards[:, 0], infos)
        self.current_rewards[done] = 0
        self.current_lengths[done] = 0

    # ---------------------------------------------------------------- targets
    def on_policy_targets(self, ro: Rollout) -> torch.Tensor:
        """Returns ``[T, N]`` of every agent's own transitions (GAE or n-step, spec §2)."""
        rewards = ro.rewards + self.gamma * ro.values * ro.time_outs
        if self.value_target == "nstep":
            return losses.nstep_returns(rewards, ro.values, ro.terminals, ro.last_values, self.gamma, self.nstep)
        adv = losses.gae(rewards, ro.values, ro.terminals, ro.last_values, self.gamma, self.tau)
        return adv + ro.values

    @torch.no_grad()
    def relabel_for_master(self, ro: Rollout) -> dict[str, torch.Tensor] | None:
        """Follower transitions relabelled with the master's latent (spec §3.1–§3.3).

        Returns rows (env-major) with V_old(s; φ_0), 1-step targets r + γ·V_old(s′; φ_0)·(1 − d′),
        the master's old policy on them, and the stored behaviour log-probs; ``None`` when M = 1.
        """
        cfg = self.off_cfg
        if not cfg.enabled or self.population_size < 2:
            return None
        T, N = self.horizon_length, self.num_actors
        if self.is_rnn:
            envs = sample_follower_envs(N, self.population_size, cfg.sampling, cfg.ratio, self.sample_generator)
            rows = env_rows(envs, T)
            values, next_values, mus, sigmas, rnn_states = replay_rnn(self._act, ro, envs.to(self.ppo_device),
                                                                      self.seq_length)
        else:
            rows = sample_follower_rows(N, self.population_size, T, cfg.sampling, cfg.ratio,
                                        self.sample_generator)
            rows_d = rows.to(self.ppo_device)
            master = torch.zeros(rows.numel(), dtype=torch.long, device=self.ppo_device)
            now = self._act(flat(ro.obs)[rows_d], master, None)
            nxt = self._act(flat(ro.next_obs())[rows_d], master, None)
            values, next_values = now["values"][:, 0], nxt["values"][:, 0]
            mus, sigmas, rnn_states = now["mus"], now["sigmas"], None
        rows = rows.to(self.ppo_device)
        pick = lambda x: flat(x)[rows]  # noqa: E731
        actions = pick(ro.actions)
        rewards = pick(ro.rewards) + self.gamma * values * pick(ro.time_outs)
        returns = losses.one_step_targets(rewards, next_values, pick(ro.terminals), self.gamma)
        master_neglogp = self.model.neglogp(actions, mus, sigmas, torch.log(sigmas))
        return {"rows": rows, "values": values, "returns": returns, "mus": mus, "sigmas": sigmas,
                "master_neglogp": master_neglogp, "rnn_states": rnn_states}

    def build_dataset(self, ro: Rollout) -> dict[str, Any]:
        """On-policy rows of every agent + relabelled follower rows for the master (spec §3.5–§3.6)."""
        returns = flat(self.on_policy_targets(ro))
        ids = self.agent_of_env.repeat_interleave(self.horizon_length)
        n_on = ids.numel()
        d: dict[str, Any] = {
            "obs": flat(ro.obs), "actions": flat(ro.actions), "agent_ids": ids,
            "old_neglogp": flat(ro.neglogp), "master_neglogp": flat(ro.neglogp),
            "values": flat(ro.values), "returns": returns, "mu": flat(ro.mus), "sigma": flat(ro.sigmas),
            "dones": flat(ro.starts), "is_off": torch.zeros(n_on, dtype=torch.bool, device=self.ppo_device),
        }
        rnn_states = ro.rnn_states
        off = self.relabel_for_master(ro)
        if off is not None:
            rows, k = off["rows"], off["rows"].numel()
            extra = {
                "obs": d["obs"][rows], "actions": d["actions"][rows], "agent_ids": torch.zeros_like(rows),
                "old_neglogp": d["old_neglogp"][rows], "master_neglogp": off["master_neglogp"],
                "values": off["values"], "returns": off["returns"], "mu": off["mus"], "sigma": off["sigmas"],
                "dones": d["dones"][rows], "is_off": torch.ones(k, dtype=torch.bool, device=self.ppo_device),
            }
            d = {key: torch.cat([d[key], extra[key]]) for key in d}
            if self.is_rnn:
                rnn_states = [torch.cat([a, b], 1) for a, b in zip(rnn_states, off["rnn_states"], strict=True)]
        advantages = d["returns"] - d["values"]
        if self.normalize_value:
            self.value_mean_std.train()
            d["values"] = self.value_mean_std(d["values"][:, None])[:, 0]
            d["returns"] = self.value_mean_std(d["returns"][:, None])[:, 0]
            self.value_mean_std.eval()
        if self.normalize_advantage:  # over the whole batch, on and off rows together (official)
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        d["advantages"] = advantages
        d["rnn_states"] = rnn_states
        d["num_off"] = int(d["is_off"].sum())
        return d

    # ---------------------------------------------------------------- update
    def minibatches(self, data: dict[str, Any]):
        """Random minibatches (whole ``seq_length`` sequences for the LSTM), as many as rl_games'
        ``batch_size // minibatch_size``; yields (row indices ``[R]``, the rows)."""
        rows = data["obs"].shape[0]
        unit = self.seq_length if self.is_rnn else 1
        order = torch.randperm(rows // unit, device=self.ppo_device)
        for chunk in order.chunk(self.num_minibatches):
            idx = (chunk[:, None] * unit + torch.arange(unit, device=self.ppo_device)[None]).flatten()
            mb = {k: v[idx] for k, v in data.items() if isinstance(v, torch.Tensor)}
            if self.is_rnn:
                mb["rnn_states"] = [s[:, chunk].contiguous() for s in data["rnn_states"]]
            yield idx, mb

    def minibatch_loss(self, mb: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """L_on + λ·L_off for the policy, L_V,on + λ_V·L_V,off for the critic, the per-agent entropy
        schedule and the bounds loss; rows are weighted and averaged (spec §3.5). A follower's entropy bonus
        trains only its own log-std (offset δ_b or row), never σ_shared, which the master acts with (spec §2: no
        bonus for the master)."""
        batch = {"is_train": True, "prev_actions": mb["actions"], "obs": self._preproc_obs(mb["obs"]),
                 "agent_ids": mb["agent_ids"]}
        if self.is_rnn:
            batch.update(rnn_states=mb["rnn_states"], seq_length=self.seq_length, dones=mb["dones"])
        res = self.model(batch)
        logp = -res["prev_neglogp"]
        adv, off = mb["advantages"], mb["is_off"]
        on_loss = losses.ppo_surrogate(logp, -mb["old_neglogp"], adv, self.e_clip)
        off_loss = losses.off_policy_surrogate(logp, -mb["old_neglogp"], -mb["master_neglogp"], adv,
                                               self.e_clip, self.off_cfg.clip)
        w_pol = torch.where(off, float(self.off_cfg.weight), 1.0)
        w_val = torch.where(off, float(self.off_cfg.critic_weight), 1.0)
        a_loss = (w_pol * torch.where(off, off_loss, on_loss)).mean()
        v_loss = losses.value_loss(res["values"][:, 0], mb["values"], mb["returns"], self.e_clip, self.clip_value)
        c_loss = (w_val * v_loss).mean()
        own_log_std = self.net.agent_log_std(mb["agent_ids"], detach_shared=True)  # the master's σ stays out
        entropy = (self.entropy_coefs[mb["agent_ids"]] * losses.gaussian_entropy(own_log_std)).mean()
        b_loss = losses.bounds_loss(res["mus"]).mean()
        loss = a_loss + 0.5 * self.critic_coef * c_loss - entropy + self.bounds_loss_coef * b_loss
        kl = torch_ext.policy_kl(res["mus"].detach(), res["sigmas"].detach(), mb["mu"], mb["sigma"], True)
        return loss, {"a_loss": a_loss.detach(), "c_loss": c_loss.detach(), "entropy": res["entropy"].mean().detach(),
                      "b_loss": b_loss.detach(), "kl": kl, "mu": res["mus"].detach(), "sigma": res["sigmas"].detach()}

    def update(self, data: dict[str, Any]) -> dict[str, list[torch.Tensor]]:
        """``mini_epochs`` passes of minibatch gradient steps; adaptive LR on each mini-epoch's mean KL, averaged
        over the ``torchrun`` ranks before the schedule sees it (as rl_games' ``multi_gpu`` agents do, in
        ``ContinuousA2CBase.train_epoch``; rank 0's learning rate is then broadcast by ``update_lr``).

        KL as in rl_games' continuous A2C: each minibatch's KL is measured against the stored policy (μ, σ) of
        its rows, and after the step those rows' stored μ, σ are overwritten with the policy the minibatch was
        evaluated with (before its step). So the first mini-epoch measures the change from the rollout policy,
        later ones the change since the rows' previous minibatch (``data["mu"]``/``["sigma"]`` are updated in
        place; the losses use the stored log-probs, which never change). With
        ``mixed_precision`` on a CUDA device the forward pass and loss run under float16 autocast and the
        backward pass through rl_games' GradScaler (as rl_games' own A2C agent does)."""
        logs: dict[str, list[torch.Tensor]] = {"a_loss": [], "c_loss": [], "entropy": [], "b_loss": [], "kl": []}
        device_type = torch.device(self.ppo_device).type
        autocast = bool(self.mixed_precision) and device_type == "cuda"
        self.set_train()
        for _ in range(self.mini_epochs_num):
            epoch_kls = []
            for idx, mb in self.minibatches(data):
                with torch.autocast(device_type=device_type, enabled=autocast):
                    loss, info = self.minibatch_loss(mb)
                data["mu"][idx] = info.pop("mu").to(data["mu"].dtype)
                data["sigma"][idx] = info.pop("sigma").to(data["sigma"].dtype)
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.trancate_gradients_and_step()
                for key, value in info.items():
                    logs[key].append(value)
                epoch_kls.append(info["kl"])
            kl = self.ranks.mean(torch_ext.mean_list(epoch_kls))  # as rl_games' multi_gpu: every rank's KL
            self.last_lr, self.entropy_coef = self.scheduler.update(
                self.last_lr, self.entropy_coef, self.epoch_num, 0, kl.item())
            self.update_lr(self.last_lr)
            if self.normalize_input:
                self.model.running_mean_std.eval()
        return logs

    # ---------------------------------------------------------------- genetic step
    def genetic_step(self, frames: int) -> dict[str, Any]:
        """A GA check when due (spec §4): at warmup + k·interval env steps (``config.ga_schedule``).

        The fitness window of a check opens one interval before it: episodes that finish earlier are dropped.
        A generation closes the window (the next one opens); a closed gate or a follower without a finished
        episode keeps it open, so evidence accumulates until the blocks' differences are significant. With
        ``ga.gate_latch`` the gate is asked until it first opens; from then on every check with fitness runs.
        """
        if not self.ga_enabled:
            return {}
        if frames < self.next_check_frame:
            if frames <= self.next_check_frame - self.ga_interval:  # before the first window opens
                self.fitness.reset()
            return {}
        while self.next_check_frame <= frames:
            self.next_check_frame += max(self.ga_interval, 1)
        tracker = self.merged_fitness(self.fitness)  # every rank's episodes: the same decision everywhere
        fitness = tracker.fitness()  # NaN: a block without a finished episode in the window
        gen = self.gene_pool.genetic_step(fitness, tracker.aligned_episodes(), allow_missing=True,
                                          log_std=self.net.log_std, optimizer=self.optimizer)
        if gen.ran:
            self.fitness.reset()
        return {"ran": gen.ran, "status": gen.status, "reason": gen.reason, "gate_statistic": gen.gate_statistic,
                "gate_open": gen.gate_open, "replaced": gen.replaced.tolist(), "fitness": fitness.cpu()}

    @property
    def generation(self) -> int:
        """Generations run so far (:attr:`LatentGenePool.generation`)."""
        return self.gene_pool.generation

    @property
    def gate_latched(self) -> bool:
        """Whether the gate has opened once in this run (``ga.gate_latch``; :attr:`LatentGenePool.gate_latched`)."""
        return self.gene_pool.gate_latched

    # ---------------------------------------------------------------- epoch
    def train_epoch(self):
        """One EPO epoch; returns what rl_games' ``train`` loop expects."""
        with self.update_phase():  # torch threads by phase (epo_isaac.host.threads)
            return self._train_epoch()

    def _train_epoch(self):
        self.vec_env.set_train_info(self.frame, self)
        self.set_eval()
        self.stats.reset()
        self.fitness.next_period()
        start = time.perf_counter()
        with self.rollout_phase():
            ro, step_time = self.collect_rollout()
        play_time = time.perf_counter() - start
        self.curr_frames = self.batch_size
        data = self.build_dataset(ro)
        logs = self.update(data)
        self.sync_normalizers()
        event = self.genetic_step(self.frame + self.curr_frames * self.ranks.size)  # frames of every rank
        total_time = time.perf_counter() - start
        self.reduce_stats(self.stats)
        self.epoch_summary = self.summarise(event, data["num_off"])
        self.finish_epoch()
        self.algo_observer.after_steps()
        return (step_time, play_time, total_time - play_time, total_time, logs["a_loss"], logs["c_loss"],
                logs["b_loss"], logs["entropy"], logs["kl"], self.last_lr, 1.0)

    def summarise(self, event: dict[str, Any], num_off: int) -> dict[str, Any]:
        """Scalars of this epoch for TensorBoard/wandb and the console line."""
        fitness = self.fitness.fitness()
        summary = self.stats.summary()
        log_std = self.net.agent_log_std().detach()
        summary.update({
            "population/latent_diversity": latent_diversity(self.net.latents.detach()),
            "population/log_std_mean": log_std.mean().item(),
            "master/log_std_mean": log_std[0].mean().item(),
            "ga/generation": self.generation,
            "ga/gate_latched": float(self.gate_latched),
            "off_policy/rows": num_off,
        })
        for b in range(self.population_size):
            if torch.isfinite(fitness[b]):
                summary[f"fitness/agent_{b}"] = fitness[b].item()
        finite = fitness[1:][torch.isfinite(fitness[1:])]
        summary["fitness/mean"] = finite.mean().item() if finite.numel() else float("nan")
        if event:
            summary["ga/ran"] = float(event["ran"])
            summary["ga/rows_replaced"] = len(event["replaced"])
            summary["ga/gate_statistic"] = event["gate_statistic"]
            if event["gate_open"] is not None:
                summary["ga/gate_open"] = float(event["gate_open"])
            summary["_ga_event"] = event
        return summary

    def write_stats(self, total_time, epoch_num, step_time, play_time, update_time, a_losses, c_losses,
                    entropies, kls, last_lr, lr_mul, frame, scaled_time, scaled_play_time, curr_frames):
        super().write_stats(total_time, epoch_num, step_time, play_time, update_time, a_losses, c_losses,
                            entropies, kls, last_lr, lr_mul, frame, scaled_time, scaled_play_time, curr_frames)
        for key, value in self.epoch_summary.items():
            if not key.startswith("_") and math.isfinite(value):
                self.writer.add_scalar(key, value, frame)
        event = self.epoch_summary.get("_ga_event")
        if event:
            finite = event["fitness"][torch.isfinite(event["fitness"])]
            if finite.numel():
                self.writer.add_histogram("ga/fitness_histogram", finite, frame)

    # ---------------------------------------------------------------- checkpoints
    @property
    def checkpoint_algo(self) -> str:
        return self.algo

    def get_full_state_weights(self) -> dict[str, Any]:
        """rl_games' state + ``meta``/``resume`` (:class:`ResumableAgentMixin`) + ``epo``: fitness, GA
        schedule and generators."""
        state = super().get_full_state_weights()
        state["epo"] = {
            "fitness": self.fitness.state_dict(),
            "generation": self.generation,
            "gate_latched": self.gate_latched,
            "next_check_frame": self.next_check_frame,
            "ga_generator": self.ga_generator.get_state(),
            "sample_generator": self.sample_generator.get_state(),
        }
        return state

    def checkpoint_meta(self) -> dict[str, Any]:
        return {**super().checkpoint_meta(), **population_meta(self.net)}

    def rank_state(self) -> dict[str, Any]:
        """This rank's RNG states, its off-policy row generator and its own fitness window
        (:mod:`epo_isaac.host.multirank`)."""
        return {**super().rank_state(), "sample_generator": self.sample_generator.get_state(),
                "fitness": self.fitness.state_dict()}

    def set_full_state_weights(self, weights: dict[str, Any], set_epoch: bool = True) -> None:
        """Restore :meth:`get_full_state_weights`' dict (checked first by ``restore``); checkpoints written
        before the GA schedule, the gate latch or ``resume`` existed load too."""
        super().set_full_state_weights(weights, set_epoch=set_epoch)
        epo = weights["epo"]
        self.fitness.load_state_dict(restored_fitness(epo["fitness"], weights.get("ranks"), self.ranks.rank,
                                                      self.ranks.size))
        self.gene_pool.generation = int(epo["generation"])
        self.gene_pool.gate_latched = bool(epo.get("gate_latched", self.generation > 0))  # older: opened once
        if "next_check_frame" in epo:
            self.next_check_frame = int(epo["next_check_frame"])
        else:  # checkpoints written before the schedule was derived from the budget
            self.next_check_frame = max(self.ga_warmup, int(epo["last_generation_frame"]) + self.ga_interval)
        self.ga_generator.set_state(epo["ga_generator"].cpu())
        rows = epo["sample_generator"] if self.ranks.rank == 0 else \
            saved_rank(weights.get("ranks"), self.ranks.rank).get("sample_generator")
        if rows is not None:  # a rank the checkpoint has no state of keeps its own
            self.sample_generator.set_state(rows.cpu())
        if "torch_rng" in epo:  # checkpoints written before ``resume`` held it
            torch.set_rng_state(epo["torch_rng"].cpu())
