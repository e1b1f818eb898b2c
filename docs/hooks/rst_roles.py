"""Griffe extension for the API reference: Sphinx roles in docstrings (``:class:`tasks.base.BatchedTask```,
``:meth:`~x.y```) become plain code spans, so mkdocstrings shows ``tasks.base.BatchedTask`` instead of the raw
role. A ``~`` prefix keeps only the last dotted component, as Sphinx does."""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|obj|exc|const):`(~?)([^`]+)`")


def _code(match: re.Match[str]) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


class RstRoles(griffe.Extension):
    """Rewrite Sphinx cross-reference roles as Markdown code spans in every docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_code, obj.docstring.value)
