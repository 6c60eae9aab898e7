"""Headless Chromium (Debian's ``chromium``), started and stopped by the tests, driven over the
DevTools protocol on a loopback websocket.

Why the protocol and ``websocket-client`` rather than a browser driver: it is one small pure
Python package, it uses the installed binary as it is (no browser download, no matching
chromedriver), and the tests need only navigate, evaluate, submit a form and take a screenshot.
Chromium is started with the flags that keep it from reaching any host, and stopped by its PID.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import websocket

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
STARTUP_SECONDS = 30.0
PHONE_WIDTH = 390  # CSS pixels of a common phone


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless Chromium with one page; ``with Chromium(profile_dir) as browser: ...``."""

    def __init__(self, profile_dir: Path, *, width: int = 1200, height: int = 900) -> None:
        binary = chromium_binary()
        if binary is None:
            raise RuntimeError("chromium is not installed (apt-get install chromium)")
        self._binary = binary
        self._profile = profile_dir
        self._size = (width, height)
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: websocket.WebSocket | None = None
        self._next_id = 0
        self._events: list[dict[str, Any]] = []  # arrived while a command was awaited

    # --- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Chromium:
        self._process = subprocess.Popen(
            [self._binary, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}",
             f"--window-size={self._size[0]},{self._size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = self._devtools_port()
        self._socket = websocket.create_connection(self._page_socket_url(port), timeout=30)
        self.call("Page.enable")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._socket is not None:
            self._socket.close()
        if self._process is not None:  # ours, by its PID: terminate, then kill if it lingers
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)

    def _devtools_port(self) -> int:
        """Chromium writes the port it chose to DevToolsActivePort in its profile."""
        marker = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._process.returncode}")
            if marker.exists():
                first = marker.read_text().splitlines()[:1]
                if first and first[0].isdigit():
                    return int(first[0])
            time.sleep(0.05)
        raise RuntimeError("chromium did not open its DevTools port")

    def _page_socket_url(self, port: int) -> str:
        import urllib.request

        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as reply:
                targets = json.loads(reply.read())
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
            time.sleep(0.05)
        raise RuntimeError("chromium opened no page")

    # --- the protocol ----------------------------------------------------------------------------

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        assert self._socket is not None
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            if "method" in message:
                self._events.append(message)

    def wait_for_event(self, name: str, timeout: float = 15.0) -> dict[str, Any]:
        """The first ``name`` event since the buffer was last cleared."""
        assert self._socket is not None
        for index, message in enumerate(self._events):
            if message["method"] == name:
                del self._events[: index + 1]
                return dict(message.get("params", {}))
        self._events.clear()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self._socket.recv())
            if message.get("method") == name:
                return dict(message.get("params", {}))
        raise TimeoutError(name)

    # --- what the tests do -----------------------------------------------------------------------

    def open(self, url: str) -> None:
        self._events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def submit(self, form_selector: str, values: dict[str, str]) -> None:
        """Fill a form's fields as a person would and press its submit button."""
        script = (
            f"(() => {{ const form = document.querySelector({json.dumps(form_selector)});"
            f" const values = {json.dumps(values)};"
            " for (const [name, value] of Object.entries(values))"
            " form.elements[name].value = value;"
            " form.querySelector('button[type=submit]').click(); })()"
        )
        self._events.clear()
        result = self.call("Runtime.evaluate", expression=script)
        if "exceptionDetails" in result:
            raise RuntimeError(f"could not submit {form_selector}: {result['exceptionDetails']}")
        self.wait_for_event("Page.loadEventFired")

    def emulate_phone(self, width: int = PHONE_WIDTH, height: int = 844) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width, height=height, deviceScaleFactor=1, mobile=True,
        )

    def screenshot(self, path: Path, *, full_page: bool = True) -> bytes:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        data = base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])
        path.write_bytes(data)
        return data
