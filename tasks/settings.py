"""Typed task settings: what a factory accepts, and the one-line checks of a user's values against it.

A factory's settings are a mapping ``name -> Setting``: read from its keyword arguments and their annotations
(:func:`from_signature`), or declared by the factory as a ``settings`` attribute, e.g. built from a dataclass
(:func:`from_dataclass`). A :class:`Setting` with a ``group`` is a nested block of settings
(``task.rewards.lifting_bonus=...``). No simulator is imported here.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tasks.base import TaskConfigError, closest

RUNTIME = ("num_envs", "seed", "device", "sim")  # factory arguments that are not task settings


@dataclass(frozen=True)
class Setting:
    """One setting of a task.

    Attributes:
        hint: the type annotation its value must match (``Any``: unchecked).
        required: True when the factory has no default for it.
        group: for a nested block of settings, the block's own settings (its value is then a mapping).
    """

    hint: Any = Any
    required: bool = False
    group: Mapping[str, Setting] | None = None


def _type_hints(obj: Any) -> dict[str, Any]:
    """``obj``'s evaluated annotations (empty when they cannot be evaluated: values are then unchecked)."""
    try:
        return typing.get_type_hints(obj)
    except Exception:  # an unevaluable annotation only disables the check
        return {}


def from_signature(factory: Callable[..., Any]) -> dict[str, Setting] | None:
    """The settings of a factory that takes them as keyword arguments (all but :data:`RUNTIME`); None when it
    takes ``**kwargs`` (its settings are then unchecked)."""
    params = inspect.signature(factory).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    hints = _type_hints(factory)
    return {k: Setting(hints.get(k, Any), p.default is inspect.Parameter.empty)
            for k, p in params.items() if k not in RUNTIME}


def from_dataclass(cls: type, keep: Callable[[dataclasses.Field], bool] = lambda f: True) -> dict[str, Setting]:
    """The settings of dataclass ``cls``: its fields for which ``keep(field)`` is True; a field whose type is a
    dataclass becomes a group of that dataclass's kept fields. Fields without a default are required."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if not keep(f):
            continue
        hint = hints[f.name]
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        group = from_dataclass(hint, keep) if dataclasses.is_dataclass(hint) else None
        out[f.name] = Setting(dict if group is not None else hint, required, group)
    return out


def leaf_names(settings: Mapping[str, Setting], prefix: str = "") -> list[str]:
    """Every setting's dotted name (``episode_length``, ``rewards.lifting_bonus``), groups expanded."""
    names = []
    for key, s in settings.items():
        names += leaf_names(s.group, f"{prefix}{key}.") if s.group is not None else [prefix + key]
    return names


def check(values: Mapping[str, Any], settings: Mapping[str, Setting], owner: str, prefix: str = "task.",
          group: str = "") -> None:
    """Raise :class:`TaskConfigError` (one line) for a key of ``values`` that ``settings`` lacks (the closest
    dotted name suggested), a missing required one, or a value of the wrong type.

    Args:
        owner: who has the settings, for messages (``"task AllegroKukaThrow"``).
        prefix: how a setting is written on the command line (``"task."``), for messages.
        group: dotted name of the group being checked (recursion; ``""`` at the top).
    """
    for key in values:
        if key not in settings:
            names = leaf_names(settings, group)
            hint = closest(group + key, names + [group + k for k in settings]) or (
                f"; its settings: {', '.join(names) or 'none'}")
            raise TaskConfigError(f"{owner} has no setting {group + key!r}{hint}")
    for key, s in settings.items():
        name = group + key
        if key not in values:
            if s.required:
                raise TaskConfigError(f"{owner} needs {prefix}{name}=<{describe(s.hint)}>")
            continue
        value = values[key]
        if s.group is not None:
            if not isinstance(value, Mapping):
                raise TaskConfigError(f"{prefix}{name}={show(value)}: expected a group of settings "
                                      f"({', '.join(s.group)})")
            check(value, s.group, owner, prefix, f"{name}.")
        elif not matches(value, s.hint):
            raise TaskConfigError(f"{prefix}{name}={show(value)}: expected {describe(s.hint)}")


# --------------------------------------------------------------------------------------------- types
def show(value: Any) -> str:
    """``value`` as written on a Hydra command line (``null``, ``true``, ``[1, 2]``, bare strings)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def describe(hint: Any) -> str:
    """Human name of a type annotation: ``int``, ``float or null``, ``one of sync, async``, ``a list of float``."""
    args = typing.get_args(hint)
    if _is_union(hint):
        text = " or ".join(describe(a) for a in args if a is not type(None))
        return f"{text} or null" if type(None) in args else text
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(show(a) for a in args)
    if hint in (list, tuple) or typing.get_origin(hint) in (list, tuple):
        items = {a for a in args if a is not Ellipsis}
        return f"a list of {describe(items.pop())}" if len(items) == 1 else "a list"
    return getattr(hint, "__name__", str(hint))


def matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits the annotation ``hint`` (ints fit ``float``, lists fit ``tuple``; bools are not
    ints). Annotations other than plain types, unions, ``Literal``, ``list``/``tuple``/``dict`` are not checked.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    if _is_union(hint):
        return any(matches(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (list, tuple) or origin in (list, tuple):
        return isinstance(value, list | tuple) and _items_match(value, args)
    if hint is dict or origin is dict:
        return isinstance(value, dict)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _items_match(items: list | tuple, args: tuple) -> bool:
    """Element check for ``list[X]``, ``tuple[X, ...]`` and ``tuple[X, Y]`` (no args: anything)."""
    if not args:
        return True
    if len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis):
        return all(matches(v, args[0]) for v in items)
    return len(items) == len(args) and all(matches(v, a) for v, a in zip(items, args, strict=True))
