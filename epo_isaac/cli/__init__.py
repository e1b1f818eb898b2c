"""``train.py``'s command-line plumbing: Isaac Gym before torch, checks of every setting before Hydra writes
anything, one-line user errors, console and log routing."""
