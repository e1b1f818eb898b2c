"""How often the GA's gate opens by chance, and how often it opens for a real difference (issue 24): the table of
docs/algorithms.md "How often the gate opens by chance".

    python -m bench.gate_simulation [--trials-cpu 2000] [--trials-paper 200] [--seed 0] [--tau 0.3]

Simulates (``epo_isaac.epo.gate_simulation.simulate_gate``; no training) 30 GA checks (``ga.num_checks``) of a
run at two scales:

* CPU: M = 8 agents on 48 envs (``bench.evolution``: 6 envs per block); 6 finished episodes per follower block per
  check interval (HalfCheetah's 1000-step episodes give one wave of 6 per 48,000 env steps; LunarLander about as
  many);
* paper: M = 64 agents on 24,576 envs (spec §5: 384 envs per block); 384 episodes per block per interval (one per
  env per 2e7-frame interval; Allegro-Kuka's episodes are shorter, so this is a lower bound).

Gates: ``kruskal`` p < 0.2 latched (the default gate until 2026-12-03; now ``off``), ``kruskal`` p < 0.2 asked at
every check, ``effect_size`` ε²_H ≥ τ (``ga.gate_effect_size``, default from ``GeneticConfig``) and ε²_H ≥ 0.02 (a
paper-scale τ). Block means (within-block s.d. units): all equal (H0), one block + 0.1 (tiny), one block + 0.5,
every block different (means evenly spaced, s.d. 0.5). Columns: P(the gate has opened by check 1 / 3 / 10 / 30) and
the mean number of generations in the 30 checks. Prints a markdown table; about 2 min (CPU scale) + 6 min (paper
scale) on one core.
"""

from __future__ import annotations

import sys

if not __package__:  # run as ``python bench/gate_simulation.py``: the package imports below would fail
    print("run it from the repository root as: python -m bench.gate_simulation", file=sys.stderr)
    sys.exit(2)

import argparse

import torch

from epo_isaac.epo.config import GeneticConfig
from epo_isaac.epo.gate_simulation import simulate_gate

NUM_CHECKS = 30
SCALES: dict[str, tuple[int, int]] = {"CPU (M = 8, 6 episodes/block/window)": (7, 6),
                                      "paper (M = 64, 384 episodes/block/window)": (63, 384)}
PVALUE = 0.2
PAPER_TAU = 0.02


def _scenarios(num_blocks: int) -> dict[str, list[float]]:
    spread = torch.linspace(-1.0, 1.0, num_blocks, dtype=torch.float64)
    spread = 0.5 * spread / spread.std(unbiased=False)
    one = [0.0] * (num_blocks - 1)
    return {"H0": [0.0] * num_blocks, "one block +0.1": [0.1, *one], "one block +0.5": [0.5, *one],
            "all differ, s.d. 0.5": spread.tolist()}


def main() -> None:
    """Print the table (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials-cpu", type=int, default=2000)
    parser.add_argument("--trials-paper", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tau", type=float, default=GeneticConfig().gate_effect_size)
    args = parser.parse_args()
    torch.set_num_threads(1)
    gates = [("kruskal p<0.2, latched", "kruskal", PVALUE, True),
             ("kruskal p<0.2, every check", "kruskal", PVALUE, False),
             (f"effect_size ε²≥{args.tau:g}", "effect_size", args.tau, False),
             (f"effect_size ε²≥{PAPER_TAU:g}", "effect_size", PAPER_TAU, False)]
    print("| scale | block means | gate | by check 1 | 3 | 10 | 30 | generations in 30 checks |")
    print("|---|---|---|---|---|---|---|---|")
    for scale, (num_blocks, episodes) in SCALES.items():
        trials = args.trials_cpu if scale.startswith("CPU") else args.trials_paper
        for name, means in _scenarios(num_blocks).items():
            for label, gate, threshold, latch in gates:
                sim = simulate_gate(gate, threshold, latch, num_blocks, episodes, NUM_CHECKS, means, trials,
                                    args.seed)
                by = " | ".join(f"{float(sim.opened_by[k - 1]):.2f}" for k in (1, 3, 10, 30))
                print(f"| {scale.split(' ')[0]} | {name} | {label} | {by} | {sim.generations:.1f} |", flush=True)
    print(f"\ntrials: {args.trials_cpu} (CPU), {args.trials_paper} (paper); seed {args.seed}; {NUM_CHECKS} checks")


if __name__ == "__main__":
    main()
