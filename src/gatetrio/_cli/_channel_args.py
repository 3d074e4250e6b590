"""Channels named on the command line: `trades BTC_USDT`, `obu BTC_USDT level=50`, `--all`.

`stream`, `record` and `publish` take the same words after the command: a catalogue row's short
name, then the arguments of its builder in `gatetrio.channels` (positional, or `name=value` by
keyword). The builder checks them, so a bad argument is the builder's own `UsageError`, raised
before anything connects.

`record` and `publish` also take several channels, comma-separated, for the same contracts:
`trades,tickers,obu BTC_USDT ETH_USDT level=50`. Then the positional arguments are contracts,
and each `name=value` goes to the channels whose builder takes it (one that none takes is an
error). `--all` means every listed contract, as for `stream`.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Final

from gatetrio import channels
from gatetrio._core._catalog import CATALOG
from gatetrio._core._errors import UsageError

from ._connect import KEY_VARIABLE, SECRET_VARIABLE, SIMULATED_USER_ID, USER_VARIABLE

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from gatetrio._core._requests import ChannelSpec
    from gatetrio._shell._client import Client

    from ._connect import ConnectOptions

# Each catalogue row's builder in gatetrio.channels has the row's short name.
PUBLIC_CHANNELS: Final[dict[str, Callable[..., ChannelSpec[object]]]] = {
    row.short: getattr(channels, row.short) for row in CATALOG if not row.private
}
PRIVATE_CHANNELS: Final[dict[str, Callable[..., ChannelSpec[object]]]] = {
    row.short: getattr(channels, row.short) for row in CATALOG if row.private
}


def channel_spec(
    channel: str, args: Sequence[str], *, user_id: str | None = None, command: str = "stream"
) -> ChannelSpec[object]:
    """Build a spec from the command line: `trades BTC_USDT`, `obu BTC_USDT level=50`, ...

    `name=value` arguments are passed by keyword, the others by position. A private channel's
    `user_id` comes from `user_id` (the credentials' or the simulated account's) unless given
    as `user_id=...`; without either, the client learns it from Gate when it subscribes.
    `command` names the command in the usage line of an error.

    Raises:
        UsageError: unknown channel, wrong arguments, or a bad value (the builder's own
            message).
    """
    name = channel.removeprefix("futures.")
    builder = PUBLIC_CHANNELS.get(name) or PRIVATE_CHANNELS.get(name)
    if builder is None:
        choices = ", ".join([*PUBLIC_CHANNELS, *PRIVATE_CHANNELS])
        raise UsageError(f"unknown channel {channel!r}; choose one of {choices}")
    positional: list[str | None] = [a for a in args if "=" not in a]
    keywords = dict(a.split("=", 1) for a in args if "=" in a)
    signature = inspect.signature(builder)
    if "user_id" in signature.parameters and "user_id" not in keywords:
        # user_id is every private builder's first parameter; None: the client learns it
        positional.insert(0, user_id or None)
    try:
        signature.bind(*positional, **keywords)
    except TypeError as exc:
        raise UsageError(f"{exc}; usage: {command} {_usage(name, signature)}") from None
    return builder(*positional, **keywords)


def _usage(name: str, signature: inspect.Signature) -> str:
    """`candlesticks CONTRACT [interval=1m] [price=last]` from the builder's signature."""
    words = [name]
    for param in signature.parameters.values():
        if param.name == "user_id":
            continue  # from the environment
        if param.kind is param.VAR_POSITIONAL:
            words.append(f"[{param.name.upper().removesuffix('S')} ...]")
        elif param.default is param.empty:
            words.append(param.name.upper())
        else:
            words.append(f"[{param.name}={param.default}]")
    return " ".join(words)


def checked_spec(channel: str, args: Sequence[str], options: ConnectOptions) -> ChannelSpec[object]:
    """The spec `CHANNEL ARGS...` asks for, checked before connecting as `options` say.

    Raises:
        UsageError: as `channel_spec`, or a private channel without credentials.
    """
    name = channel.removeprefix("futures.")
    credentials = options.credentials
    user_id = credentials.user_id if credentials is not None else None
    if name in PRIVATE_CHANNELS and not options.simulate:
        if credentials is None:
            raise UsageError(
                f"{channel} is a private channel: set {KEY_VARIABLE} and "
                f"{SECRET_VARIABLE} in the environment ({USER_VARIABLE} is optional: the "
                "client learns it), or use --simulate"
            )
    elif options.simulate and not user_id:
        user_id = SIMULATED_USER_ID
    return channel_spec(channel, args, user_id=user_id)


async def listed(client: Client) -> tuple[str, ...]:
    """Every contract listed on the client's market (REST), less those being delisted."""
    from gatetrio._core._listing import listed_contracts  # noqa: PLC0415
    from gatetrio._shell._listing import fetch_listing  # noqa: PLC0415

    return listed_contracts(await fetch_listing(client.rest))


def channel_names(word: str) -> list[str]:
    """`trades,obu` -> ["trades", "obu"] (each once, in order)."""
    names = [name.strip() for name in word.split(",")]
    if not all(names):
        raise UsageError(f"channels are comma-separated names like trades,obu, got {word!r}")
    return list(dict.fromkeys(names))


def channel_specs(
    word: str, args: Sequence[str], *, contracts: Sequence[str] = (), command: str = "record"
) -> list[ChannelSpec[object]]:
    """The specs `CHANNEL[,CHANNEL...] ARGS...` asks for (`contracts`: the listed ones, for
    `--all`, put before the positional arguments).

    One channel is `channel_spec` as `stream` reads it (one spec per contract for a channel
    taking one contract, with `--all`). Several share their contracts: see the module doc.

    Raises:
        UsageError: as `channel_spec`, or an option no named channel takes.
    """
    names = channel_names(word)
    if len(names) == 1:
        name = names[0]
        if not contracts:
            return [channel_spec(name, args, command=command)]
        builder = PUBLIC_CHANNELS.get(name.removeprefix("futures."))
        takes_list = builder is not None and any(
            p.kind is p.VAR_POSITIONAL for p in inspect.signature(builder).parameters.values()
        )
        if takes_list:
            return [channel_spec(name, [*contracts, *args], command=command)]
        return [channel_spec(name, [contract, *args], command=command) for contract in contracts]
    positional = [*contracts, *(a for a in args if "=" not in a)]
    keywords = [a for a in args if "=" in a]
    specs: list[ChannelSpec[object]] = []
    used: set[str] = set()
    for name in names:
        builder = PUBLIC_CHANNELS.get(name.removeprefix("futures."))
        if builder is None:
            if name.removeprefix("futures.") in PRIVATE_CHANNELS:
                raise UsageError(f"{command} takes public channels; {name} is private")
            channel_spec(name, args, command=command)  # raises: unknown channel
            continue  # pragma: no cover
        params = inspect.signature(builder).parameters
        own = [a for a in keywords if a.split("=", 1)[0] in params]
        used.update(own)
        if any(p.kind is p.VAR_POSITIONAL for p in params.values()):
            specs.append(channel_spec(name, [*positional, *own], command=command))
        else:
            specs += [channel_spec(name, [c, *own], command=command) for c in positional]
    unused = [a for a in keywords if a not in used]
    if unused and len(names) > 1:
        raise UsageError(f"{unused[0]}: none of {', '.join(names)} takes that option")
    if not specs:
        raise UsageError(f"name the contracts: {command} {word} BTC_USDT ..., or --all")
    return specs


async def resolve_specs(
    client: Client,
    channel: str,
    args: Sequence[str],
    *,
    all_contracts: bool,
    command: str = "stream",
) -> list[ChannelSpec[object]]:
    """The subscriptions for `CHANNEL[,CHANNEL...] ARGS...` (`channel_specs`); with `--all`,
    every listed contract goes first."""
    contracts = await listed(client) if all_contracts else ()
    return channel_specs(channel, args, contracts=contracts, command=command)
