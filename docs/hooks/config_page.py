"""MkDocs hook: the configuration reference, generated at build time from the settings models.

``docs/configuration.md`` holds the prose; each ``<!-- settings: <family> -->`` marker in it is replaced by tables
read from the pydantic models that ``train.py`` validates with (:mod:`epo_isaac.cli.run_config`,
:mod:`epo_isaac.host.config`, ``tasks.settings_model``, ``tasks.sim_model``) and from the yaml files that override
their defaults (``cfg/train``, ``cfg/task_train``), so the page cannot drift from what the code accepts.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parents[2]
_BOUNDS = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
_SKIP_RUN = ("task", "train", "sim")  # groups with tables of their own


def type_name(annotation: Any) -> str:
    """``int``, ``float or none``, ```'a'` \\| `'b'``` for a field annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a!r}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return "none" if annotation is type(None) else getattr(annotation, "__name__", str(annotation))


def bounds(field: FieldInfo) -> str:
    """``> 0, ≤ 1`` from a field's constraints (also inside ``Annotated`` items), or ``""``."""
    found = []
    metas = list(field.metadata)
    for arg in typing.get_args(field.annotation):
        metas += list(getattr(arg, "__metadata__", ()))
    for meta in metas:
        for name, sign in _BOUNDS.items():
            value = getattr(meta, name, None)
            if value is not None:
                found.append(f"{sign} {value}")
    return ", ".join(found)


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model class of a nested settings group, or None for a leaf."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def rows(model: type[BaseModel], prefix: str = "", skip: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """(key, type, default, range, description) of every leaf setting of ``model``, nested groups expanded."""
    defaults = model().model_dump()
    out: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        inner = nested_model(field.annotation)
        if inner is not None:
            out += rows(inner, f"{prefix}{name}.")
            continue
        desc = " ".join((field.description or "").split()).replace("|", "\\|")
        default = repr(defaults.get(name)).replace("|", "\\|")
        out.append((f"`{prefix}{name}`", type_name(field.annotation), f"`{default}`", bounds(field), desc))
    return out


def table(model: type[BaseModel], prefix: str = "", skip: tuple[str, ...] = ()) -> str:
    """A Markdown table of :func:`rows`."""
    lines = ["| key | type | default | range | what it does |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows(model, prefix, skip)]
    return "\n".join(lines)


def flat(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"ppo.gamma": 0.99, ...}`` from a nested mapping (Hydra's ``defaults`` list left out)."""
    if not isinstance(data, dict):
        return {prefix.rstrip("."): data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key != "defaults":
            out.update(flat(value, f"{prefix}{key}."))
    return out


def overrides(folder: str, prefix: str) -> str:
    """A table of what each ``cfg/<folder>/*.yaml`` sets over the model defaults."""
    lines = ["| file | sets |", "|---|---|"]
    for path in sorted((ROOT / "cfg" / folder).glob("*.yaml")):
        values = flat(yaml.safe_load(path.read_text()) or {})
        sets = ", ".join(f"`{prefix}{k}={v}`" for k, v in values.items()) or "nothing"
        lines.append(f"| `cfg/{folder}/{path.name}` | {sets} |")
    return "\n".join(lines)


def task_tables() -> str:
    """One table per task family: the Allegro-Kuka variants (and what each changes), the Gymnasium tasks."""
    import tasks

    base_name = "AllegroKukaRegrasping"
    base = tasks.defaults(base_name)
    parts = [f"### Allegro-Kuka (defaults of `{base_name}`)", "", table(tasks.settings_model(base_name), "task."),
             "", "What each other variant changes (its `VARIANTS` entry; one-arm-only settings dropped):", "",
             "| task | differs from the table above |", "|---|---|"]
    gym = []
    for name in sorted(tasks.TASKS):
        if name.startswith("AllegroKuka"):
            if name != base_name:
                mine, ref = flat(tasks.defaults(name)), flat(base)
                diff = [f"`{k}={v}`" for k, v in mine.items() if ref.get(k) != v]
                diff += [f"no `{k}`" for k in ref if k not in mine]
                parts.append(f"| `{name}` | {', '.join(diff) or 'nothing'} |")
        else:
            gym.append(name)
    for name in gym:
        parts += ["", f"### {name}", "", table(tasks.settings_model(name), "task.")]
    return "\n".join(parts)


def sim_tables() -> str:
    """One table per simulator backend (``sim=<backend>``)."""
    import tasks

    parts = []
    for backend in ("mujoco", "mujoco_warp", "isaacgym"):
        parts += [f"### `sim={backend}`", "", table(tasks.sim_model({"backend": backend}), "sim."), ""]
    return "\n".join(parts)


def generate(family: str) -> str:
    """The Markdown that replaces ``<!-- settings: <family> -->``."""
    from epo_isaac.cli.run_config import RunConfig
    from epo_isaac.host.config import TrainConfig

    makers = {
        "run": lambda: table(RunConfig, skip=_SKIP_RUN),
        "train": lambda: table(TrainConfig, "train."),
        "train_overrides": lambda: overrides("train", "train.") + "\n\n" + overrides("task_train", "train."),
        "task": task_tables,
        "sim": sim_tables,
    }
    return makers[family]()


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """MkDocs event: fill the markers of ``configuration.md``."""
    if page.file.src_uri != "configuration.md":
        return markdown
    for family in ("run", "train_overrides", "train", "task", "sim"):
        markdown = markdown.replace(f"<!-- settings: {family} -->", generate(family))
    return markdown
