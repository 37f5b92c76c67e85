"""``--option KEY=VALUE`` (advanced stage settings, ``RunConfig.extra``), shared by ``run`` and ``build``."""
from __future__ import annotations


def parse_options(items) -> dict:
    """``KEY=VALUE`` strings -> dict; values parsed as int, float, true/false when they look like it.
    Raises ``ValueError`` with a one-line message for an item without ``=`` or with an empty key."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--option expects KEY=VALUE, got {item!r}")
        low = value.lower()
        if low in ("true", "false"):
            out[key.strip()] = low == "true"
            continue
        for cast in (int, float):
            try:
                out[key.strip()] = cast(value)
                break
            except ValueError:
                continue
        else:
            out[key.strip()] = value
    return out
