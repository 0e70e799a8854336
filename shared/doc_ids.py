"""Firestore's rules for document ids, checked before an input-derived value becomes one.

Firestore rejects, with ``InvalidArgument``, an id that is longer than 1,500 bytes of UTF-8,
contains ``/``, is ``.`` or ``..``, or matches ``__.*__`` (reserved); a string that is not
valid UTF-8 (a lone surrogate) cannot be sent at all.
https://firebase.google.com/docs/firestore/quotas#collections_documents_and_fields
Every adapter that builds a document reference from a request, a header or a message
checks the value here first, so such input is a 4xx (or an acknowledged message), never a
500 or a retry loop.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from shared.errors import AppError, ErrorCode

MAX_BYTES = 1500
_RESERVED = re.compile(r"^__.*__$", re.DOTALL)


def is_valid(value: object) -> bool:
    """True when ``value`` is a string Firestore accepts as a document id."""
    if not isinstance(value, str) or value in ("", ".", "..") or "/" in value:
        return False
    if _RESERVED.match(value):
        return False
    try:
        return len(value.encode("utf-8")) <= MAX_BYTES
    except UnicodeEncodeError:  # lone surrogates
        return False


def require(value: str, field: str) -> str:
    """``value`` unchanged, or ``AppError(INVALID_REQUEST)`` naming ``field``."""
    if not is_valid(value):
        raise AppError(ErrorCode.INVALID_REQUEST, "Invalid identifier.", field=field)
    return value


def _validated(value: str) -> str:
    if not is_valid(value):
        raise ValueError("is not a valid identifier")
    return value


# A pydantic field type: a string that may become a Firestore document id.
DocId = Annotated[str, AfterValidator(_validated)]
