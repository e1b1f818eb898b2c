"""Task settings as pydantic v2 models: what a factory accepts, its defaults, and the model config they share.

A factory's settings (``task.<key>`` minus ``name``/``num_envs``) are a pydantic model: the factory's
``settings_model`` attribute (e.g. :meth:`tasks.allegro_kuka.config.Variant.settings_model`), else one built from
its annotated keyword arguments (:func:`from_signature`; ranges as ``Annotated[int, Field(ge=1)]``). Every model
forbids unknown keys and checks types strictly (a bool is not an int, a string is not a number); a bad value
raises ``pydantic.ValidationError`` naming the field, which ``train.py`` turns into one line
(``epo_isaac.cli.validate.describe``). No simulator is imported here.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, create_model
from pydantic_core import to_jsonable_python

RUNTIME = ("num_envs", "seed", "device", "sim")  # factory arguments that are not task settings

# the model config of every task and simulator settings model; GENERATED: of one made by create_model (its
# field descriptions are given: reading attribute docstrings from source would only slow the import down)
SETTINGS = ConfigDict(extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True)
GENERATED = ConfigDict(extra="forbid", strict=True, frozen=True)


def _list_as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def Pair(item: Any) -> Any:  # a type, named as one
    """``tuple[item, item]`` that also takes a two-item list (what Hydra and YAML give)."""
    return Annotated[tuple[item, item], BeforeValidator(_list_as_tuple)]


def model_of(factory: Callable[..., Any]) -> type[BaseModel]:
    """The settings model of ``factory``: its ``settings_model`` attribute, else :func:`from_signature`."""
    declared = getattr(factory, "settings_model", None)
    return declared if declared is not None else from_signature(factory)


@functools.cache
def from_signature(factory: Callable[..., Any]) -> type[BaseModel]:
    """A model of ``factory``'s keyword arguments but :data:`RUNTIME` (types from the annotations, ranges from
    ``Annotated[..., Field(...)]``, defaults from the signature; no default: required). A factory that takes
    ``**kwargs`` gets a model that accepts any key (its settings are then unchecked)."""
    params = inspect.signature(factory).parameters
    hints = typing.get_type_hints(factory, include_extras=True)
    fields = {k: (hints.get(k, Any), ... if p.default is inspect.Parameter.empty else p.default)
              for k, p in params.items() if k not in RUNTIME and p.kind is not p.VAR_KEYWORD}
    config = GENERATED
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        config = ConfigDict(**{**GENERATED, "extra": "allow"})
    name = getattr(factory, "__name__", type(factory).__name__)
    return create_model(f"{name}_settings", __config__=config, __doc__=factory.__doc__, **fields)


def defaults(model: type[BaseModel]) -> dict[str, Any]:
    """The defaults of ``model``'s fields as plain data (nested models as dicts, tuples as lists); required
    fields are left out."""
    return {key: to_jsonable_python(field.get_default(call_default_factory=True))
            for key, field in model.model_fields.items() if not field.is_required()}
