"""Resident identity numbers (GB 11643-1999), built in bulk.

18 characters: a 6-digit administrative area code, the 8-digit birth date, a 3-digit sequence and
a check character by ISO 7064 MOD 11-2 (weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2; the weighted
sum mod 11 maps 0..10 to `1 0 X 9 8 7 6 5 4 3 2`). Area codes come from python-stdnum's database
of Chinese administrative divisions (`stdnum.numdb.get('cn/loc')`), taking for each birth year only
the county-level codes in use that year, so that `stdnum.cn.ric.validate` accepts every number
(the tests use it as the oracle).

Numbers are unique by construction: a person index maps one to one onto (birth date, sequence)
through an affine permutation, and the area code is then drawn from the person's hash.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from cbec.simulate.columns import Bytes, digits
from cbec.simulate.hashing import below, salt

WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARACTERS = np.frombuffer(b"10X98765432", dtype=np.uint8)
SEQUENCES = 1000
_ENTRY = re.compile(r"\[(\d*)-(\d*)\](.*)")


@dataclass(frozen=True)
class Region:
    code: int
    province: str
    prefecture: str
    county: str

    @property
    def label(self) -> str:
        """Province, prefecture (skipped for the municipalities' placeholders) and county."""
        parts = [self.province]
        if self.prefecture and self.prefecture not in ("市辖区", "县", self.province):
            parts.append(self.prefecture)
        parts.append(self.county)
        return "".join(parts)


def _entries(text: str) -> list[tuple[int | None, int | None, str]]:
    """'[1983-2014]桥东区,[2015-]竞秀区' as (from, to, name) triples; no bracket: always."""
    found: list[tuple[int | None, int | None, str]] = []
    for entry in text.split(","):
        match = _ENTRY.fullmatch(entry)
        if match is None:
            found.append((None, None, entry))
        else:
            start, end, name = match.groups()
            found.append((int(start) if start else None, int(end) if end else None, name))
    return found


@lru_cache(maxsize=1)
def _divisions() -> tuple[tuple[int, list[tuple[int | None, int | None, str]], str, str], ...]:
    """(code, county entries, province, prefecture) for every county-level code."""
    from stdnum import numdb

    found = []
    for _, province_code, _, province_props, counties in numdb.get("cn/loc").prefixes:
        province = province_props.get("province", "")
        names = {county: props.get("county", "") for _, county, _, props, _ in counties}
        for _, county, _, props, _ in counties:
            # xx00 are prefectures, xx01 the "urban districts" placeholders: not where people live.
            if county.endswith("00") or county.endswith("01"):
                continue
            prefecture = _entries(names.get(county[:2] + "00", ""))[-1][2]
            found.append(
                (int(province_code + county), _entries(props["county"]), province, prefecture)
            )
    return tuple(found)


@lru_cache(maxsize=8)
def areas_by_year(first: int, last: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Area codes valid in each year `first..last`, flattened: (codes, offsets per year)."""
    divisions = _divisions()
    years = last - first + 1
    valid = np.zeros((years, len(divisions)), dtype=np.bool_)
    for column, (_, entries, _, _) in enumerate(divisions):
        for start, end, _ in entries:
            low = 0 if start is None else max(0, start - first)
            high = years if end is None else min(years, end - first + 1)
            valid[low:high, column] = True
    codes = np.array([code for code, _, _, _ in divisions], dtype=np.int64)
    _, columns = np.nonzero(valid)  # row-major: year by year, codes in order
    offsets = np.concatenate([[0], np.cumsum(valid.sum(axis=1))]).astype(np.int64)
    return codes[columns], offsets


@lru_cache(maxsize=1)
def current_regions() -> tuple[Region, ...]:
    """County-level areas still in use (for addresses and consignee districts)."""
    regions = []
    for code, entries, province, prefecture in _divisions():
        _, end, name = entries[-1]
        if end is None:
            regions.append(Region(code, province, prefecture, name))
    return tuple(regions)


@dataclass(frozen=True)
class IdentitySpace:
    """A bijection from person index to (birth date, sequence), plus the area draw."""

    first_birth: dt.date
    last_birth: dt.date
    multiplier: int
    offset: int
    key: int

    @classmethod
    def create(cls, seed: int, day: dt.date) -> IdentitySpace:
        last = min(dt.date(2005, 12, 31), day.replace(year=day.year - 18, day=min(day.day, 28)))
        first = dt.date(1950, 1, 1)
        size = ((last - first).days + 1) * SEQUENCES
        multiplier = salt(seed, "identity-multiplier") % size | 1
        while math.gcd(multiplier, size) != 1:
            multiplier += 2
        return cls(
            first, last, multiplier, salt(seed, "identity-offset") % size, salt(seed, "area")
        )

    @property
    def days(self) -> int:
        return (self.last_birth - self.first_birth).days + 1

    @property
    def capacity(self) -> int:
        return self.days * SEQUENCES

    def numbers(
        self, person: npt.NDArray[np.int64], corrupt: npt.NDArray[np.bool_] | None = None
    ) -> Bytes:
        """The 18-character numbers of `person` as a byte matrix; where `corrupt` holds, the check
        character is a wrong one (the same wrong one for the same person)."""
        if len(person) and int(person.max()) >= self.capacity:
            raise ValueError(f"at most {self.capacity:,} distinct identity numbers")
        position = (person.astype(np.int64) * self.multiplier + self.offset) % self.capacity
        day_index, sequence = position % self.days, position // self.days
        birth_ymd, year_slot = _birth_dates(self.first_birth, self.days)
        slot = year_slot[day_index]
        codes, offsets = areas_by_year(self.first_birth.year, self.last_birth.year)
        count = offsets[slot + 1] - offsets[slot]
        area = codes[offsets[slot] + below(person, self.key, count)]
        body = digits(area * 10**11 + birth_ymd[day_index] * 10**3 + sequence, 17)
        check = check_index(body)
        if corrupt is not None:
            shift = 1 + below(person, self.key ^ 0x5A5A, 10)
            check = np.where(corrupt, (check + shift) % 11, check)
        return np.hstack([body, CHECK_CHARACTERS[check][:, None]])


@lru_cache(maxsize=8)
def _birth_dates(first: dt.date, days: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per day index: the date as YYYYMMDD, and its year's offset from `first`'s year."""
    birth = np.datetime64(first, "D") + np.arange(days)
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month_start = birth.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    day = (birth - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    return year * 10_000 + month * 100 + day, year - first.year


def check_index(body: Bytes) -> npt.NDArray[np.int64]:
    """Index into `CHECK_CHARACTERS` of the check character of 17-digit bodies."""
    return ((body.astype(np.int64) - 48) @ WEIGHTS) % 11
