"""Signatures as users see them (see ``docs/conf.py``).

* A class users cannot instantiate (lowio's ``NoPublicConstructor``
  metaclass: ``Task``, ``Nursery``, ``RunToken``, ``Process``, ...) is shown
  without the metaclass's ``(*args, **kwargs)``.
* A ``@types.coroutine`` generator (``checkpoint``, ``wait_readable``,
  ``wait_task_rescheduled``, ...) is awaited, not iterated: its return
  annotation ``Generator[Any, Any, X]`` is shown as ``Awaitable[X]``.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from sphinx.application import Sphinx

# as autodoc writes it: ~collections.abc.Generator[~typing.Any, ~typing.Any, X]
_GENERATOR = re.compile(
    r"^~?(?:collections\.abc\.|typing\.)?Generator\[~?(?:typing\.)?Any, ~?(?:typing\.)?Any, (.*)\]$"
)


def _process_signature(
    app: Sphinx,
    what: str,
    name: str,
    obj: Any,
    options: Any,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None] | None:
    if what in ("class", "exception") and type(obj).__name__ == "NoPublicConstructor":
        return "", return_annotation
    code = getattr(obj, "__code__", None)
    if (
        return_annotation
        and code is not None
        and code.co_flags & inspect.CO_ITERABLE_COROUTINE
        and (match := _GENERATOR.match(return_annotation))
    ):
        return signature, f"~collections.abc.Awaitable[{match.group(1)}]"
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("autodoc-process-signature", _process_signature)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
