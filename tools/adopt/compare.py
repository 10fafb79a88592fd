"""Comparing the owner's effective settings with the adopted ones: what
"the same" means for each kind of value."""

import json

from .governed import ADDITIVE, GOVERNED


def key(item) -> str:
    return json.dumps(item, sort_keys=True)


def is_subsequence(owner: list, after: list) -> bool:
    keys = iter(key(item) for item in after)
    return all(any(key(item) == other for other in keys) for item in owner)


def covers(after, owner, depth: int = 0, additive: int | None = None) -> bool:
    """Does the adopted value keep everything the owner's had? Lists keep the
    owner's items in their order (the template may add its own); dicts keep
    the owner's entries (the template may add entries, and decides those at
    or above an ADDITIVE depth)."""
    if isinstance(owner, list) and isinstance(after, list):
        if owner and len(owner) == len(after) and all(isinstance(item, dict) for item in owner + after):
            return all(covers(theirs, ours, depth + 1, additive) for theirs, ours in zip(after, owner, strict=True))
        return is_subsequence(owner, after)
    if isinstance(owner, dict) and isinstance(after, dict) and "dict" in owner and "dict" in after:
        theirs, ours = after["dict"], owner["dict"]
        for name, value in ours.items():
            if name not in theirs:
                return False
            if additive is not None and depth + 1 >= additive:
                continue
            if not covers(theirs[name], value, depth + 1, additive):
                return False
        return True
    return key(after) == key(owner)


def status(name: str, owner, after) -> str:
    """same | template | lost"""
    if name in GOVERNED:
        return "same" if after is not None and key(after) == key(owner) else "template"
    if after is None:
        return "lost"
    if covers(after, owner, additive=ADDITIVE.get(name)):
        return "same"
    return "lost"
