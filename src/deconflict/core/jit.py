"""`borrowing`: numba's njit for kernels that allocate nothing, compiled without reference counting.

Every call of a non-inlined numba kernel increments and decrements the reference count of each array argument,
with lock-prefixed instructions; for small kernels called per candidate or per cell probe that was a fifth of
the strategic query's time. A kernel that allocates no array needs no reference counting: compiled with
`_nrt=False` it borrows its arguments from the caller, which keeps them alive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from numba import njit

__all__ = ["borrowing"]

F = TypeVar("F", bound=Callable[..., Any])

_NO_NRT: dict[str, Any] = {"_nrt": False}  # a numba option that its type stubs do not list


def borrowing(fn: F) -> F:
    """`njit(cache=True)` without reference counting; only for kernels that allocate no array."""
    return cast(F, njit(cache=True, **_NO_NRT)(fn))
