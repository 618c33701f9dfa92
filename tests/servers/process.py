"""What the test servers' handles share: admin calls over HTTP and stopping the subprocess."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from typing import Any


class ServerProcess:
    """A test server running as a subprocess, driven through its ``/__admin`` endpoints."""

    admin_error: type[Exception] = RuntimeError
    admin_name = "server"

    def __init__(self, process: subprocess.Popen[bytes], admin_url: str):
        self.process = process
        self.admin_url = admin_url
        # Never through a proxy from the environment: these servers are on 127.0.0.1.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _admin(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if method == "GET" else json.dumps(payload or {}).encode()
        request = urllib.request.Request(
            f"{self.admin_url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            raise self.admin_error(
                f"{self.admin_name} admin {path}: {err.code} {err.read()!r}"
            ) from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
