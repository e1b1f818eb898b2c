"""OpenAI-ES (Salimans et al. 2017) on rl_games: the ask/tell optimiser, the batched deterministic policy,
episode collection and the agent/player."""
