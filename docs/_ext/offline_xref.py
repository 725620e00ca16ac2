"""Resolves cross-references that need no inventory (see ``docs/conf.py``).

* A reference to a private lowio name (``lowio._core._cancel.CancelScope``,
  as autodoc writes type hints) resolves to the documented public name of
  the same object (``lowio.CancelScope``) when there is one.
* A bare name in the docstring of an object documented under its private
  module (``open_file`` in ``lowio._file_io.AsyncIOWrapper``) is that
  module's object, resolved as above.
* A reference to an object of the standard library, or of a package listed
  in ``offline_xref_packages``, that can be imported is rendered as code
  text.  With intersphinx loaded (an online build) it runs after
  intersphinx, for what its inventories lack.
* A name a module imports under another name, or only for type checkers
  (``import socket as _stdlib_socket``; ``TextIOWrapper`` in a string
  annotation), is looked up through ``offline_xref_aliases``: its first
  dotted part is replaced by the importable path given there, then it is
  resolved as above.
* Everything else stays unresolved: the nitpicky build reports it.
"""

from __future__ import annotations

import builtins
import importlib
import sys
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

_UNDOCUMENTED: set[str] = set()
_PUBLIC: dict[str, dict[int, str]] = {}

# the packages this documentation documents
OWN = ("lowio", "anyio_backend", "lowio_compat")
PY_ROLES = {"class", "func", "meth", "attr", "exc", "data", "obj", "mod", "const"}


def _lookup(target: str) -> tuple[bool, Any]:
    """``(found, object)`` for a dotted name, importing its longest module prefix."""
    if not target:
        return False, None
    parts = target.split(".")
    if len(parts) == 1:
        if hasattr(builtins, target):
            return True, getattr(builtins, target)
        # typing names in signatures: Any, Callable, ...
        import typing

        if hasattr(typing, target):
            return True, getattr(typing, target)
    for i in range(len(parts), 0, -1):
        module_name = ".".join(parts[:i])
        try:
            obj: Any = importlib.import_module(module_name)
        except Exception:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False, None
        return True, obj
    return False, None


def _public_names(env: BuildEnvironment) -> dict[int, str]:
    """id(object) -> documented name, for every documented lowio object."""
    # kept per process, never in the pickled environment: ids are only
    # meaningful in the process that computed them
    cached = _PUBLIC.get("table")
    if cached is not None:
        return cached
    table: dict[int, str] = {}
    domain = env.get_domain("py")
    for name, _dispname, _objtype, _doc, _anchor, _prio in domain.get_objects():
        if name.split(".")[0] not in OWN:
            continue
        found, obj = _lookup(name)
        if not found or isinstance(obj, (int, str, float, bool, type(None))):
            continue  # constants: equal values are not the same object
        # the shortest documented name wins (lowio.X over lowio.mod.X)
        if id(obj) not in table or len(name) < len(table[id(obj)]):
            table[id(obj)] = name
    _PUBLIC["table"] = table
    return table


def _missing_reference(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Element
) -> nodes.Element | None:
    if node.get("refdomain") != "py" or node.get("reftype") not in PY_ROLES:
        return None
    target: str = node["reftarget"]
    head, dot, rest = target.partition(".")
    aliased = app.config.offline_xref_aliases.get(head)
    if aliased is not None:
        target = aliased + dot + rest
    module = node.get("py:module") or ""
    if "." not in target and module.split(".")[0] in OWN:
        # a bare name in a private module's docstring: that module's object
        found, _ = _lookup(f"{module}.{target}")
        if found:
            target = f"{module}.{target}"
    top = target.split(".")[0]
    if top in OWN:
        found, obj = _lookup(target)
        if not found:
            return None
        public = _public_names(env).get(id(obj))
        if public == node["reftarget"]:
            return None  # documented under the name asked for, yet unresolved
        if public is None:
            # a private helper type or a TypeVar in a signature: code text
            # (``undocumented`` lists them at the end of the build)
            _UNDOCUMENTED.add(target)
            return nodes.literal("", contnode.astext())
        domain = env.get_domain("py")
        new = pending_xref("", refdomain="py", reftype=node["reftype"], reftarget=public)
        new.attributes.update({k: v for k, v in node.attributes.items() if k.startswith("py:")})
        return domain.resolve_xref(
            env, node.get("refdoc", ""), app.builder, node["reftype"], public, new, contnode
        )
    packages = set(app.config.offline_xref_packages)
    if top in packages or top in sys.stdlib_module_names or "." not in target:
        found, _ = _lookup(target)
        if found:
            return nodes.literal("", contnode.astext())
    return None


def _report(app: Sphinx, exc: BaseException | None) -> None:
    if _UNDOCUMENTED and exc is None:
        from sphinx.util import logging

        logging.getLogger(__name__).info(
            "offline_xref: undocumented lowio names shown as text: %s",
            ", ".join(sorted(_UNDOCUMENTED)),
        )


def _reset(app: Sphinx) -> None:
    _PUBLIC.clear()
    _UNDOCUMENTED.clear()


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("offline_xref_packages", [], "env")
    app.add_config_value("offline_xref_aliases", {}, "env")
    # after intersphinx (priority 500) when it is loaded
    app.connect("missing-reference", _missing_reference, priority=900)
    app.connect("builder-inited", _reset)
    app.connect("build-finished", _report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
