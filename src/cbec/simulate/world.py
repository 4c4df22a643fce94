"""The simulated world of one day: the policy in force, the enterprises, the goods, the people.

Enterprises are fictional but shaped like the real ones: 10-character customs registration codes
(4-digit area, then type and serial characters), platforms (ebp) each with its e-commerce
enterprises (ebc), payment enterprises, logistics enterprises with their waybill prefixes and
airline prefixes, declaring agents (each with its own 2-letter `copNo` prefix) attached to a
customs office (4-digit customs code), and bonded zones (area codes, account books `emsNo`) for the
bonded modes 1210 and 1239.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from cbec.policy.lists import load_positive_list, load_tariff
from cbec.policy.parameters import load_parameters
from cbec.simulate.goods import Catalog, build_catalog


@dataclass(frozen=True)
class Enterprise:
    code: str
    name: str
    weight: float = 1.0


@dataclass(frozen=True)
class Platform(Enterprise):
    prefix: str = ""  # order number prefix, 2 letters
    sellers: tuple[Enterprise, ...] = ()


@dataclass(frozen=True)
class Carrier(Enterprise):
    prefix: str = ""  # waybill prefix, 2 letters
    airline: str = ""  # 3-digit air waybill prefix of its usual airline


@dataclass(frozen=True)
class Office:
    """A customs office: its code, and its bonded zone if it has one."""

    customs_code: str
    zone_code: str | None = None
    zone_name: str | None = None
    bonded_mode: str | None = None  # 1210 (pilot city) or 1239


@dataclass(frozen=True)
class Agent(Enterprise):
    prefix: str = ""  # copNo prefix, 2 letters
    office: int = 0


TRADE_MODES = ("9610", "1210", "1239")
TRADE_MODE_SHARES = (0.70, 0.25, 0.05)

PLATFORMS = (
    Platform("3301964J31", "杭州云洋跨境电子商务有限公司", 0.30, "YY", (
        Enterprise("3301960AB2", "云洋全球购（杭州）贸易有限公司"),
        Enterprise("3301960C17", "澳新优品国际贸易有限公司"),
        Enterprise("3301960D45", "日韩美妆跨境贸易有限公司"),
        Enterprise("3301960E83", "欧罗巴精选供应链有限公司"),
    )),
    Platform("3120460A9S", "上海海购网络科技有限公司", 0.25, "HG", (
        Enterprise("3120460B01", "海购自营进口商品有限公司"),
        Enterprise("3120460B27", "环球母婴用品贸易有限公司"),
        Enterprise("3120460B56", "名表名品跨境贸易有限公司"),
    )),
    Platform("4401968Z2K", "广州南海通电子商务有限公司", 0.20, "NH", (
        Enterprise("4401960F12", "南海通进口食品有限公司"),
        Enterprise("4401960F38", "岭南保健品跨境贸易有限公司"),
        Enterprise("4401960F64", "湾区数码国际贸易有限公司"),
    )),
    Platform("1105910159", "北京优选全球信息技术有限公司", 0.15, "YX", (
        Enterprise("1105910A33", "优选海外直采贸易有限公司"),
        Enterprise("1105910A58", "京畿酒业进口有限公司"),
    )),
    Platform("5101960K7T", "成都锦购跨境电商有限公司", 0.10, "JG", (
        Enterprise("5101960L02", "锦购全球商品贸易有限公司"),
        Enterprise("5101960L29", "天府母婴跨境贸易有限公司"),
    )),
)  # fmt: skip

PAYERS = (
    Enterprise("312226T001", "云付通支付科技有限公司", 0.45),
    Enterprise("440316T002", "财汇通网络支付有限公司", 0.35),
    Enterprise("110108T003", "银联商户跨境支付服务有限公司", 0.12),
    Enterprise("330106T004", "钱塘支付结算有限公司", 0.08),
)

CARRIERS = (
    Carrier("3301980A11", "云达国际物流有限公司", 0.25, "YD", "784"),
    Carrier("3122980B22", "海翔供应链管理有限公司", 0.20, "HX", "781"),
    Carrier("4401980C33", "南方速运国际货运有限公司", 0.20, "NF", "999"),
    Carrier("1105980D44", "京通国际快递有限公司", 0.15, "JT", "880"),
    Carrier("5101980E55", "天府航空货运代理有限公司", 0.10, "TF", "112"),
    Carrier("2102980F66", "北方海运物流有限公司", 0.10, "BF", "479"),
)

OFFICES = (
    Office("2991", "3301W60001", "杭州下沙综合保税区", "1210"),
    Office("5141", "4401W60002", "广州南沙综合保税区", "1210"),
    Office("2244", "3122W60003", "上海浦东机场综合保税区", "1210"),
    Office("0209", "1207W60004", "天津东疆综合保税区", "1210"),
    Office("4604", "4601W60005", "海口综合保税区", "1239"),
    Office("6705", "6101W60006", "西安关中综合保税区", "1239"),
    Office("5101", None, None, None),
)

AGENTS = (
    Agent("3301980K01", "杭州关通报关有限公司", 0.18, "GT", 0),
    Agent("3301980K02", "下沙跨境通关服务有限公司", 0.10, "XS", 0),
    Agent("4401980K03", "南沙报关行有限公司", 0.16, "NS", 1),
    Agent("3122980K04", "浦东国际报关有限公司", 0.18, "PD", 2),
    Agent("1207980K05", "东疆通关代理有限公司", 0.10, "DJ", 3),
    Agent("4601980K06", "海口自贸报关服务有限公司", 0.08, "HK", 4),
    Agent("6101980K07", "关中通报关有限公司", 0.06, "GZ", 5),
    Agent("5101980K08", "蓉城报关有限公司", 0.14, "RC", 6),
)


@dataclass(frozen=True)
class Limits:
    """The policy in force on the day, in fen."""

    single: int
    annual: int
    indivisible_exception: bool

    @classmethod
    def on(cls, day: dt.date) -> Limits:
        parameters = load_parameters()

        def value(name: str) -> Decimal:
            dated = parameters[name].at(day)
            if dated is None:
                raise ValueError(f"no {name} in force on {day}: cbec's policy starts later")
            return dated.value

        return cls(
            single=int(value("single_limit") * 100),
            annual=int(value("annual_limit") * 100),
            indivisible_exception=value("indivisible_item_exception") == 1,
        )


@dataclass(frozen=True)
class World:
    day: dt.date
    limits: Limits
    catalog: Catalog

    platforms: tuple[Platform, ...] = PLATFORMS
    payers: tuple[Enterprise, ...] = PAYERS
    carriers: tuple[Carrier, ...] = CARRIERS
    offices: tuple[Office, ...] = OFFICES
    agents: tuple[Agent, ...] = AGENTS

    @classmethod
    def create(cls, day: dt.date, seed: int) -> World:
        limits = Limits.on(day)
        catalog = build_catalog(load_positive_list(), load_tariff(), day, limits.single, seed)
        return cls(day, limits, catalog)

    @property
    def sellers(self) -> tuple[Enterprise, ...]:
        return tuple(seller for platform in self.platforms for seller in platform.sellers)

    def seller_range(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Per platform: the index of its first seller in `sellers`, and how many it has."""
        counts = np.array([len(p.sellers) for p in self.platforms], dtype=np.int64)
        return np.cumsum(counts) - counts, counts

    def agent_weights(self, mode: str) -> npt.NDArray[np.float64]:
        """Agents' shares of the declarations in `mode` (bonded modes: agents at such zones)."""
        weights = np.array([a.weight for a in self.agents], dtype=np.float64)
        if mode != "9610":
            eligible = [self.offices[a.office].bonded_mode == mode for a in self.agents]
            weights = weights * np.array(eligible, dtype=np.float64)
        return weights / weights.sum()
