"""Serve the loopback OpenAI-compatible test server from its own process.

``python -m toolgym.testing --domain airline [--data-dir DIR] [--latency-ms 200] [--port N]``
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

DESCRIPTION = (
    "Serve a loopback OpenAI-compatible server (http://127.0.0.1:PORT/v1) that plays both "
    "sides of every task of a domain: as the agent it replays the task's gold actions, as "
    "the user it states the goal and stops when done. Point --agent-base-url and "
    "--user-base-url of 'toolgym run' at it to exercise the real HTTP client path with no "
    "model. Prints the base URL on the first line of stdout; stops on Ctrl-C or SIGTERM."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m toolgym.testing", description=DESCRIPTION)
    parser.add_argument("--domain", default="airline",
                        help="registered domain whose tasks are played (default: %(default)s)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="tau2-format data directory of the domain "
                             "(default: its built-in data)")
    parser.add_argument("--latency-ms", type=float, default=0.0, metavar="MS",
                        help="delay added to every chat request, in milliseconds "
                             "(default: %(default)s)")
    parser.add_argument("--port", type=int, default=0,
                        help="port to listen on, on 127.0.0.1 (default: 0, a free port)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until SIGTERM / SIGINT."""
    from toolgym.domains import load_domain
    from toolgym.errors import ToolgymError
    from toolgym.testing._roleplay import roleplay_responder
    from toolgym.testing._server import FakeOpenAIServer

    args = _parser().parse_args(argv)
    try:
        domain = load_domain(args.domain, data_dir=args.data_dir)
        server = FakeOpenAIServer(roleplay_responder(domain.tasks), latency_ms=args.latency_ms,
                                  port=args.port).start()
    except ToolgymError as exc:
        sys.exit(f"error: {exc}")
    except OSError as exc:
        sys.exit(f"error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        sys.stdout.write(server.base_url + "\n")
        sys.stdout.flush()
        stop.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
