"""pytest plugin (``-p lowio_trio_plugin``, loaded before trio's own
``trio._tests.pytest_plugin``): puts lowio under trio's names, with trio's
own test packages (``trio._tests``, ``trio._core._tests``) loaded from the
installed trio's files, so trio's test suite runs against lowio; trio's
fake network test helper is trio's file too (``trio_fake_net``)."""

from __future__ import annotations

import importlib.util
import os

from trio_fake_net import install as install_fake_net

import lowio
from lowio._trio_alias import install_as_trio

_spec = importlib.util.find_spec("trio")  # finds the files; imports nothing of trio
assert _spec is not None and _spec.origin is not None, "trio must be installed for its tests"
install_as_trio(_tests_dir=os.path.dirname(_spec.origin))
install_fake_net(os.path.dirname(_spec.origin))
del lowio
