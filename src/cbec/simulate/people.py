"""Buyers, payers and consignees: names, identity numbers, mobile numbers and addresses.

Every attribute is a function of (seed, person index) (see hashing.py), so a person looks the same
in every chunk and document. Names are a surname (drawn by its approximate frequency) and one or two
given-name characters; mobile numbers use real Chinese mobile prefixes; addresses are a current
county-level area (python-stdnum's division database), a street, a house number, a residential
compound, building, unit and room.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from cbec.simulate.columns import ascii_column, choose, digits, join, pick, text
from cbec.simulate.hashing import below, salt, uniform, weighted
from cbec.simulate.identity import IdentitySpace, current_regions

Index = npt.NDArray[np.int64]

# Approximate shares (%) of the most common surnames (public census summaries), then rarer ones.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1), ("李", 7.0), ("张", 6.4), ("刘", 5.4), ("陈", 4.6), ("杨", 3.1), ("黄", 2.0),
    ("赵", 2.0), ("吴", 1.9), ("周", 1.9), ("徐", 1.5), ("孙", 1.5), ("马", 1.3), ("朱", 1.3),
    ("胡", 1.2), ("郭", 1.2), ("何", 1.2), ("高", 1.1), ("林", 1.1), ("罗", 0.9), ("郑", 0.9),
    ("梁", 0.9), ("谢", 0.8), ("宋", 0.8), ("唐", 0.8), ("许", 0.7), ("韩", 0.7), ("冯", 0.7),
    ("邓", 0.7), ("曹", 0.7), ("彭", 0.6), ("曾", 0.6), ("肖", 0.6), ("田", 0.6), ("董", 0.5),
    ("袁", 0.5), ("潘", 0.5), ("于", 0.5), ("蒋", 0.5), ("蔡", 0.5), ("余", 0.5), ("杜", 0.5),
    ("叶", 0.5), ("程", 0.5), ("苏", 0.4), ("魏", 0.4), ("吕", 0.4), ("丁", 0.4), ("任", 0.4),
    ("沈", 0.4), ("姚", 0.4), ("卢", 0.4), ("姜", 0.3), ("崔", 0.3), ("钟", 0.3), ("谭", 0.3),
    ("陆", 0.3), ("汪", 0.3), ("范", 0.3), ("金", 0.3), ("石", 0.3), ("廖", 0.3), ("贾", 0.3),
    ("夏", 0.3), ("韦", 0.3), ("付", 0.3), ("方", 0.3), ("白", 0.2), ("邹", 0.2), ("孟", 0.2),
    ("熊", 0.2), ("秦", 0.2), ("邱", 0.2), ("江", 0.2), ("尹", 0.2), ("薛", 0.2), ("闫", 0.2),
    ("段", 0.2), ("雷", 0.2), ("侯", 0.2), ("龙", 0.2), ("史", 0.2), ("陶", 0.2), ("黎", 0.2),
    ("贺", 0.2), ("顾", 0.2), ("毛", 0.2), ("郝", 0.2), ("龚", 0.2), ("邵", 0.2), ("万", 0.2),
    ("钱", 0.2), ("严", 0.2), ("覃", 0.1), ("武", 0.1), ("戴", 0.1), ("莫", 0.1), ("孔", 0.1),
    ("欧阳", 0.05), ("司马", 0.01), ("诸葛", 0.01), ("上官", 0.01),
)  # fmt: skip

GIVEN_CHARACTERS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力鹏宇浩凯俊帅婷雪琳晶颖慧欣怡"
    "佳子梓涵轩博睿思雨诗嘉晨昊天一可心悦乐宁安志国海林峰斌波亮成新东永健世春兰梅丹凤云燕琴倩璐"
    "瑶蕾薇月莹爽洁荣鑫飞龙雷阳晓小德金宏振家庆立清正晴"
)

# China mobile, unicom and telecom prefixes.
MOBILE_PREFIXES = tuple(
    str(p)
    for p in (
        *range(130, 140), 145, 147, 150, 151, 152, 153, 155, 156, 157, 158, 159, 166,
        *range(170, 179), *range(180, 190), 191, 198, 199,
    )
)  # fmt: skip

STREETS = (
    "人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "文化路", "胜利路", "幸福路",
    "长江路", "黄河路", "滨江路", "学府路", "科技路", "创业大道", "世纪大道", "光明街", "朝阳路",
    "青年路", "复兴路", "东风路", "跃进路", "工业路", "花园街", "迎宾大道", "南京路", "北京路",
    "湖滨路",
)  # fmt: skip

COMPOUNDS = (
    "阳光花园", "锦绣家园", "翠湖苑", "金色家园", "幸福里", "滨江一号", "书香门第", "绿城桂花园",
    "万科城", "碧桂园", "华府天地", "御景湾", "春晓苑", "凤凰城", "丽景湾", "紫荆花园",
    "香樟苑", "东方名城", "世纪新城", "国际公寓",
)  # fmt: skip


@dataclass(frozen=True)
class Population:
    """The people of one simulated day: `size` possible persons, indices 0..size-1."""

    seed: int
    size: int
    identity: IdentitySpace

    @classmethod
    def create(cls, seed: int, day: dt.date, size: int) -> Population:
        identity = IdentitySpace.create(seed, day)
        if size > identity.capacity:
            raise ValueError(
                f"{size:,} persons exceed the {identity.capacity:,} distinct identity numbers"
            )
        return cls(seed, size, identity)

    def _key(self, purpose: str) -> int:
        return salt(self.seed, purpose)

    @cached_property
    def _surnames(self) -> pa.Array:
        return pa.array([name for name, _ in SURNAMES], pa.string())

    @cached_property
    def _given(self) -> pa.Array:
        return pa.array(list(GIVEN_CHARACTERS), pa.string())

    @cached_property
    def _regions(self) -> pa.Array:
        return pa.array([region.label for region in current_regions()], pa.string())

    def surname_index(self, person: Index) -> Index:
        return weighted(person, self._key("surname"), [share for _, share in SURNAMES])

    def names(self, person: Index, other_surname: npt.NDArray[np.bool_] | None = None) -> pa.Array:
        """Full names; where `other_surname` holds, the same given name under another surname."""
        surname = self.surname_index(person)
        if other_surname is not None:
            shift = 1 + below(person, self._key("other-surname"), len(SURNAMES) - 1)
            surname = np.where(other_surname, (surname + shift) % len(SURNAMES), surname)
        size = len(GIVEN_CHARACTERS)
        first = below(person, self._key("given-1"), size)
        # One given-name character for a fifth of people (index 0 is the empty string).
        two = uniform(person, self._key("given-length")) >= 0.2
        second = np.where(two, 1 + below(person, self._key("given-2"), size), 0)
        return join(
            pick(self._surnames, surname),
            pick(self._given, first),
            pick(self._given_or_none, second),
        )

    @cached_property
    def _given_or_none(self) -> pa.Array:
        return pa.array(["", *GIVEN_CHARACTERS], pa.string())

    def id_numbers(self, person: Index, corrupt: npt.NDArray[np.bool_] | None = None) -> pa.Array:
        return ascii_column(self.identity.numbers(person, corrupt))

    def phones(self, person: Index, changed: npt.NDArray[np.bool_] | None = None) -> pa.Array:
        """11-digit mobile numbers; where `changed` holds, another number (never the same)."""
        prefix = below(person, self._key("phone-prefix"), len(MOBILE_PREFIXES))
        line = below(person, self._key("phone-line"), 10**8)
        if changed is not None:
            shift = 1 + below(person, self._key("phone-other"), 10**8 - 1)
            line = np.where(changed, (line + shift) % 10**8, line)
        return ascii_column(choose(MOBILE_PREFIXES, prefix), digits(line, 8))

    def region_index(self, person: Index) -> Index:
        return below(person, self._key("region"), len(current_regions()))

    def districts(self, person: Index) -> pa.Array:
        codes = np.array([region.code for region in current_regions()], dtype=np.int64)
        return ascii_column(digits(codes[self.region_index(person)], 6))

    def addresses(self, person: Index, moved: npt.NDArray[np.bool_] | None = None) -> pa.Array:
        """Delivery addresses; where `moved` holds, another room of the same building."""
        floor = 1 + below(person, self._key("floor"), 32)
        if moved is not None:
            floor = np.where(moved, floor % 32 + 1, floor)
        room = floor * 100 + 1 + below(person, self._key("room"), 4)
        return join(
            pick(self._regions, self.region_index(person)),
            pick(list(STREETS), below(person, self._key("street"), len(STREETS))),
            _numbers(1 + below(person, self._key("house"), 998)),
            "号",
            pick(list(COMPOUNDS), below(person, self._key("compound"), len(COMPOUNDS))),
            _numbers(1 + below(person, self._key("building"), 30)),
            "栋",
            _numbers(1 + below(person, self._key("unit"), 6)),
            "单元",
            _numbers(room),
            "室",
        )

    def registrations(self, person: Index) -> pa.Array:
        """The buyer's account on the platform (buyerRegNo)."""
        return ascii_column(
            text("U", len(person)), digits(below(person, self._key("reg"), 10**10), 10)
        )

    def others(self, person: Index, purpose: str) -> Index:
        """Another person of the population for each `person` (never the same one)."""
        shift = 1 + below(person, self._key(purpose), self.size - 1)
        return (person + shift) % self.size


def _numbers(values: npt.NDArray[np.int64]) -> pa.Array:
    return pa.array(values).cast(pa.string())
