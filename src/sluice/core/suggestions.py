"""'Did you mean' hints for mistyped ids."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(word: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """The candidates that look most like ``word``, best first."""
    pool = list(candidates)
    found = difflib.get_close_matches(word, pool, n=limit, cutoff=0.5)
    found += [c for c in pool if word.lower() in c.lower() and c not in found]
    return found[:limit]


def unknown_id_message(kind: str, word: str, candidates: Iterable[str], where: str = "") -> str:
    """``Task 'x' not found in DAG 'd'. Did you mean: 'y'?`` or a list of what exists."""
    pool = sorted(candidates)
    matches = close_matches(word, pool)
    head = f"{kind} '{word}' not found{where}"
    if matches:
        return f"{head}. Did you mean: {', '.join(repr(m) for m in matches)}?"
    if not pool:
        return f"{head}; there are none."
    shown = ", ".join(pool[:10]) + (", ..." if len(pool) > 10 else "")
    return f"{head}. Known: {shown}"
