"""Buyer identity and telephone numbers are masked in the service's logs (issue 4; PIPL art. 51):
hand-checkable cases, and a log record written through the installed filter."""

from __future__ import annotations

import logging

import pytest

from cbec.service import masking


def test_an_identity_number_keeps_its_first_and_last_four() -> None:
    assert masking.mask_identity("110101199003070011") == "1101**********0011"
    assert masking.mask_identity("11010119900307001X") == "1101**********001X"
    assert masking.mask_identity("12345") == "*2345"
    assert masking.mask_identity(None) is None


def test_a_mobile_number_keeps_its_first_three_and_last_four() -> None:
    assert masking.mask_phone("13800000000") == "138****0000"
    assert masking.mask_phone("0571-8888") == "*****8888"


def test_numbers_in_a_text_are_masked_and_order_numbers_are_not() -> None:
    text = (
        "payer 110101199003070011 != buyer 11010119851201001x, tel 13912345678; "
        "order ORD20240615000000000001, time 20240615100000"
    )
    assert masking.mask_text(text) == (
        "payer 1101**********0011 != buyer 1101**********001x, tel 139****5678; "
        "order ORD20240615000000000001, time 20240615100000"
    )


def test_the_log_filter_masks_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("cbec.service")
    masking.install()
    with caplog.at_level(logging.WARNING, logger="cbec.service"):
        try:
            raise ValueError("buyer 110101199003070011 phone 13800000000")
        except ValueError:
            logger.exception("message %d failed for %s", 7, "110101199003070011")
    written = caplog.text
    assert "110101199003070011" not in written and "13800000000" not in written
    assert "message 7 failed for 1101**********0011" in written
    assert "phone 138****0000" in written


def test_the_filter_keeps_the_arguments_formatters_unpack() -> None:
    """uvicorn's access formatter unpacks its five arguments: they stay five, masked."""
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/v1/x?tel=13800000000", "1.1", 200),
        None,
    )
    assert masking.MaskingFilter().filter(record)
    assert record.args == ("127.0.0.1:5000", "GET", "/v1/x?tel=138****0000", "1.1", 200)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /v1/x?tel=138****0000 HTTP/1.1" 200'
