"""The trio shell: transport, subscriptions, the client and its supervised connections."""

from __future__ import annotations
