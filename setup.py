# The C extension is built by cffi (API mode); everything else is in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["lowio/_sys/_build.py:ffibuilder"])
