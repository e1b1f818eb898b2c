"""EPO and SAPG (spec: docs/spec/epo_algorithm.md): the agent's epoch (rollout → targets → on- and off-policy
update → genetic step → log), the losses, the genetic algorithm and its gate, the population layout and the
latent-conditioned actor-critic."""
