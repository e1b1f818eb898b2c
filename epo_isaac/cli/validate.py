"""The one validation mechanism of every setting: pydantic v2 models, and their errors as one line.

Every settings family (top level, ``train.*``, ``train.es.*``, ``task.*``, ``sim.*``) is a pydantic model with
``extra="forbid"``, types, ranges (``Field(gt=0)``) and choices (``Literal``) declared once on its fields; the
models live with the code they configure (``epo_isaac`` for the run and the algorithms, ``tasks`` for tasks and
simulators). :func:`validate` checks a plain mapping against any of them and turns pydantic's report into the
one-line :class:`~epo_isaac.errors.UserError` that ``train.py`` prints (exit code 2, nothing written).

A model validator (a constraint across fields) raises ``ValueError`` with a message that starts with the key it
blames, relative to its model (``"population_size=5: ..."``); :func:`describe` puts the model's place in front
(``train.es.population_size=5: ...``).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import annotated_types
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

from epo_isaac.errors import UserError

M = TypeVar("M", bound=BaseModel)

SETTINGS = ConfigDict(extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False, frozen=True,
                      coerce_numbers_to_str=True, validate_default=True)
"""The ``model_config`` of every settings model: unknown keys rejected, each field's attribute docstring kept as
its description (the configuration reference), no inf/NaN, immutable, ``experiment=2024`` read as a string."""

_KINDS = {"int": "an integer", "float": "a number", "bool": "true or false", "string": "a string",
          "list": "a list", "dict": "a group of settings", "model": "a group of settings",
          "model_attributes": "a group of settings", "finite_number": "a finite number", "int_from_float": "an integer"}
"""What a value of the wrong type should have been, by pydantic error type (``int_parsing`` → ``int``)."""


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
            at its level, or the key, its value and what it must be (``train.ppo.gamma=1.5: expected a number
            in (0, 1]``).
    """
    try:
        return model.model_validate(dict(data))
    except ValidationError as err:
        raise UserError(describe(err, model, prefix)) from None


def describe(err: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """One line for the first error of ``err`` (raised validating ``model``), keys written as ``prefix`` + path."""
    first = err.errors(include_url=False)[0]
    loc = list(first["loc"])
    key = prefix + _path(loc)
    kind, ctx = first["type"], first.get("ctx") or {}
    if kind == "extra_forbidden":
        valid = sorted(fields_at(model, [str(p) for p in loc[:-1]]))
        where = f" under {prefix}{_path(loc[:-1])}" if loc[:-1] or prefix else ""
        return (f"unknown key {key}{closest(str(loc[-1]), valid)}; valid keys{where.rstrip('.')}: "
                f"{', '.join(valid)}")
    if kind == "missing":
        return f"{key} is missing: give {key}=<value>"
    if kind == "value_error":
        message = str(ctx.get("error", first["msg"]))
        if isinstance(first["input"], Mapping | BaseModel):  # a model validator: its message names the key
            return f"{key}.{message}" if loc else f"{prefix}{message}"
        return f"{key}={show(first['input'])}: {message}"
    annotation = annotation_at(model, loc)
    bounds = interval(constraints(annotation))
    wrong_type = kind if kind in _KINDS else kind.rsplit("_", 1)[0] if kind.endswith(("_type", "_parsing")) else ""
    if kind == "literal_error":
        what = f"expected {ctx.get('expected')}"
    elif bounds and (any(name in ctx for name in ("gt", "ge", "lt", "le"))
                     or wrong_type in ("int", "float", "int_from_float")):
        what = f"expected {_number(annotation)} {bounds}"
    elif wrong_type in _KINDS:
        what = f"expected {_KINDS[wrong_type]}"
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


def annotation_at(model: type[BaseModel], loc: list[Any]) -> Any:
    """The annotation (with its ``Annotated`` constraints) of the field at ``loc`` under ``model``, or of the
    items of a list field when ``loc`` ends in an index; None when ``loc`` leads elsewhere."""
    annotation: Any = model
    for part in loc:
        inner = _model_of(annotation)
        if isinstance(part, str) and inner is not None and part in inner.model_fields:
            field = inner.model_fields[part]
            annotation = typing.Annotated[(field.annotation, *field.metadata)] if field.metadata \
                else field.annotation
        elif isinstance(part, int):
            annotation = _item(annotation, part)
        else:
            return None
    return annotation


def _item(annotation: Any, index: int) -> Any:
    """The annotation of item ``index`` of a list or tuple annotation (``list[X]``, ``tuple[X, Y]``, ``tuple[X, ...]``;
    ``Annotated`` and unions looked through), or None."""
    for a in _flatten(annotation):
        while hasattr(a, "__metadata__"):
            a = typing.get_args(a)[0]
        args = typing.get_args(a)
        if typing.get_origin(a) is list and args:
            return args[0]
        if typing.get_origin(a) is tuple and args:
            return args[0] if len(args) == 2 and args[1] is Ellipsis else args[min(index, len(args) - 1)]
    return None


def constraints(annotation: Any) -> list[Any]:
    """The bounds (``annotated_types.Gt`` / ``Ge`` / ``Lt`` / ``Le``) declared in ``annotation``."""
    found: list[Any] = []
    for a in _flatten(annotation):
        for m in getattr(a, "__metadata__", ()):
            for c in (m.metadata if isinstance(m, FieldInfo) else [m]):
                if isinstance(c, annotated_types.Gt | annotated_types.Ge | annotated_types.Lt | annotated_types.Le):
                    found.append(c)
    return found


def _number(annotation: Any) -> str:
    """``"an integer"`` for an int field, else ``"a number"``."""
    bases = [b for a in _flatten(annotation)
             for b in (_flatten(typing.get_args(a)[0]) if hasattr(a, "__metadata__") else [a])]
    return "an integer" if int in bases and float not in bases else "a number"


def interval(constraints: list[Any]) -> str:
    """``"> 0"``, ``">= 1"`` or ``"in (0, 1]"`` for a field's :func:`constraints` (``""`` for none)."""
    low = next((c for c in constraints if isinstance(c, annotated_types.Gt | annotated_types.Ge)), None)
    high = next((c for c in constraints if isinstance(c, annotated_types.Lt | annotated_types.Le)), None)
    if low is not None and high is not None:
        lv = low.gt if isinstance(low, annotated_types.Gt) else low.ge
        hv = high.lt if isinstance(high, annotated_types.Lt) else high.le
        return (f"in {'(' if isinstance(low, annotated_types.Gt) else '['}{lv}, "
                f"{hv}{')' if isinstance(high, annotated_types.Lt) else ']'}")
    if low is not None:
        return f"> {low.gt}" if isinstance(low, annotated_types.Gt) else f">= {low.ge}"
    if high is not None:
        return f"< {high.lt}" if isinstance(high, annotated_types.Lt) else f"<= {high.le}"
    return ""


def _flatten(annotation: Any) -> list[Any]:
    """``annotation`` and, through unions (``X | None``), its members."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for arg in typing.get_args(annotation) for a in _flatten(arg)]
    return [annotation]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model class inside an annotation (``Model``, ``Model | None``), or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        inner = _model_of(arg)
        if inner is not None:
            return inner
    return None


def _path(loc: list[Any]) -> str:
    """``train.network.units[0]`` from pydantic's location ``("train", "network", "units", 0)``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def show(value: Any) -> str:
    """A user's value as they would write it on the command line (``abc``, ``1.5``, ``[1, 2]``)."""
    return value if isinstance(value, str) else repr(value)
