"""Sphinx configuration for lowio's documentation.

Build (what CI runs, offline, warnings are errors, nitpicky)::

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html
    python -m sphinx -W --keep-going -n -b doctest docs docs/_build/doctest

Cross-references to Python, trio and anyio
------------------------------------------
``intersphinx_mapping`` names the three projects, but their inventories are
only fetched when the environment variable ``LOWIO_DOCS_INTERSPHINX=1`` is
set (a build with network access, e.g. for publishing).  Without it (the
default, and CI, which has no network) the ``offline_xref`` extension in
``docs/_ext`` resolves a reference to a Python, trio or anyio object that it
can import to plain code text, and a reference to a private lowio name
(``lowio._core._cancel.CancelScope``) to the public name of the same object
(``lowio.CancelScope``).  A reference to anything that does not exist stays
unresolved, so the nitpicky build still fails on typos.

Adding an API reference page for a new public module
----------------------------------------------------
One file, ``docs/reference/<module>.rst`` (copy ``lowio.to_thread.rst``:
a title and an ``automodule`` directive), and one line naming it in the
toctree of ``docs/reference/index.rst``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the checkout (built in place by pip install -e)

import lowio  # noqa: E402

project = "lowio"
author = "the lowio authors"
copyright = "the lowio authors"
release = version = lowio.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.napoleon",  # the docstrings' "Raises:" sections
    "myst_parser",
    "offline_xref",
    "lowio_signatures",
]
ONLINE = os.environ.get("LOWIO_DOCS_INTERSPHINX") == "1"
if ONLINE:
    extensions.append("sphinx.ext.intersphinx")

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "trio": ("https://trio.readthedocs.io/en/stable", None),
    "anyio": ("https://anyio.readthedocs.io/en/stable", None),
}
# what offline_xref resolves to code text when it can import the object
offline_xref_packages = ["trio", "anyio", "outcome", "sniffio"]
# names the code spells differently from their importable path: a module
# imported under another name, and classes a signature names bare because
# the module imports them only for type checkers
offline_xref_aliases = {
    "_stdlib_socket": "socket",
    "AsyncIOWrapper": "lowio._file_io.AsyncIOWrapper",
    **{
        name: f"io.{name}"
        for name in (
            "TextIOWrapper",
            "FileIO",
            "BufferedRandom",
            "BufferedWriter",
            "BufferedReader",
        )
    },
}

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md", "Thumbs.db", ".DS_Store"]
# docs/benchmarks/report.md is included by performance.md, not a page itself
exclude_patterns += ["benchmarks/*.md"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

nitpicky = True
default_role = "code"  # `x` in a docstring is code, as in Markdown

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "undoc-members": True}
autodoc_preserve_defaults = True

napoleon_numpy_docstring = False


def _napoleon_skipping_properties() -> None:
    """Napoleon reads a property's first line as ``type: description``;
    lowio's property docstrings are prose ("The exit status (negative:
    ...)"), so leave them alone and parse only functions and classes."""
    import sphinx.ext.napoleon as napoleon

    original = napoleon._process_docstring

    def process(app, what, name, obj, options, lines):  # type: ignore[no-untyped-def]
        if what not in ("attribute", "property", "data"):
            original(app, what, name, obj, options, lines)

    napoleon._process_docstring = process  # connected by napoleon's setup()


_napoleon_skipping_properties()
napoleon_use_rtype = False
napoleon_preprocess_types = False
# Names in signatures that are not objects: TypeVars, a ParamSpec's
# ``P.args``/``P.kwargs``, and the type aliases the code imports only for
# type checkers (``if TYPE_CHECKING:``, typeshed's ``_typeshed`` module).
nitpick_ignore = [
    ("py:class", name)
    for name in (
        "T",
        "Ts",
        "RetT",
        "P",
        "Buffer",
        "WriteableBuffer",
        "ReadableBuffer",
        "Address",
        "SendType",
        "ReceiveType",
        "T_resource",
        "T_Stream",
        "StreamT",
        "ListenerT",
        "P.args",
        "P.kwargs",
        "PathT",
        "StrOrBytesPath",
        "OpenTextMode",
        "OpenBinaryMode",
        "OpenBinaryModeReading",
        "OpenBinaryModeWriting",
        "OpenBinaryModeUpdating",
    )
]

# the doctest build runs the pages' testcode/testoutput blocks, and any
# ">>>" example in a page or a docstring

html_theme = "furo"
html_title = f"lowio {release}"
html_static_path: list[str] = []
