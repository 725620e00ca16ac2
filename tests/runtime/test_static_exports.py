"""Static tools (pylint, jedi: what editors complete with) see every public
name of lowio's public modules, trio's names included: trio's own
test_static_tool_sees_all_symbols, pointed at lowio's modules (in trio's
suite on lowio it reads trio's files or trio's module names instead)."""

from __future__ import annotations

import functools
import importlib
import json
import subprocess
import sys
import types

import pytest

MODULES = [
    "lowio",
    "lowio.abc",
    "lowio.from_thread",
    "lowio.lowlevel",
    "lowio.socket",
    "lowio.testing",
    "lowio.to_thread",
]


def static_names(tool: str, modname: str) -> set[str]:
    if tool == "pylint":
        lint = pytest.importorskip("pylint.lint")
        module = importlib.import_module(modname)
        assert module.__file__ is not None
        return set(lint.PyLinter().get_ast(module.__file__, modname))
    pytest.importorskip("jedi")
    return set(jedi_completions()[modname])


# In another process, as an editor runs it (jedi reads the files through a
# helper interpreter of its own, which it keeps running: in there, not here);
# one process for all the modules.
_JEDI = """
import json, sys, jedi
names = {m: [c.name for c in jedi.Script(f"import {m}; {m}.").complete()] for m in sys.argv[1:]}
print(json.dumps(names))
"""


@functools.cache
def jedi_completions() -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _JEDI, *MODULES], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    completions: dict[str, list[str]] = json.loads(done.stdout)
    return completions


@pytest.mark.parametrize("modname", MODULES)
@pytest.mark.parametrize("tool", ["pylint", "jedi"])
def test_static_tools_see_every_public_name(tool: str, modname: str) -> None:
    names = dir(importlib.import_module(modname))
    # (pytest rewrites lowio's modules, as those of a plugin: "@py_builtins")
    runtime = {n for n in names if n.isidentifier() and not n.startswith("_")}
    # ...and bind the submodules imported since (lowio.pytest_plugin,
    # lowio.anyio), which `import lowio` does not
    module = importlib.import_module(modname)
    runtime -= {
        n
        for n in runtime
        if isinstance(getattr(module, n), types.ModuleType)
        and getattr(module, n).__name__ == f"{modname}.{n}"
        and n not in getattr(module, "__all__", ())
    }
    missing = runtime - static_names(tool, modname)
    assert not missing, f"{tool} does not see in {modname}: {sorted(missing)}"
