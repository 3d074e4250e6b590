"""The bus's objects outside their blocks, and a missing optional package.

Every public method of a publisher, a consumer and a bus book used after its `async with`
raises `UsageError` at once (never trio's RuntimeError from a closed nursery, never a wait
without end); `statistics()` still answers. A missing nats-py, pyarrow, zstandard or
prometheus-client is a `UsageError` naming the extra, from the API and from the commands.
Against one real nats-server for the module (`nats_url`).
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
import trio

pytest.importorskip("nats")

import gatetrio
from gatetrio import channels
from gatetrio.nats import StreamSettings, envelope, open_consumer, open_order_book, open_publisher

from .helpers import deadline
from .nats_server import Names, nats_url
from .test_nats_durable import setup as setup_stream
from .test_nats_e2e import collector, fake_exchange, publish_raw

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["nats_url"]  # the module-scoped node fixture, used by name


def _closed(exc: pytest.ExceptionInfo[gatetrio.UsageError], what: str) -> None:
    text = str(exc.value)
    assert what in text, text
    assert "open a new one" in text, text


async def test_a_publisher_after_its_block_refuses_every_call(nats_url: str) -> None:
    names = Names()
    stream = StreamSettings.for_prefix(names.prefix, name=names.stream)
    with deadline("publisher lifecycle", 30):
        async with fake_exchange() as server, collector(server) as client:
            async with open_publisher(
                client, nats_url, stream=stream, prefix=names.prefix
            ) as publisher:
                await publisher.add(channels.trades("BTC_USDT"))
                await publisher.wait_ready()
                events = publisher.events()
                held = await events.__aenter__()  # left open across the block's end
            with pytest.raises(gatetrio.UsageError) as exc:
                await publisher.add(channels.trades("ETH_USDT"))
            _closed(exc, "publisher.add()")
            with pytest.raises(gatetrio.UsageError) as exc:
                await publisher.add_book("BTC_USDT")
            _closed(exc, "add_book")
            for call in (publisher.flush, publisher.wait_ready):
                with pytest.raises(gatetrio.UsageError):
                    await call()
            with pytest.raises(gatetrio.UsageError):
                await publisher.wait_statistics(lambda _: True)
            env = envelope(
                gatetrio.Trade(id=1, contract="BTC_USDT", price=Decimal(1), size=1),
                settle="usdt",
                prefix=names.prefix,
            )
            with pytest.raises(gatetrio.UsageError):
                await publisher.put(env)
            # one of its own feeds, woken with an item as the block ended, runs in the block's
            # cancelled nursery: it ends there, cancelled, not with an error out of the block
            with trio.CancelScope() as scope:
                scope.cancel()
                await publisher.put(env)
            assert scope.cancelled_caught
            with pytest.raises(gatetrio.UsageError):
                async with publisher.events():
                    pass  # pragma: no cover - refused before the body
            with pytest.raises(trio.EndOfChannel):
                await held.receive()  # ended with the block, not left waiting
            await events.__aexit__(None, None, None)
            stats = publisher.statistics()
            assert not stats.connected
            assert stats.enqueued == (
                stats.published
                + stats.duplicates
                + stats.dropped
                + stats.buffered
                + stats.beyond_window_dropped
            )


async def test_a_waiter_outside_the_publisher_block_is_woken_when_it_ends(nats_url: str) -> None:
    """A monitor in an outer nursery waiting on the publisher gets UsageError when the block
    ends, instead of waiting for ever."""
    names = Names()
    stream = StreamSettings.for_prefix(names.prefix, name=names.stream)
    outcomes: list[str] = []
    with deadline("outer waiters woken", 30):
        async with (
            fake_exchange() as server,
            collector(server) as client,
            trio.open_nursery() as outer,
            open_publisher(client, nats_url, stream=stream, prefix=names.prefix) as publisher,
        ):
            await publisher.wait_ready()

            async def wait(name: str, call: object) -> None:
                try:
                    await call()  # type: ignore[operator]
                except gatetrio.UsageError:
                    outcomes.append(name)

            outer.start_soon(wait, "stats", lambda: publisher.wait_statistics(lambda _: False))
            await trio.testing.wait_all_tasks_blocked()
    assert outcomes == ["stats"]


async def test_a_consumer_after_its_block_refuses_every_call(nats_url: str) -> None:
    names = await setup_stream(nats_url)
    trade = gatetrio.Trade(id=5, contract="BTC_USDT", price=Decimal(1), size=1)
    await publish_raw(nats_url, [envelope(trade, settle="usdt", prefix=names.prefix)])
    with deadline("consumer lifecycle", 30):
        for durable in (None, "lifecycle"):
            async with open_consumer(
                nats_url, [f"{names.prefix}.>"], stream=names.stream, start="all", durable=durable
            ) as sub:
                _, item = await sub.receive_message()
                assert item == trade
            for call in (sub.receive_message, sub.receive_batch, sub.__anext__):
                with pytest.raises(gatetrio.UsageError) as exc:
                    await call()
                _closed(exc, "after the consumer's block")
            with pytest.raises(gatetrio.UsageError):
                sub.acknowledge()
            assert sub.statistics().received == 1


async def test_a_bus_book_after_its_block_never_waits_for_ever(nats_url: str) -> None:
    names = await setup_stream(nats_url)
    with deadline("bus book lifecycle", 30):
        async with trio.open_nursery() as outer:
            woken: list[str] = []
            async with open_order_book(
                nats_url, "BTC_USDT", prefix=names.prefix, stream=names.stream
            ) as live:

                async def wait_ready() -> None:
                    with pytest.raises(gatetrio.UsageError):
                        await live.wait_ready()  # nothing was ever published: not ready
                    woken.append("ready")

                outer.start_soon(wait_ready)
                await trio.testing.wait_all_tasks_blocked()
        assert woken == ["ready"]
        for call in (live.wait_ready, live.wait_update, live.__anext__):
            with pytest.raises(gatetrio.UsageError) as exc:
                await call()
            _closed(exc, "after the book's block")
        assert not live.statistics().ready


# ------------------------------------------------------------------------ missing extras


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> object:
    """`without("nats")`: make importing that package (and its submodules) fail."""

    def hide(package: str) -> None:
        for name in list(sys.modules):
            if name == package or name.startswith(package + "."):
                monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.setitem(sys.modules, package, None)

    return hide


async def test_a_missing_nats_py_says_how_to_install_it(without: object, nats_url: str) -> None:
    without("nats")  # type: ignore[operator]
    with pytest.raises(gatetrio.UsageError, match=r"needs nats-py: pip install .*\[nats\]"):
        async with open_consumer(nats_url, ["gate.>"]):
            pass  # pragma: no cover
    with pytest.raises(gatetrio.UsageError, match="needs nats-py"):
        async with open_order_book(nats_url, "BTC_USDT"):
            pass  # pragma: no cover
    async with fake_exchange() as server, collector(server) as client:
        with pytest.raises(gatetrio.UsageError, match="needs nats-py"):
            async with open_publisher(client, nats_url):
                pass  # pragma: no cover


def test_missing_extras_from_the_api(without: object, tmp_path: Path) -> None:
    import gatetrio.metrics
    from gatetrio.recording import FrameLine, Manifest, export_parquet, read_recording
    from gatetrio.recording._files import PartWriter
    from gatetrio.recording._format import encode_line

    capture = tmp_path / "capture"
    writer = PartWriter(capture, Manifest(), max_part_bytes=1 << 20)
    writer.write_batch(encode_line(FrameLine(ns=1, s=0, c=1, t="{}")), 1, 1, 1)
    writer.close()
    without("zstandard")  # type: ignore[operator]
    without("pyarrow")  # type: ignore[operator]
    without("prometheus_client")  # type: ignore[operator]
    with pytest.raises(gatetrio.UsageError, match=r"zstandard.*\[record\]"):
        list(read_recording(capture))
    with pytest.raises(gatetrio.UsageError, match=r"pyarrow.*\[parquet\]"):
        export_parquet(capture)
    with pytest.raises(gatetrio.UsageError, match=r"prometheus-client.*\[metrics\]"):
        gatetrio.metrics.register()
    with (
        pytest.raises(gatetrio.UsageError, match=r"prometheus-client.*\[metrics\]"),
        gatetrio.metrics.serve(0),
    ):
        pass  # pragma: no cover


async def test_a_recorder_without_zstandard_says_so(without: object, tmp_path: Path) -> None:
    from gatetrio.recording import open_recorder

    without("zstandard")  # type: ignore[operator]
    async with fake_exchange() as server, collector(server) as client:
        with pytest.raises(gatetrio.UsageError, match=r"zstandard.*\[record\]"):
            async with open_recorder(client, tmp_path / "capture"):
                pass  # pragma: no cover


@pytest.mark.slow
@pytest.mark.parametrize(
    ("hide", "argv", "extra"),
    [
        ("nats", ["publish", "--nats", "nats://127.0.0.1:1", "trades", "BTC_USDT"], "nats"),
        ("nats", ["consume", "--nats", "nats://127.0.0.1:1", "gate.>"], "nats"),
        ("zstandard", ["record", "trades", "BTC_USDT", "--simulate", "--out", "{tmp}/r"], "record"),
        ("pyarrow", ["export", "{tmp}"], "parquet"),
        (
            "prometheus_client",
            ["stream", "trades", "BTC_USDT", "--simulate", "--metrics-port", "0"],
            "metrics",
        ),
    ],
)
def test_missing_extras_from_the_commands(
    hide: str, argv: list[str], extra: str, tmp_path: Path
) -> None:
    """Each command says which extra it needs (exit 2), before connecting anywhere."""
    script = (
        "import sys\n"
        f"sys.modules[{hide!r}] = None\n"
        "from gatetrio.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"[{extra}]" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
