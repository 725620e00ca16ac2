"""``python -m lowio``: the async console (see ``lowio/_repl.py``)."""

from ._repl import main

main(locals())
