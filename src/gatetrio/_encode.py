"""Pure encoders: requests to frames (`encode_request`) and events to frames (`encode_event`).

`encode_event` serves the fake exchange and the round-trip tests.
"""

from __future__ import annotations
