"""gatetrio: a trio-native client for Gate's futures WebSocket API v4."""

from __future__ import annotations
