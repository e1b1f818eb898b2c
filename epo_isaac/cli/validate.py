"""The one validation mechanism of every setting: pydantic v2 models, and their errors as one line.

Every settings family (top level, ``train.*``, ``train.es.*``, ``task.*``, ``sim.*``) is a pydantic model with
``extra="forbid"``, types, ranges (``Field(gt=0)``) and choices (``Literal``) declared once on its fields; the
models live with the code they configure (``epo_isaac`` for the run and the algorithms, ``tasks`` for tasks and
simulators). :func:`validate` checks a plain mapping against any of them and turns pydantic's report into the
one-line :class:`~epo_isaac.errors.UserError` that ``train.py`` prints (exit code 2, nothing written).
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from epo_isaac.errors import UserError

M = TypeVar("M", bound=BaseModel)

_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def closest(key: str, candidates: list[str] | Mapping[str, Any]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``candidates`` to ``key`` (difflib), or ``""``."""
    match = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def validate(model: type[M], data: Mapping[str, Any], prefix: str = "") -> M:
    """``model`` built from ``data`` (a plain nested mapping).

    Args:
        model: a pydantic model class with ``extra="forbid"``.
        data: the settings, e.g. ``OmegaConf.to_container(cfg.train)``.
        prefix: the settings' place on the command line (``"train."``), put before every key in messages.

    Raises:
        UserError: the first problem as one line: an unknown key with the closest valid one and the valid keys
            at its level, or the key, its value and what it must be (``train.ppo.gamma=1.5: expected <= 1``).
    """
    try:
        return model.model_validate(dict(data))
    except ValidationError as err:
        raise UserError(describe(err, model, prefix)) from None


def describe(err: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """One line for the first error of ``err`` (raised validating ``model``), keys written as ``prefix`` + path."""
    first = err.errors(include_url=False)[0]
    loc = [str(part) for part in first["loc"]]
    key = prefix + ".".join(loc)
    if first["type"] == "extra_forbidden":
        valid = sorted(fields_at(model, loc[:-1]))
        where = f" under {prefix}{'.'.join(loc[:-1])}" if loc[:-1] or prefix else ""
        return (f"unknown key {key}{closest(loc[-1], valid)}; valid keys{where.rstrip('.')}: "
                f"{', '.join(valid)}")
    ctx = first.get("ctx") or {}
    bound = next((f"{sign} {ctx[name]}" for name, sign in _BOUNDS.items() if name in ctx), None)
    if bound is not None:
        what = f"expected {bound}"
    elif first["type"] == "literal_error":
        what = f"expected one of {ctx.get('expected')}"
    elif first["type"] == "missing":
        return f"{key} is missing: give {key}=<value>"
    else:
        what = first["msg"][0].lower() + first["msg"][1:]
    return f"{key}={show(first['input'])}: {what}"


def fields_at(model: type[BaseModel], path: list[str]) -> list[str]:
    """The field names of the model nested at ``path`` under ``model`` ([] when ``path`` leads elsewhere)."""
    for part in path:
        field = model.model_fields.get(part)
        inner = _model_of(field.annotation) if field is not None else None
        if inner is None:
            return []
        model = inner
    return list(model.model_fields)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model class inside an annotation (``Model``, ``Model | None``), or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        inner = _model_of(arg)
        if inner is not None:
            return inner
    return None


def show(value: Any) -> str:
    """A user's value as they would write it on the command line (``abc``, ``1.5``, ``[1, 2]``)."""
    return value if isinstance(value, str) else repr(value)
