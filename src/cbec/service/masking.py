"""Buyer identity numbers and telephone numbers, masked wherever someone other than the declarant
reads them: the service's logs, and the stored text of a failure.

Personal Information Protection Law of the PRC (2021), art. 51: a processor takes measures such as
de-identification; cbec keeps enough to tell numbers apart in a log (the area and the last
characters) and nothing that identifies a person. The pattern is cbec's choice
(docs/decisions.md, "Issue 4"): an identity number (GB 11643-1999, 18 characters) keeps its first
4 and last 4 (`1101**********0011`); a mobile number (11 digits, starting 1) its first 3 and last
4 (`138****0000`), as Chinese services commonly show them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

# 18-character resident identity numbers (17 digits and a check character), and mobile numbers;
# not inside a longer run of digits (an order number, a timestamp).
_IDENTITY = re.compile(r"(?<![0-9A-Za-z])(\d{4})(\d{10})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)(\d{4})(\d{4})(?![0-9A-Za-z])")


def mask_identity(number: str | None) -> str | None:
    """`110101199003070011` -> `1101**********0011`; other lengths keep only their last 4."""
    if number is None:
        return None
    keep_front = 4 if len(number) == 18 else 0
    keep_back = min(4, max(len(number) - keep_front - 1, 0))
    hidden = len(number) - keep_front - keep_back
    return number[:keep_front] + "*" * hidden + number[len(number) - keep_back :]


def mask_phone(number: str | None) -> str | None:
    """`13800000000` -> `138****0000`; other lengths keep only their last 4."""
    if number is None:
        return None
    keep_front = 3 if len(number) == 11 else 0
    keep_back = min(4, max(len(number) - keep_front - 1, 0))
    hidden = len(number) - keep_front - keep_back
    return number[:keep_front] + "*" * hidden + number[len(number) - keep_back :]


def mask_text(text: str) -> str:
    """Every identity and mobile number in a free text, masked."""
    text = _IDENTITY.sub(lambda m: m.group(1) + "*" * 10 + m.group(3), text)
    return _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


class MaskingFilter(logging.Filter):
    """Masks a log record's message and traceback before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        # The arguments keep their shape: formatters read them (uvicorn's access log unpacks
        # five of them); only their text is masked.
        if isinstance(record.msg, str):
            record.msg = mask_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _masked(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        return True


def _masked(value: object) -> object:
    return mask_text(value) if isinstance(value, str) else value


LOGGERS = ("cbec", "cbec.service", "uvicorn", "uvicorn.error", "uvicorn.access")


def install() -> None:
    """Puts the filter on the service's loggers and on every handler of them and of the root, so
    that records propagated from elsewhere are masked too."""
    masking = MaskingFilter()
    for name in (*LOGGERS, ""):
        logger = logging.getLogger(name)
        if masking_not_in(logger.filters):
            logger.addFilter(masking)
        for handler in logger.handlers:
            if masking_not_in(handler.filters):
                handler.addFilter(masking)


def masking_not_in(filters: Sequence[object]) -> bool:
    return not any(isinstance(f, MaskingFilter) for f in filters)
