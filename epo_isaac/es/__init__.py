"""OpenAI-ES (Salimans et al. 2017) on rl_games: its pure maths, the ask/tell optimiser, the batched deterministic
policy, episode collection and the agent/player."""
