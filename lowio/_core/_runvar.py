"""``RunVar``: a variable with one value per ``lowio.run`` (trio's
``trio.lowlevel.RunVar``), the home of lowio's per-run state.

The values live in the run (``Runner.run_vars``) and are dropped when the
run ends: nothing set in one run is visible in the next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from ._exceptions import NoPublicConstructor, final
from ._local import GLOBAL_RUN_CONTEXT

if TYPE_CHECKING:
    from ._run import Runner

T = TypeVar("T")


class _Unset:
    """Marks "no value" (``None`` is a value)."""

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()
_OUTSIDE = "Cannot be used outside of a run context"  # trio's message


def _run_vars() -> dict[RunVar[Any], Any]:
    runner = GLOBAL_RUN_CONTEXT.runner
    if runner is None:
        raise RuntimeError(_OUTSIDE)
    return runner.run_vars


@final
class RunVarToken(Generic[T], metaclass=NoPublicConstructor):
    """What ``RunVar.set`` returns, for ``RunVar.reset``: ``previous_value``
    (the value before, or ``RunVarToken.MISSING`` if there was none) and
    ``redeemed`` (whether ``reset`` used it already)."""

    __slots__ = ("_runner", "_var", "previous_value", "redeemed")

    MISSING: Any = _UNSET

    def __init__(self, var: RunVar[T], runner: Runner, previous_value: Any) -> None:
        self._var = var
        self._runner = runner
        self.previous_value: T | Any = previous_value
        self.redeemed = False

    @property
    def var(self) -> RunVar[T]:
        return self._var

    def __repr__(self) -> str:
        used = " used" if self.redeemed else ""
        return f"<RunVarToken{used} var={self._var!r} previous={self.previous_value!r}>"


@final
class RunVar(Generic[T]):
    """``RunVar(name, default=...)``: like a ``contextvars.ContextVar``,
    but shared by the whole run instead of one task's context.

    ``get`` / ``set`` / ``reset`` may be called anywhere inside a run (a
    task, a run_sync_soon callback, an instrument) in the run's thread; none
    is a checkpoint.  Outside a run they raise ``RuntimeError``.
    """

    __slots__ = ("_default", "_name")

    def __init__(self, name: str, default: T = _UNSET) -> None:
        if not isinstance(name, str):
            raise TypeError(f"RunVar name must be a str, not {type(name).__name__}")
        self._name = name
        self._default = default

    @property
    def name(self) -> str:
        return self._name

    def get(self, default: T = _UNSET) -> T:
        """This run's value; else ``default``, else the var's default.
        ``LookupError`` if there is none of these."""
        values = _run_vars()
        try:
            return cast("T", values[self])
        except KeyError:
            pass
        if default is not _UNSET:
            return default
        if self._default is not _UNSET:
            return self._default
        raise LookupError(self)

    def set(self, value: T) -> RunVarToken[T]:
        """Sets this run's value; returns a token that ``reset`` takes to
        put the previous value (or its absence) back."""
        values = _run_vars()
        runner = GLOBAL_RUN_CONTEXT.runner
        token = cast("RunVarToken[T]", RunVarToken._create(self, runner, values.get(self, _UNSET)))
        values[self] = value
        return token

    def reset(self, token: RunVarToken[T]) -> None:
        """Puts back the value ``token`` (from ``set`` on this var, in this
        run) replaced.  ``TypeError`` if it is not a token; ``ValueError``
        if it was used already, is another var's or another run's."""
        if not isinstance(token, RunVarToken):
            raise TypeError(f"expected a RunVarToken, not {token!r}")
        if token.redeemed:
            raise ValueError("token has already been used")
        if token._var is not self:
            raise ValueError("token is not for us")
        values = _run_vars()
        if token._runner is not GLOBAL_RUN_CONTEXT.runner:
            raise ValueError("token was created in another run")
        if token.previous_value is _UNSET:
            values.pop(self, None)
        else:
            values[self] = token.previous_value
        token.redeemed = True

    def __repr__(self) -> str:
        return f"<RunVar name={self._name!r}>"
