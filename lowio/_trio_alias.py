"""``lowio.install_as_trio()``: make ``import trio`` give lowio.

Called before anything imports trio, it puts lowio under trio's module
names, so a trio library or program runs on lowio unmodified (the idiom of
``pymysql.install_as_MySQLdb()``):

* ``trio`` is a module whose attributes are lowio's (``trio.run`` is
  ``lowio.run``, ``trio.open_nursery`` is ``lowio.open_nursery``, ...);
* ``trio.__file__`` is lowio's ``__init__.py``, which binds those names;
* trio's public submodules are lowio's: ``trio.abc``, ``trio.lowlevel``,
  ``trio.socket``, ``trio.testing``, ``trio.to_thread``, ``trio.from_thread``
  are ``lowio.abc``, ``lowio.lowlevel``, ... themselves;
* trio's private module paths (``trio._timeouts``, ``trio._core._run``, ...),
  which some libraries and trio's own tests import public names from,
  become stand-ins that hand out lowio's public object of the same name
  (``from trio._timeouts import fail_after`` gives ``lowio.fail_after``;
  ``from trio._threads import to_thread_run_sync`` gives
  ``lowio.to_thread.run_sync``).  A name that is private in trio too has no
  stand-in: reading it raises ``AttributeError`` (``ImportError`` from a
  ``from`` import) whose message starts with ``PRIVATE_MARK``.

What sniffio reports: ``"trio"`` in this mode (for every run, from the
moment ``install_as_trio()`` is called), ``"lowio"`` otherwise.  Code that
asks sniffio which library it runs under then takes its trio path, which is
lowio's API under trio's names; anyio therefore runs its own trio backend
on lowio in this mode, and lowio's anyio backend otherwise.

Not thread-safe against a concurrent first ``import trio``: call it at
start-up, from the main thread.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
from collections.abc import Sequence
from typing import Any

from ._core._library_name import set_library_name
from ._core._schedule_order import SCHEDULING_RNG, hypothesis_plugin_setup

PRIVATE_MARK = "lowio has no public equivalent of trio's private name"

# The version of trio whose public API lowio provides under trio's names.
TRIO_API_VERSION = "0.35.0"

# trio's public submodules, each the lowio module of the same name.
PUBLIC_SUBMODULES = ("abc", "from_thread", "lowlevel", "socket", "testing", "to_thread")

# Where a stand-in for a private module looks names up, most specific first:
# a path containing the key searches that namespace before the general ones.
_GENERAL = (
    "lowio",
    "lowio.lowlevel",
    "lowio.testing",
    "lowio.abc",
    "lowio.socket",
    "lowio.to_thread",
    "lowio.from_thread",
)
_SPECIFIC = {
    "socket": ("lowio.socket",),
    "testing": ("lowio.testing",),
    "abc": ("lowio.abc",),
    "thread": ("lowio.to_thread", "lowio.from_thread"),
}
# trio spells some public functions with their namespace as a prefix inside
# its private modules (``trio._threads.to_thread_run_sync``).
_PREFIXES = {"to_thread_": "lowio.to_thread", "from_thread_": "lowio.from_thread"}


# trio's packages (the rest of its modules are plain modules): only these
# stand-ins have a ``__path__``, so that ``from trio._signals import x`` for a
# missing ``x`` fails instead of looking for a submodule ``x``.
_PACKAGES = frozenset({"trio._core", "trio.testing", "trio._subprocess_platform", "trio._tools"})

# Private trio names that other packages use: the ones in their metadata
# (entry points) and the ones trio plugins read at import.  trio's scheduler
# flips its coin with ``_r``, which its Hypothesis entry point (the
# ``_hypothesis_plugin_setup`` hook) and pytest-trio register with
# ``hypothesis.register_random``: here both reach lowio's coin, so seeding
# trio's ``_r`` seeds lowio's scheduling order.  ``_ALLOW_DETERMINISTIC_SCHEDULING``
# (pytest-trio sets it) switches trio to a seeded shuffle; lowio's order is
# reproducible from the seed alone, so the flag changes nothing.
_PRIVATE_OBJECTS: dict[tuple[str, str], object] = {
    ("trio._core._run", "_hypothesis_plugin_setup"): hypothesis_plugin_setup,
    ("trio._core._run", "_r"): SCHEDULING_RNG,
    ("trio._core._run", "_ALLOW_DETERMINISTIC_SCHEDULING"): False,
}

# Private trio names whose lowio counterpart (also private, same contract)
# exists under another name: (trio module, name) -> (lowio module, name).
# Only in trio's own test suite, which uses them; a placeholder there would be worse than a
# failure: test_signals swallows the error and then exits with signals
# pending, which the restored default handlers turn into a fatal SIGILL.
_COUNTERPARTS = {
    ("trio._signals", "get_pending_signal_count"): ("lowio._signals", "pending_signal_count"),
    ("trio._signals", "_signal_handler"): ("lowio._signals", "_signal_handlers"),
    ("trio._sync", "AsyncContextManagerMixin"): ("lowio._sync", "_AsyncContextManagerMixin"),
    ("trio._socket", "_NUMERIC_ONLY"): ("lowio._socket_resolve", "_NUMERIC_ONLY"),
    # patched by trio's tests to take the no-pidfd path: patching it patches lowio's
    ("trio._subprocess", "can_try_pidfd_open"): ("lowio._subprocess", "_can_try_pidfd_open"),
}


# trio's private modules that lowio has too, with the same names and contract
# (trio users patch ``trio.testing._raises_group.repr_callable``): the module
# itself stands in, so reading and patching its names reach lowio's.
_SAME_MODULES = {"trio.testing._raises_group": "lowio.testing._raises_group"}


class _PublicNames(types.ModuleType):
    """A stand-in for one of trio's modules: attribute reads resolve to
    lowio's public objects of the same name (see the module docstring)."""

    def __init__(
        self,
        name: str,
        namespaces: Sequence[str],
        path: list[str] | None,
        *,
        lenient: str | None = None,
    ) -> None:
        super().__init__(name)
        if path is not None:  # a package: deeper imports reach the finder
            self.__path__ = path
        self._lowio_namespaces = tuple(namespaces)
        # trio's own test suite on lowio: ``lenient`` is the real trio module's
        # source file; a private name it defines is importable (as a
        # _PrivateName) and fails only where a test uses it, so one private
        # import at the top of a test module does not take all its tests out
        self._lenient = lenient
        if lenient is not None:  # in __dict__, so patching them is a plain (local) patch
            for (module, attr), (home, name) in _COUNTERPARTS.items():
                if module == self.__name__:
                    super().__setattr__(attr, getattr(importlib.import_module(home), name))

    def __getattr__(self, attr: str) -> Any:
        if attr == "__all__" and self._lenient is not None:
            return self._star_names()
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        known = _PRIVATE_OBJECTS.get((self.__name__, attr))
        if known is not None:
            return known
        counterpart = _COUNTERPARTS.get((self.__name__, attr))
        if counterpart is not None and self._lenient is not None:
            return getattr(importlib.import_module(counterpart[0]), counterpart[1])
        for prefix, namespace in _PREFIXES.items():
            if attr.startswith(prefix):
                found = getattr(importlib.import_module(namespace), attr[len(prefix) :], None)
                if found is not None:
                    return self._resolved(attr, found)
        if self._lenient is not None:
            found = _foreign_object(self._lenient, attr)
            if found is not _MISSING:
                return found
        if not attr.startswith("_"):
            for namespace in self._lowio_namespaces:
                found = getattr(importlib.import_module(namespace), attr, _MISSING)
                if found is not _MISSING:
                    return self._resolved(attr, found)
        for folder in getattr(self, "__path__", ()):  # a submodule not imported yet
            if os.path.exists(os.path.join(folder, attr + ".py")) or os.path.isdir(
                os.path.join(folder, attr)
            ):
                return importlib.import_module(f"{self.__name__}.{attr}")
        if self.__name__ == "trio":
            raise AttributeError(
                f"module 'trio' (lowio under trio's name) has no attribute {attr!r}"
            )
        if self._lenient is not None and attr in _defined_names(self._lenient):
            return _PrivateName(f"{self.__name__}.{attr}")
        raise AttributeError(f"{PRIVATE_MARK} {self.__name__}.{attr}")

    def _resolved(self, attr: str, found: Any) -> Any:
        """``found``, the lowio object ``attr`` names, bound in this module
        from now on (outside trio's own test suite): later reads are plain
        module attribute reads, as ``trio.X`` is on trio, where the name is
        bound once at import (a trio library reads ``trio.fail_after`` and
        the like on every request).  Rebinding a lowio name afterwards does
        not change what this module's name gives, as on trio."""
        if self._lenient is None:
            self.__dict__[attr] = found
        return found

    def __setattr__(self, attr: str, value: Any) -> None:
        # In trio's suite, a test patching one of trio's private names
        # (mock.patch, monkeypatch) patches lowio's counterpart if it has
        # one; else it would patch a placeholder nothing reads and then fail
        # for another reason: it is refused, with the mark, instead.  The
        # import system setting a submodule on its package is not refused.
        counterpart = _COUNTERPARTS.get((self.__name__, attr))
        if counterpart is not None and self.__dict__.get("_lenient") is not None:
            setattr(importlib.import_module(counterpart[0]), counterpart[1], value)
        elif (
            self.__dict__.get("_lenient") is not None
            and attr not in self.__dict__
            and not isinstance(value, types.ModuleType)
        ):
            try:
                current = getattr(self, attr)
            except AttributeError:
                current = None
            if isinstance(current, _PrivateName):
                current._refuse()
        super().__setattr__(attr, value)

    def _star_names(self) -> list[str]:
        # ``from trio._sync import *`` in trio's tests: the public names the
        # real module binds (it has no ``__all__``) that lowio provides
        assert self._lenient is not None
        star = []
        for name in sorted(_defined_names(self._lenient)):
            if not name.startswith("_"):
                try:
                    found = getattr(self, name)
                except AttributeError:
                    continue
                if not isinstance(found, _PrivateName):
                    star.append(name)
        return star

    def __dir__(self) -> list[str]:
        names: set[str] = set(super().__dir__())
        if self._lenient is not None:  # what the real module binds, as lowio has it
            names.update(self._star_names())
            return sorted(names)
        for namespace in self._lowio_namespaces:
            names.update(getattr(importlib.import_module(namespace), "__all__", ()))
        return sorted(names)


_MISSING = object()


@functools.cache
def _source_names(source_file: str) -> tuple[frozenset[str], dict[str, tuple[str, str | None]]]:
    """What a module's source binds at its top level, read without running
    it: every name (assignments, functions, classes, imports), and the names
    it imports from outside trio (name -> (module, attribute or None for the
    module itself)), which the stand-in can give for real."""
    try:
        with open(source_file, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return frozenset(), {}
    names: set[str] = set()
    foreign: dict[str, tuple[str, str | None]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                names.add(bound)
                if not _is_trio(alias.name):
                    foreign[bound] = (alias.name if alias.asname else bound, None)
        elif isinstance(node, ast.ImportFrom):
            external = node.level == 0 and node.module is not None and not _is_trio(node.module)
            for alias in node.names:
                bound = alias.asname or alias.name
                names.add(bound)
                if external and alias.name != "*":
                    assert node.module is not None
                    foreign[bound] = (node.module, alias.name)
        elif isinstance(node, ast.Delete):  # ``del sys`` at the end of a module
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names.discard(target.id)
                    foreign.pop(target.id, None)
    return frozenset(names), foreign


def _is_trio(module: str) -> bool:
    return module == "trio" or module.startswith("trio.")


def _defined_names(source_file: str) -> frozenset[str]:
    return _source_names(source_file)[0]


def _foreign_object(source_file: str, attr: str) -> Any:
    """What ``attr`` is in the real module if its source imports it from
    outside trio (``from typing import overload``), else ``_MISSING``."""
    where = _source_names(source_file)[1].get(attr)
    if where is None:
        return _MISSING
    try:
        module = importlib.import_module(where[0])
    except ImportError:  # a dependency of trio's that is not installed
        return _MISSING
    return module if where[1] is None else getattr(module, where[1], _MISSING)


class _PrivateName:
    """What a trio-private name is in test-suite mode: importable, and an
    ``AttributeError`` starting with ``PRIVATE_MARK`` as soon as it is used
    (called, read from, iterated, tested for truth, entered)."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _refuse(self, *args: object, **kwargs: object) -> Any:
        raise AttributeError(f"{PRIVATE_MARK} {object.__getattribute__(self, '_name')}")

    def __getattr__(self, attr: str) -> Any:
        return self._refuse()

    __call__ = __iter__ = __getitem__ = __bool__ = __enter__ = __aenter__ = __await__ = _refuse
    __len__ = __int__ = __index__ = __float__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __instancecheck__ = __subclasscheck__ = _refuse  # isinstance(x, placeholder)

    def __mro_entries__(self, bases: tuple[object, ...]) -> tuple[type, ...]:
        self._refuse()  # used as a base class
        raise AssertionError("unreachable")

    @property
    def __name__(self) -> str:  # what pytest names a parameter after
        name: str = object.__getattribute__(self, "_name")
        return name.rsplit(".", 1)[-1]

    def __repr__(self) -> str:
        # the mark: a message quoting the repr (monkeypatch's) says what it is
        return f"<{PRIVATE_MARK} {object.__getattribute__(self, '_name')}>"


def _namespaces_for(fullname: str) -> list[str]:
    parts = fullname.split(".")[1:]
    first = [
        ns for key, spaces in _SPECIFIC.items() if any(key in p for p in parts) for ns in spaces
    ]
    return first + [ns for ns in _GENERAL if ns not in first]


class _TrioFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers every ``trio.*`` import with a stand-in, except modules under a
    ``_tests`` package when ``tests_dir`` is given (trio's own test suite
    run on lowio: those are trio's real test files)."""

    def __init__(self, tests_dir: str | None) -> None:
        self.tests_dir = tests_dir

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "trio":  # imported again after a test dropped it from sys.modules
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        if not fullname.startswith("trio."):
            return None
        parts = fullname.split(".")[1:]
        if self.tests_dir is not None and "_tests" in parts:
            return None  # the path finders find it through the parent's __path__
        # trio's other modules are private (a part starts with "_"): anything
        # else, e.g. ``from trio import DTLSEndpoint`` trying a submodule
        # for a name lowio lacks, is not a module
        if not any(part.startswith("_") for part in parts):
            return None
        if self.tests_dir is not None:  # the real file tells
            base = os.path.join(self.tests_dir, *parts)
            if not (os.path.exists(base + ".py") or os.path.isdir(base)):
                return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=fullname in _PACKAGES)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if spec.name == "trio":
            return _root_module(self.tests_dir)
        if spec.name in _SAME_MODULES:
            return importlib.import_module(_SAME_MODULES[spec.name])
        path: list[str] | None = None
        if spec.name in _PACKAGES:
            path = []
            if self.tests_dir is not None:
                path = [os.path.join(self.tests_dir, *spec.name.split(".")[1:])]
        lenient = None
        if self.tests_dir is not None:
            base = os.path.join(self.tests_dir, *spec.name.split(".")[1:])
            lenient = os.path.join(base, "__init__.py") if path is not None else base + ".py"
        return _PublicNames(spec.name, _namespaces_for(spec.name), path, lenient=lenient)

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def _root_module(tests_dir: str | None) -> types.ModuleType:
    """The ``trio`` stand-in, with trio's public submodules (lowio's)."""
    root = _PublicNames("trio", ["lowio"], [tests_dir] if tests_dir else [])
    root.__version__ = TRIO_API_VERSION
    # lowio's top-level module binds every name this one gives: what static
    # tools (pylint) and ``inspect`` read for ``trio``
    lowio = importlib.import_module("lowio")
    root.__file__ = lowio.__file__
    # bound now, as trio binds its names at import: iterating the module's
    # __dict__ (trio's test_classes_are_final does) sees every name, and no
    # read adds one meanwhile; the poller's names, which trio lacks, stay
    # resolved on first read
    pollers = {"poll", *lowio.poll.__all__}  # lowio's own names, not trio's
    for name in lowio.__all__:
        if name not in pollers and not name.startswith("__"):
            setattr(root, name, getattr(lowio, name))
    for name in PUBLIC_SUBMODULES:
        module = importlib.import_module(f"lowio.{name}")
        sys.modules[f"trio.{name}"] = module
        setattr(root, name, module)
    return root


def installed() -> bool:
    """Whether ``install_as_trio()`` has run in this process."""
    return any(isinstance(finder, _TrioFinder) for finder in sys.meta_path)


def install_as_trio(*, _tests_dir: str | None = None) -> None:
    """Make ``import trio`` (and its submodules) give lowio, for the rest of
    this process (see the module docstring).  Call it before anything
    imports trio; calling it again is harmless.  Not a checkpoint; call it
    outside any run.

    Raises ``RuntimeError`` if the real trio is already imported (its
    objects could not be swapped for lowio's under the code that holds
    them).
    """
    if installed():
        return
    existing = sys.modules.get("trio")
    if existing is not None:
        raise RuntimeError(
            "lowio.install_as_trio() must be called before anything imports trio: "
            f"trio is already imported (from {getattr(existing, '__file__', existing)!r})"
        )
    import lowio  # the package itself, fully initialised before trio names point at it

    sys.meta_path.insert(0, _TrioFinder(_tests_dir))
    sys.modules["trio"] = _root_module(_tests_dir)
    set_library_name("trio")
    del lowio


__all__ = ["PRIVATE_MARK", "TRIO_API_VERSION", "install_as_trio", "installed"]
