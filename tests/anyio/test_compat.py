"""``lowio_compat``: the adaptations of anyio libraries that check the
async library's name (httpcore/httpcore2, httpx's ASGI transport,
anycorn's shutdown signals), installed by the start-up hook.

* as installed: fresh interpreters (``python -c``, no test-suite imports)
  use httpx (and httpx2) on lowio, under ``lowio.run`` and under
  ``anyio.run(..., backend="lowio")``, against a server of their own; with
  ``LOWIO_NO_COMPAT=1`` the same script fails as unpatched httpcore does;
  start-up imports none of the adapted libraries (nor anyio);
* each adaptation applies only under lowio (asyncio, trio and no library
  at all see the library's own behaviour) and is idempotent;
* the import hook: a module it adapts is adapted when first imported and
  keeps its own loader; other modules are left alone; a failing
  adaptation leaves the module as it was;
* httpx's ``ASGITransport`` on lowio (its ``asyncio.Event`` fails there);
* asgi-lifespan's ``LifespanManager`` on lowio (startup, shutdown, its
  timeouts, an app that fails), with the ASGI transport as users combine
  them;
* anycorn without a ``shutdown_trigger`` shuts down gracefully on SIGTERM
  under lowio (and is simply killed with the switch off).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import asgi_lifespan._concurrency
import httpcore._backends.auto
import httpcore._synchronization
import httpx
import httpx._transports.asgi
import pytest
import sniffio
import trio
from _asgi_app import CHUNK, make_app
from _http_helpers import BOUND
from asgi_lifespan import LifespanManager

import lowio
import lowio_compat

try:
    import httpx2
except ImportError:  # pragma: no cover - httpx2 is in the test extra
    httpx2 = None


def run_python(code: str, *, no_compat: bool = False, **kwargs: object) -> str:
    """Runs ``code`` in a fresh interpreter (the installed environment,
    nothing of the test suite) and returns its stdout."""
    env = {k: v for k, v in os.environ.items() if k != lowio_compat.ENV_SWITCH}
    env.pop("PYTHONPATH", None)
    if no_compat:
        env[lowio_compat.ENV_SWITCH] = "1"
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# ---------------------------------------------------------------- as installed

CLIENT_SCRIPT = """
import json, threading, http.server
import anyio, lowio, sniffio

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
thread = threading.Thread(target=server.serve_forever)
thread.start()
url = f"http://127.0.0.1:{server.server_address[1]}"
results = {}

def client_modules():
    import httpx
    yield "httpx", httpx
    try:
        import httpx2
    except ImportError:
        return
    yield "httpx2", httpx2

async def fetch(label):
    for name, module in client_modules():
        try:
            async with module.AsyncClient() as client:
                response = await client.get(url + "/" + name)
                results[f"{label} {name}"] = [sniffio.current_async_library(), response.text]
        except Exception as exc:
            results[f"{label} {name}"] = ["error", f"{type(exc).__name__}: {exc}"]

try:
    lowio.run(fetch, "lowio.run")
    anyio.run(fetch, "anyio.run", backend="lowio")
finally:
    server.shutdown()
    thread.join()
print(json.dumps(results))
"""


def expected_clients() -> list[str]:
    return ["httpx"] + (["httpx2"] if httpx2 is not None else [])


def test_httpx_works_as_installed() -> None:
    results = json.loads(run_python(CLIENT_SCRIPT))
    assert results == {
        f"{runner} {name}": ["lowio", f"hello /{name}"]
        for runner in ("lowio.run", "anyio.run")
        for name in expected_clients()
    }


def test_no_compat_switches_the_adaptation_off() -> None:
    results = json.loads(run_python(CLIENT_SCRIPT, no_compat=True))
    refused = ["error", "RuntimeError: Running under an unsupported async environment."]
    assert results == {
        f"{runner} {name}": refused
        for runner in ("lowio.run", "anyio.run")
        for name in expected_clients()
    }


def test_start_up_imports_nothing_it_adapts() -> None:
    code = """
        import sys
        heavy = ("anyio", "httpcore", "httpcore2", "httpx", "anycorn", "lowio", "sniffio")
        print([m for m in heavy if m in sys.modules])
        finders = {type(f).__name__ for f in sys.meta_path}
        print(sorted(finders & {"CompatFinder", "LowioBackendFinder"}))
    """
    assert run_python(code).split("\n")[:2] == ["[]", "['CompatFinder', 'LowioBackendFinder']"]
    assert run_python(code, no_compat=True).split("\n")[:2] == ["[]", "['LowioBackendFinder']"]


@pytest.mark.parametrize("value", ["", "0"])
def test_no_compat_unset_values(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(lowio_compat.ENV_SWITCH, value)
    assert lowio_compat.enabled()
    monkeypatch.setenv(lowio_compat.ENV_SWITCH, "yes")
    assert not lowio_compat.enabled()


# ---------------------------------------------------------------- only under lowio


def detection_functions() -> list[object]:
    modules: list[ModuleType] = [httpcore._synchronization, httpcore._backends.auto]
    if httpx2 is not None:
        modules += [
            importlib.import_module("httpcore2._synchronization"),
            importlib.import_module("httpcore2._backends.auto"),
        ]
    return [m.current_async_library for m in modules]


def test_httpcore_detection_changes_only_under_lowio() -> None:
    functions = detection_functions()
    for function in functions:
        assert getattr(function, "__lowio_compat__", False), function
    assert httpcore._backends.auto.current_async_library is (
        httpcore._synchronization.current_async_library
    )

    async def answers() -> list[str]:
        return [f() for f in functions]  # type: ignore[operator]

    assert lowio.run(answers) == ["asyncio"] * len(functions)
    assert anyio.run(answers, backend="lowio") == ["asyncio"] * len(functions)
    assert asyncio.run(answers()) == ["asyncio"] * len(functions)
    assert trio.run(answers) == ["trio"] * len(functions)
    for function in functions:
        with pytest.raises(sniffio.AsyncLibraryNotFoundError):
            function()  # type: ignore[operator]


def test_adapting_is_idempotent() -> None:
    before = httpcore._synchronization.current_async_library
    assert lowio_compat.adapt(httpcore._synchronization)
    lowio_compat.install()
    assert httpcore._synchronization.current_async_library is before
    assert before.__wrapped__.__module__ == "httpcore._synchronization"  # type: ignore[attr-defined]
    assert not lowio_compat.adapt(sys.modules["json"])  # nothing for other modules


# ---------------------------------------------------------------- the import hook


@pytest.fixture
def fake_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ModuleType]]:
    """A module ``fh_fake_library`` on ``sys.path`` with an adaptation that
    records the modules it is given."""
    (tmp_path / "fh_fake_library.py").write_text("def detect():\n    return 'original'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    adapted: list[ModuleType] = []

    def adaptation(module: ModuleType) -> None:
        adapted.append(module)
        module.detect = lambda: "adapted"  # type: ignore[attr-defined]

    monkeypatch.setitem(lowio_compat.ADAPTATIONS, "fh_fake_library", adaptation)
    yield adapted
    sys.modules.pop("fh_fake_library", None)


def test_the_finder_adapts_on_first_import(fake_library: list[ModuleType]) -> None:
    assert isinstance(sys.meta_path[0], lowio_compat.CompatFinder) or any(
        isinstance(f, lowio_compat.CompatFinder) for f in sys.meta_path
    )
    import fh_fake_library  # type: ignore[import-not-found]

    assert fake_library == [fh_fake_library]
    assert fh_fake_library.detect() == "adapted"
    # the module keeps its own loader (source, resources, tracebacks)
    assert type(fh_fake_library.__loader__).__name__ == "SourceFileLoader"
    assert fh_fake_library.__spec__.loader is fh_fake_library.__loader__
    importlib.reload(fh_fake_library)  # a reloaded module is adapted again
    assert fake_library == [fh_fake_library] * 2
    assert fh_fake_library.detect() == "adapted"


def test_the_finder_ignores_other_and_missing_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    finder = lowio_compat.CompatFinder()
    assert finder.find_spec("json") is None
    monkeypatch.setitem(lowio_compat.ADAPTATIONS, "fh_not_installed_anywhere", lambda m: None)
    assert finder.find_spec("fh_not_installed_anywhere") is None
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("fh_not_installed_anywhere")


def test_a_failing_adaptation_leaves_the_module_alone(
    fake_library: list[ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(module: ModuleType) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(lowio_compat.ADAPTATIONS, "fh_fake_library", broken)
    import fh_fake_library

    assert fh_fake_library.detect() == "original"


def test_install_with_the_switch_set_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        sys, "meta_path", [f for f in sys.meta_path if not isinstance(f, lowio_compat.CompatFinder)]
    )
    monkeypatch.setenv(lowio_compat.ENV_SWITCH, "1")
    lowio_compat.install()
    assert not any(isinstance(f, lowio_compat.CompatFinder) for f in sys.meta_path)
    monkeypatch.delenv(lowio_compat.ENV_SWITCH)
    lowio_compat.install()
    assert isinstance(sys.meta_path[0], lowio_compat.CompatFinder)


# ---------------------------------------------------------------- httpx's ASGI transport


def asgi_clients() -> list[ModuleType]:
    return [httpx] + ([httpx2] if httpx2 is not None else [])


@pytest.mark.parametrize("client_module", asgi_clients(), ids=lambda m: m.__name__)
def test_httpx_asgi_transport_on_lowio(client_module: ModuleType) -> None:
    """Starlette's streaming response listens for the disconnect, which
    makes ASGITransport wait on its event: an ``asyncio.Event`` cannot wait
    under lowio, the adapted transport's ``lowio.Event`` can."""
    app, state = make_app()

    async def main() -> None:
        transport = client_module.ASGITransport(app=app)
        async with client_module.AsyncClient(transport=transport, base_url="http://app") as c:
            assert (await c.get("/", params={"n": "1"})).json()["library"] == "lowio"
            response = await c.get("/stream", params={"chunks": "4"})
            assert response.content == b"".join(i.to_bytes(4, "big") + CHUNK for i in range(4))
            assert (await c.post("/echo", content=b"x" * 1000)).content == b"x" * 1000

    lowio.run(main)
    anyio.run(main, backend="lowio")
    assert state.requests == 2


def test_unadapted_asgi_event_fails_under_lowio() -> None:
    """What the adaptation is for: the library's own ``create_event``."""
    original = httpx._transports.asgi.create_event.__wrapped__  # type: ignore[attr-defined]

    async def main() -> None:
        event = original()
        assert isinstance(event, asyncio.Event)
        # no asyncio loop runs: AttributeError on 3.11 (its loop is None),
        # RuntimeError ("no running event loop") on other versions
        with pytest.raises((AttributeError, RuntimeError)):
            await event.wait()

    lowio.run(main)
    assert isinstance(asyncio.run(_make(httpx._transports.asgi.create_event)), asyncio.Event)
    assert isinstance(trio.run(_make, httpx._transports.asgi.create_event), trio.Event)


async def _make(factory: object) -> object:
    return factory()  # type: ignore[operator]


# ---------------------------------------------------------------- asgi-lifespan


def test_asgi_lifespan_manager_on_lowio() -> None:
    app, state = make_app()

    async def main() -> None:
        async with (
            LifespanManager(app) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://app"
            ) as client,
        ):
            assert state.lifespan == ["startup on lowio"]
            assert (await client.get("/")).json()["library"] == "lowio"
        assert state.lifespan == ["startup on lowio", "shutdown on lowio"]

    lowio.run(main)
    state.lifespan.clear()
    anyio.run(main, backend="lowio")
    assert state.lifespan == ["startup on lowio", "shutdown on lowio"]
    # the library's own detection, without the adaptation:
    original = asgi_lifespan._concurrency.detect_concurrency_backend.__wrapped__

    async def unadapted() -> None:
        with pytest.raises(NotImplementedError, match="Unsupported async library: lowio"):
            original()

    lowio.run(unadapted)


def test_asgi_lifespan_timeouts_and_failures_on_lowio() -> None:
    async def stuck(scope: dict[str, object], receive: Any, send: object) -> None:
        await receive()  # lifespan.startup, never answered
        await lowio.sleep_forever()

    async def failing(scope: dict[str, object], receive: Any, send: object) -> None:
        await receive()
        raise ValueError("startup failed")

    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with LifespanManager(stuck, startup_timeout=0.05):
                pytest.fail("started")
        with pytest.raises(ValueError, match="startup failed"):  # as it is, no group
            async with LifespanManager(failing):
                pytest.fail("started")
        app, state = make_app()
        with pytest.raises(KeyError, match="from the body"):  # unchanged too
            async with LifespanManager(app):
                raise KeyError("from the body")
        assert state.lifespan == ["startup on lowio"]  # no shutdown after an error

    lowio.run(main)


def test_lifespan_queue_is_bounded_and_fifo() -> None:
    queue = lowio_compat.LifespanBackend().create_queue(2)
    order: list[object] = []

    async def main() -> None:
        await queue.put(1)
        await queue.put(2)
        async with lowio.open_nursery() as nursery:
            nursery.start_soon(queue.put, 3)  # waits for room
            await lowio.sleep(0.01)
            order.extend([await queue.get(), await queue.get(), await queue.get()])

    lowio.run(main)
    assert order == [1, 2, 3]


# ---------------------------------------------------------------- anycorn's shutdown signals

ANYCORN_SCRIPT = """
import sys
from functools import partial
import anyio
from anycorn import Config, serve

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            print(message["type"], flush=True)
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return

async def main():
    config = Config()
    config.bind = ["127.0.0.1:0"]
    async with anyio.create_task_group() as tg:
        binds = await tg.start(partial(serve, app, config))  # no shutdown_trigger
        print("serving", binds[0], flush=True)

anyio.run(main, backend="lowio")
print("exited", flush=True)
"""


def wait_for_handler(pid: int, signum: int) -> None:
    """Waits (bounded) until process ``pid`` catches ``signum`` (its
    ``SigCgt`` mask in /proc): anycorn installs its handler in a task of
    its own, just after it reports that it serves."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/status") as f:
            caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
        if caught & (1 << (signum - 1)):
            return
        time.sleep(0.01)
    pytest.fail(f"process {pid} never caught signal {signum}")


@pytest.mark.parametrize("no_compat", [False, True], ids=["compat", "no-compat"])
def test_anycorn_shuts_down_gracefully_on_sigterm(no_compat: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k != lowio_compat.ENV_SWITCH}
    if no_compat:
        env[lowio_compat.ENV_SWITCH] = "1"
    with subprocess.Popen(
        [sys.executable, "-c", ANYCORN_SCRIPT],
        env=env,
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline(), process.stdout.readline()]
            assert lines[0] == "lifespan.startup\n"
            assert lines[1].startswith("serving http://127.0.0.1:")
            if not no_compat:
                wait_for_handler(process.pid, signal.SIGTERM)
            # (with the switch set no handler ever comes: any moment will do)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=BOUND)
        finally:
            process.kill()
    if no_compat:
        assert process.returncode == -signal.SIGTERM  # no handler: killed
        assert out == ""
    else:
        assert process.returncode == 0, err
        assert out == "lifespan.shutdown\nexited\n"
