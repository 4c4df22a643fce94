"""Field rules of the CEB elements, written once: what each element must look like.

A rule names an element, what is expected in words (for the error), and a pattern the whole
value must match (RE2 syntax, checked column by column). Rules come from three places:

- the element's type in the canonical schema (money has at most two decimals, times are
  `YYYYMMDDhhmmss`, `declTime` and `ieDate` are `YYYYMMDD`);
- the standard's enumerations and codes (domain digest section 6): `appType` 1/2/3, `appStatus`
  1/2, 3-digit GACC currency, country and unit codes, the 10-digit `gcode`, `ieFlag` I/E;
- lengths: enterprise codes are 18 characters at most (the 10-character customs code or the
  18-character unified social credit code); free text 255, notes and descriptions 1,000.

`strict` rules are reported by `cbec message validate` only; clearance accepts what real senders
send (for example `guid` values that are not UUIDs, domain digest section 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Rule:
    expected: str  # what a good value is, in words
    pattern: str | None = None  # the whole value must match
    max_length: int | None = None
    strict: bool = False  # checked by `cbec message validate` only


GUID_STRICT = Rule(
    "36 characters, upper-case hexadecimal in groups 8-4-4-4-12",
    pattern=r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}",
    strict=True,
)
THREE_DIGIT_CODE = Rule("a 3-digit GACC code", pattern=r"[0-9]{3}")
ENTERPRISE_CODE = Rule("an enterprise code of at most 18 characters", max_length=18)
CUSTOMS_CODE = Rule("a 4-digit customs office code", pattern=r"[0-9]{4}")

# Rules by element name (the same element has the same rule in every message).
ELEMENT_RULES: dict[str, Rule] = {
    "guid": Rule("a guid of at most 64 characters", max_length=64),
    "appType": Rule("1 (add), 2 (change) or 3 (delete)", pattern=r"[123]"),
    "appStatus": Rule("1 (stored) or 2 (declared)", pattern=r"[12]"),
    "currency": THREE_DIGIT_CODE,
    "fCurrency": THREE_DIGIT_CODE,
    "iCurrency": THREE_DIGIT_CODE,
    "country": THREE_DIGIT_CODE,
    "tradeCountry": THREE_DIGIT_CODE,
    "unit": THREE_DIGIT_CODE,
    "unit1": THREE_DIGIT_CODE,
    "unit2": THREE_DIGIT_CODE,
    "gcode": Rule("a 10-digit HS code", pattern=r"[0-9]{10}"),
    "ieFlag": Rule("I (import) or E (export)", pattern=r"[IE]"),
    "customsCode": CUSTOMS_CODE,
    "portCode": CUSTOMS_CODE,
    "buyerIdType": Rule("an identity document type digit (1: resident identity card)", r"[0-9]"),
    "payerIdType": Rule("an identity document type digit (1: resident identity card)", r"[0-9]"),
    "orderType": Rule("I (import) or E (export)", pattern=r"[IE]"),
    "tradeMode": Rule("a 4-digit supervision mode (9610, 1210, 1239 ...)", r"[0-9]{4}"),
    "ebpCode": ENTERPRISE_CODE,
    "ebcCode": ENTERPRISE_CODE,
    "payCode": ENTERPRISE_CODE,
    "logisticsCode": ENTERPRISE_CODE,
    "agentCode": ENTERPRISE_CODE,
    "assureCode": ENTERPRISE_CODE,
    "operatorCode": ENTERPRISE_CODE,
    "copCode": ENTERPRISE_CODE,
    "ownerCode": ENTERPRISE_CODE,
    "declAgentCode": ENTERPRISE_CODE,
    "iacCode": ENTERPRISE_CODE,
}
LONG_TEXT = {"note", "goodsInfo", "itemDescribe", "returnInfo", "reason"}
TEXT_LENGTH = 255
LONG_TEXT_LENGTH = 1000
# Dates without a time of day (domain digest section 6); other times are YYYYMMDDhhmmss.
DATE_ELEMENTS = {"declTime", "ieDate"}


def type_rule(element: str, dtype: pa.DataType) -> Rule:
    """The rule that follows from the column's type."""
    if pa.types.is_decimal(dtype):
        digits = dtype.precision - dtype.scale
        return Rule(
            f"a number with at most {dtype.scale} decimals",
            pattern=rf"-?[0-9]{{1,{digits}}}(\.[0-9]{{1,{dtype.scale}}})?",
        )
    if pa.types.is_integer(dtype):
        return Rule("a whole number", pattern=r"-?[0-9]{1,9}")
    if pa.types.is_timestamp(dtype):
        # Years 1900-2099: a year 0 would read but could not be written back or compared.
        if element in DATE_ELEMENTS:  # tolerant: some senders add the time of day
            return Rule("a date YYYYMMDD", pattern=r"(19|20)[0-9]{6}([0-9]{6})?")
        # The published receipt samples add milliseconds (returnTime 20180507153001001).
        return Rule("a time YYYYMMDDhhmmss", pattern=r"(19|20)[0-9]{12}([0-9]{3})?")
    length = LONG_TEXT_LENGTH if element in LONG_TEXT else TEXT_LENGTH
    return Rule(f"text of at most {length} characters", max_length=length)


def rules_for(element: str, dtype: pa.DataType, strict: bool) -> list[Rule]:
    """Every rule an element's values must pass, the type's first. For text, an element's own
    rule replaces the generic length."""
    found = [type_rule(element, dtype)]
    if element in ELEMENT_RULES:
        if pa.types.is_string(dtype):
            found = []
        found.append(ELEMENT_RULES[element])
    if strict and element == "guid":
        found.append(GUID_STRICT)
    return [rule for rule in found if strict or not rule.strict]
