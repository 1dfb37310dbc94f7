"""A live server for tests: uvicorn on 127.0.0.1 only, in a thread, with a bounded request loop."""
from __future__ import annotations

import socket
import threading
import time


class LiveServer:
    """``with LiveServer(app) as url:`` serves ``app`` on 127.0.0.1 for at most ``max_requests``
    requests (uvicorn's limit_max_requests) and stops on exit."""

    def __init__(self, app, max_requests: int = 5000):
        self.app = app
        self.max_requests = max_requests

    def __enter__(self) -> str:
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning",
                                limit_max_requests=self.max_requests, timeout_keep_alive=5, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
