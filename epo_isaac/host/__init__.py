"""What every algorithm shares on rl_games: the batched-task vecenv adapter, progress observer and per-agent
statistics, checkpoints and exact resume, ``torchrun`` ranks, torch threads by phase, videos, and the typed train
config turned into rl_games parameters."""
