"""Errors a user can fix: ``train.py`` prints their message as one line (no traceback) and exits with code 2.

Anything else is a bug and keeps its traceback. ``debug=true`` or ``HYDRA_FULL_ERROR=1`` shows the traceback of
these too.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input (config value, command-line override, checkpoint file); the message says what to change."""


class CheckpointError(UserError):
    """A checkpoint that is missing, unreadable, not ours, or written for another task/algorithm/layout."""
