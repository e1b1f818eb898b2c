"""The PPO baseline: rl_games' own continuous A2C agent and player, with our host plumbing.

Registered as algo ``epo_ppo`` (see :func:`epo_isaac.register`); rl_games' ``a2c_continuous`` stays untouched.
"""
