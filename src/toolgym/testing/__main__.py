"""Serve the loopback OpenAI-compatible test server from its own process.

``python -m toolgym.testing --domain airline [--data-dir DIR] [--latency-ms 200]``
starts a :class:`FakeOpenAIServer` that plays both sides of every task of
the domain (:func:`roleplay_responder`) and prints its base URL on the first
line of stdout. Running the server in its own process keeps its CPU work off
the client's interpreter, as with a real model server (benchmarks use this).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from toolgym.domains import load_domain
from toolgym.testing._roleplay import roleplay_responder
from toolgym.testing._server import FakeOpenAIServer


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until SIGTERM / SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m toolgym.testing")
    parser.add_argument("--domain", default="airline")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    domain = load_domain(args.domain, data_dir=args.data_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with FakeOpenAIServer(roleplay_responder(domain.tasks), latency_ms=args.latency_ms) as server:
        sys.stdout.write(server.base_url + "\n")
        sys.stdout.flush()
        stop.wait()


if __name__ == "__main__":
    main()
