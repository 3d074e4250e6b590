"""`--metrics-port PORT` on `stream`, `record`, `publish` and `consume`: Prometheus metrics.

The command serves http://127.0.0.1:PORT/metrics (`gatetrio.metrics`, the `metrics` extra) for
as long as it runs: its client's statistics, and the recorder's, publisher's or consumer's the
command adds (`add`). Port 0 picks a free one; the URL is printed on stderr.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from ._process import print_error

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from gatetrio.metrics import Metrics

_current: list[Metrics] = []  # the command's collector while it serves (at most one)


def add_metrics_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on http://127.0.0.1:PORT/metrics (needs the metrics "
        "extra; 0 picks a free port)",
    )


def add(source: object, name: str = "") -> None:
    """Export `source`'s statistics if the command serves metrics (else nothing)."""
    for metrics in _current:
        metrics.add(source, name=name)


@contextlib.contextmanager
def serving(port: int | None) -> Iterator[None]:
    """Serve metrics on `port` for the block (nothing when None)."""
    if port is None:
        yield
        return
    from prometheus_client import CollectorRegistry  # noqa: PLC0415 - the metrics extra

    from gatetrio.metrics import Metrics, serve  # noqa: PLC0415

    registry = CollectorRegistry()
    metrics = Metrics(registry)
    with serve(port, registry) as bound:
        print_error(f"metrics on http://127.0.0.1:{bound}/metrics", prefix="info")
        _current.append(metrics)
        try:
            yield
        finally:
            _current.remove(metrics)


def check_port(port: int | None) -> None:
    """Fail before connecting: a port out of range, or prometheus-client missing.

    Raises:
        UsageError: as `gatetrio.metrics.serve` would.
    """
    if port is None:
        return
    from gatetrio._core._errors import UsageError  # noqa: PLC0415
    from gatetrio.metrics import require_prometheus  # noqa: PLC0415

    if not 0 <= port <= 65535:
        raise UsageError(f"--metrics-port must be 0-65535, got {port}")
    require_prometheus()
