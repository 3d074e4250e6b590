from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatetrio._core._auth import (
    api_sign_text,
    sign_api,
    sign_subscription,
    subscription_sign_text,
    verify_api_sign,
    verify_subscription_sign,
)
from gatetrio._core._errors import UsageError

from .helpers import DOCS_KEY, DOCS_SECRET, LOGIN_VECTOR, SUBSCRIBE_VECTOR

# Channel and event names as Gate spells them. They cannot contain the sign text's own separators
# ("&", "=", newline), so distinct inputs always give distinct sign texts.
channels = st.from_regex(r"futures\.[a-z_]{1,24}", fullmatch=True)
events = st.sampled_from(["subscribe", "unsubscribe"])
times = st.integers(min_value=0, max_value=2**40)
# HMAC pads keys with NUL bytes, so "k" and "k\x00" are the same key: keep NUL out of secrets.
secrets = st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=64)
param_texts = st.text(max_size=200).filter(lambda s: "\n" not in s)
timestamps = times.map(str)


def test_subscription_vector() -> None:
    auth = sign_subscription(
        "futures.orders", "subscribe", 1700000000, key=DOCS_KEY, secret=DOCS_SECRET
    )
    assert auth == {"method": "api_key", "KEY": DOCS_KEY, "SIGN": SUBSCRIBE_VECTOR}
    assert verify_subscription_sign(
        "futures.orders", "subscribe", 1700000000, sign=SUBSCRIBE_VECTOR, secret=DOCS_SECRET
    )


def test_subscription_sign_text_is_the_documented_string() -> None:
    assert (
        subscription_sign_text("futures.orders", "unsubscribe", 1700000000)
        == "channel=futures.orders&event=unsubscribe&time=1700000000"
    )


def test_unsubscribe_signs_its_own_event() -> None:
    # The Go SDK signs "subscribe" for both; the real event must be signed.
    unsub = sign_subscription(
        "futures.orders", "unsubscribe", 1700000000, key="k", secret=DOCS_SECRET
    )
    assert unsub["SIGN"] != SUBSCRIBE_VECTOR
    assert verify_subscription_sign(
        "futures.orders", "unsubscribe", 1700000000, sign=unsub["SIGN"], secret=DOCS_SECRET
    )


def test_login_vector() -> None:
    assert api_sign_text("futures.login", "", "1700000000") == "api\nfutures.login\n\n1700000000"
    assert sign_api("futures.login", "", "1700000000", DOCS_SECRET) == LOGIN_VECTOR
    assert verify_api_sign(
        "futures.login", "", "1700000000", signature=LOGIN_VECTOR, secret=DOCS_SECRET
    )


def test_api_sign_is_hmac_sha512_of_the_documented_text() -> None:
    param = '{"contract":"BTC_USDT","size":1,"price":"1","tif":"gtc"}'
    expected = hmac.new(
        DOCS_SECRET.encode(),
        f"api\nfutures.order_place\n{param}\n1700000000".encode(),
        hashlib.sha512,
    ).hexdigest()
    assert sign_api("futures.order_place", param, "1700000000", DOCS_SECRET) == expected


@pytest.mark.parametrize(
    "sign",
    [
        SUBSCRIBE_VECTOR.upper(),  # hex case matters: Gate compares the text
        SUBSCRIBE_VECTOR[:-1],
        SUBSCRIBE_VECTOR + "0",
        "",
        "é" * 128,  # non-ASCII must not make compare_digest raise
        "\ud800",
        None,
        123,
        SUBSCRIBE_VECTOR.encode(),
    ],
)
def test_verify_rejects_anything_else_without_raising(sign: object) -> None:
    assert not verify_subscription_sign(
        "futures.orders", "subscribe", 1700000000, sign=sign, secret=DOCS_SECRET
    )
    assert not verify_api_sign(
        "futures.login", "", "1700000000", signature=sign, secret=DOCS_SECRET
    )


@pytest.mark.parametrize(
    ("channel", "event", "time"),
    [
        (None, "subscribe", 1700000000),
        ("futures.orders", 1, 1700000000),
        ("futures.orders", "subscribe", "1700000000"),
        ("futures.orders", "subscribe", 1.7e9),
        ("futures.orders", "subscribe", True),
        ("\ud800", "subscribe", 1700000000),
    ],
)
def test_verify_subscription_untrusted_fields_give_false(
    channel: object, event: object, time: object
) -> None:
    assert not verify_subscription_sign(
        channel, event, time, sign=SUBSCRIBE_VECTOR, secret=DOCS_SECRET
    )


@pytest.mark.parametrize(
    ("channel", "timestamp"), [(None, "1700000000"), ("futures.login", 1700000000)]
)
def test_verify_api_untrusted_fields_give_false(channel: object, timestamp: object) -> None:
    assert not verify_api_sign(channel, "", timestamp, signature=LOGIN_VECTOR, secret=DOCS_SECRET)


@pytest.mark.parametrize("bad_time", [1700000000.0, "1700000000", True, None])
def test_subscription_time_must_be_int(bad_time: object) -> None:
    with pytest.raises(UsageError, match="integer unix seconds"):
        sign_subscription("futures.orders", "subscribe", bad_time, key="k", secret=DOCS_SECRET)  # type: ignore[arg-type]


@given(channel=channels, event=events, time=times, secret=secrets)
def test_subscription_round_trip(channel: str, event: str, time: int, secret: str) -> None:
    auth = sign_subscription(channel, event, time, key="k", secret=secret)
    assert len(auth["SIGN"]) == 128
    assert re.fullmatch("[0-9a-f]+", auth["SIGN"])  # lowercase hex: Gate compares the text
    assert verify_subscription_sign(channel, event, time, sign=auth["SIGN"], secret=secret)


@given(
    channel=channels,
    event=events,
    time=times,
    secret=secrets,
    other=st.tuples(channels, events, times, secrets),
)
def test_subscription_any_change_breaks_it(
    channel: str, event: str, time: int, secret: str, other: tuple[str, str, int, str]
) -> None:
    sign = sign_subscription(channel, event, time, key="k", secret=secret)["SIGN"]
    o_channel, o_event, o_time, o_secret = other
    # change one input at a time, so each one's effect is checked on its own
    variants = [
        (o_channel, event, time, secret),
        (channel, o_event, time, secret),
        (channel, event, o_time, secret),
        (channel, event, time, o_secret),
    ]
    for variant in variants:
        if variant != (channel, event, time, secret):
            v_channel, v_event, v_time, v_secret = variant
            assert not verify_subscription_sign(
                v_channel, v_event, v_time, sign=sign, secret=v_secret
            )


@given(channel=channels, param=param_texts, timestamp=timestamps, secret=secrets)
def test_api_round_trip(channel: str, param: str, timestamp: str, secret: str) -> None:
    signature = sign_api(channel, param, timestamp, secret)
    assert verify_api_sign(channel, param, timestamp, signature=signature, secret=secret)


@given(
    channel=channels,
    param=param_texts,
    timestamp=timestamps,
    secret=secrets,
    other=st.tuples(channels, param_texts, timestamps),
)
def test_api_any_change_breaks_it(
    channel: str, param: str, timestamp: str, secret: str, other: tuple[str, str, str]
) -> None:
    signature = sign_api(channel, param, timestamp, secret)
    o_channel, o_param, o_timestamp = other
    for variant in [
        (o_channel, param, timestamp),
        (channel, o_param, timestamp),
        (channel, param, o_timestamp),
    ]:
        if variant != (channel, param, timestamp):
            assert not verify_api_sign(*variant, signature=signature, secret=secret)
