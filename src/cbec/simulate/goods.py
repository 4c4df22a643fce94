"""The goods on sale: a catalogue of products (SKUs) built from the policy lists of the day.

Every product carries a 10-digit `gcode` that a tariff row valid on the day covers (so its tax can
be computed) and whose 8-digit tariff line has a known standing on the positive list that day:

- `CLEAN`: on the list with remark kind none, name_limit or quantity_limit (ordinary traffic);
- `BONDED_ONLY`, `EXCLUDED`: on the list with that remark (used to inject those defects);
- `UNLISTED`: a tariff line with no list row valid that day (defect `not_on_positive_list`).

The gcode is the tariff's own 10-digit code when one exists for the line, else the 8-digit line
followed by `00`. Products belong to categories with a price model (log-uniform between a low and
a high price), a declared unit, a legal unit and quantity (kilograms, litres for alcohol so that
a specific consumption tax can apply, pieces), origin countries and product words. `PREMIUM`
products (watches and bags above the single limit) are sold only as one indivisible item.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

T = typing.TypeVar("T")

CLEAN, BONDED_ONLY, EXCLUDED, UNLISTED = 0, 1, 2, 3
CLEAN_REMARKS = ("none", "name_limit", "quantity_limit")

# GACC unit codes used here.
PIECE, PAIR, SET_, ITEM, STICK, BOX, BOTTLE, CAN, BAG, CASE = (
    "011", "025", "001", "007", "012", "140", "142", "122", "136", "120",
)  # fmt: skip
WATCH = "008"  # 只
KILOGRAM, LITRE = "035", "095"


@dataclass(frozen=True)
class Content:
    """One pack size: its label, legal quantity per declared unit (thousandths of the legal
    unit) and net weight in grams."""

    label: str
    legal: int
    grams: int


@dataclass(frozen=True)
class Category:
    key: str
    prefixes: tuple[str, ...]
    low: float  # CNY
    high: float
    weight: float  # share of ordinary lines
    unit: str
    legal_unit: str
    contents: tuple[Content, ...]
    countries: tuple[str, ...]
    words: dict[str, tuple[str, ...]] = field(default_factory=dict)  # code prefix -> words
    skus_per_code: int = 4
    daigou: bool = False  # bought in bulk by resellers
    max_qty: int = 6


def _kg(label: str, grams: int) -> Content:
    return Content(label, grams, grams)


def _litre(label: str, millilitres: int, grams: int) -> Content:
    return Content(label, millilitres, grams)


def _piece(label: str, grams: int) -> Content:
    return Content(label, 1000, grams)


CATEGORIES: tuple[Category, ...] = (
    Category(
        "cosmetics", ("3303", "3304"), 50, 1500, 22, BOTTLE, KILOGRAM,
        (_kg("30ml", 30), _kg("50ml", 50), _kg("100ml", 100), _kg("50g", 50), _kg("3.5g", 4)),
        ("116", "133", "305", "502", "307"),
        {
            "3303": ("香水", "淡香水", "古龙水"),
            "330410": ("口红", "唇膏", "唇釉"),
            "330420": ("眼影盘", "睫毛膏", "眼线笔"),
            "330430": ("指甲油", "护甲油"),
            "330491": ("粉饼", "散粉", "蜜粉"),
            "330499": ("面霜", "精华液", "面膜", "防晒霜", "爽肤水", "乳液", "眼霜", "卸妆油"),
        },
        skus_per_code=8, daigou=True,
    ),
    Category(
        "toiletries", ("3305", "3306", "3307"), 30, 300, 7, BOTTLE, KILOGRAM,
        (_kg("400ml", 400), _kg("500ml", 500), _kg("250ml", 250)),
        ("116", "133", "304", "502", "305"),
        {
            "330510": ("洗发水", "无硅油洗发露"),
            "330590": ("护发素", "发膜", "护发精油"),
            "330720": ("止汗露", "香体喷雾"),
            "330730": ("沐浴露", "浴盐"),
        },
    ),
    Category(
        "formula", ("190110",), 150, 420, 16, CAN, KILOGRAM,
        (_kg("800g", 800), _kg("900g", 900)),
        ("601", "609", "309", "304", "306"),
        {"190110": ("婴幼儿配方奶粉1段", "婴幼儿配方奶粉2段", "婴幼儿配方奶粉3段",
                    "较大婴儿配方奶粉")},
        skus_per_code=10, daigou=True,
    ),
    Category(
        "dairy", ("0401", "0402", "0403", "0404", "0405", "0406"), 30, 300, 6, BOX, KILOGRAM,
        (_kg("1L", 1030), _kg("1kg", 1000), _kg("250g", 250)),
        ("601", "609", "304", "305", "309"),
        {
            "0401": ("纯牛奶整箱", "脱脂牛奶整箱", "全脂牛奶整箱"),
            "0402": ("全脂奶粉", "脱脂奶粉", "炼乳"),
            "0403": ("酸奶", "希腊酸奶"),
            "0404": ("乳清蛋白粉",),
            "0405": ("黄油", "淡味黄油"),
            "0406": ("奶酪", "马苏里拉奶酪", "切达奶酪"),
        },
    ),
    Category(
        "food", ("02", "03", "0407", "0408", "0409", "0410", "05", "07", "08", "09", "10", "17",
                 "21"),
        30, 600, 8, BAG, KILOGRAM,
        (_kg("500g", 500), _kg("250g", 250), _kg("1kg", 1000)),
        ("601", "609", "502", "122", "132", "136", "501"),
        {
            "0210": ("火腿", "牛肉干", "腊肉"),
            "0306": ("冻龙虾", "帝王蟹", "北极甜虾"),
            "0307": ("生蚝", "青口贝", "鸟蛤"),
            "0308": ("即食海参", "干海参"),
            "0407": ("鲜鸡蛋",),
            "0408": ("蛋黄粉",),
            "0409": ("麦卢卡蜂蜜", "天然蜂蜜"),
            "04100010": ("燕窝", "即食燕窝"),
            "04100041": ("鲜蜂王浆",),
            "04100042": ("蜂王浆冻干粉",),
            "04100043": ("蜂花粉",),
            "04100049": ("蜂胶",),
            "04100090": ("鹿茸片",),
            "0508": ("珊瑚粉",),
            "0712": ("脱水蔬菜", "蒜片"),
            "0713": ("鹰嘴豆", "蚕豆"),
            "0801": ("椰子干", "巴西坚果", "腰果仁"),
            "0802": ("扁桃仁", "榛子仁", "核桃", "开心果", "夏威夷果"),
            "0808": ("苹果",),
            "0910": ("混合香料",),
            "1006": ("茉莉香米", "大米"),
            "1701": ("蔗糖", "红糖"),
            "2106": ("复合维生素片", "鱼油软胶囊", "益生菌粉"),
        },
        daigou=True,
    ),
    Category(
        "drinks", ("2201", "2202"), 40, 200, 3, CASE, LITRE,
        (_litre("500ml×24", 12000, 12500), _litre("330ml×24", 7920, 8300)),
        ("305", "309", "116", "601"),
        {"2201": ("天然矿泉水", "苏打水"), "2202": ("果味饮料", "气泡水")},
        max_qty=2,
    ),
    Category(
        "beer", ("2203",), 120, 400, 2, CASE, LITRE,
        (_litre("500ml×24", 12000, 13000), _litre("330ml×24", 7920, 8600)),
        ("304", "301", "309", "116"),
        {"2203": ("小麦啤酒", "黑啤酒", "精酿啤酒")},
        max_qty=2,
    ),
    Category(
        "wine", ("2204", "2205", "2206"), 80, 3000, 5, BOTTLE, LITRE,
        (_litre("750ml", 750, 1250),),
        ("305", "601", "307", "312", "609"),
        {
            "220421": ("干红葡萄酒", "干白葡萄酒", "起泡酒"),
            "220429": ("盒装干红葡萄酒",),
            "2204": ("葡萄汁",),
            "2205": ("味美思酒",),
            "2206": ("黄酒", "清酒"),
        },
        daigou=True,
    ),
    Category(
        "spirits", ("2208",), 150, 3000, 3, BOTTLE, LITRE,
        (_litre("700ml", 700, 1300), _litre("750ml", 750, 1350)),
        ("303", "305", "116", "502"),
        {"220820": ("白兰地", "干邑白兰地"), "220830": ("单一麦芽威士忌", "调和威士忌"),
         "2208": ("伏特加", "朗姆酒", "金酒")},
        daigou=True, max_qty=3,
    ),
    Category(
        "watches", ("91",), 500, 40000, 1.5, WATCH, WATCH,
        (_piece("", 150),),
        ("331", "116", "304", "305"),
        {"91": ("机械手表", "自动机械腕表", "石英手表", "商务腕表")},
        skus_per_code=6, daigou=True, max_qty=1,
    ),
    Category(
        "bags", ("4202",), 300, 30000, 2.5, ITEM, ITEM,
        (_piece("", 900),),
        ("307", "305", "312", "502"),
        {"420211": ("真皮拉杆箱", "皮质行李箱"), "420221": ("真皮手提包", "皮质手袋")},
        skus_per_code=6, daigou=True, max_qty=1,
    ),
    Category(
        "clothing", ("61", "62", "63"), 50, 800, 8, PIECE, PIECE,
        (_piece("S", 250), _piece("M", 280), _piece("L", 300), _piece("XL", 320)),
        ("116", "133", "502", "307", "303"),
        {"6109": ("纯棉T恤", "针织背心"), "6111": ("婴儿连体衣", "婴儿袜"),
         "6204": ("女士棉质外套",), "6302": ("纯棉床品套件",)},
    ),
    Category(
        "shoes", ("64",), 200, 2000, 4, PAIR, PAIR,
        (_piece("38", 800), _piece("40", 900), _piece("42", 950)),
        ("502", "304", "307", "116"),
        {"6403": ("真皮休闲鞋", "皮靴"), "6404": ("跑步鞋", "运动鞋")},
        daigou=True, max_qty=2,
    ),
    Category(
        "electronics", ("85",), 100, 3000, 5, SET_, SET_,
        (_piece("", 600),),
        ("116", "502", "133", "304"),
        {"8509": ("破壁料理机", "电动榨汁机"), "8510": ("电动理发器",),
         "8518": ("无线降噪耳机", "入耳式耳机")},
        daigou=True, max_qty=2,
    ),
    Category(
        "paper", ("48",), 30, 150, 3, BAG, KILOGRAM,
        (_kg("10卷", 1200), _kg("3包", 450)),
        ("116", "133"),
        {"4818": ("卫生纸", "抽纸", "面巾纸")},
    ),
    Category(
        "ink", ("3215",), 50, 400, 0.5, STICK, KILOGRAM,
        (_kg("墨盒", 60),),
        ("116", "502"),
        {"3215": ("家用打印机墨盒", "家用喷墨打印机墨水")},
        max_qty=3,
    ),
)  # fmt: skip

GENERAL = Category(
    "general", ("",), 30, 500, 0.5, PIECE, KILOGRAM, (_kg("", 500),), ("116", "502", "304")
)

# Fictional brand-like names per origin country (GACC country codes).
BRANDS: dict[str, tuple[str, ...]] = {
    "116": ("樱之屋", "富岳", "花见"),
    "133": ("首尔之光", "雪韩"),
    "122": ("南洋",),
    "132": ("狮城",),
    "136": ("暹罗",),
    "301": ("弗兰德",),
    "303": ("泰晤士", "高地"),
    "304": ("黑森", "莱茵"),
    "305": ("蓝岸", "塞纳"),
    "306": ("翡翠岛",),
    "307": ("托斯卡", "米兰角"),
    "309": ("风车", "郁金香"),
    "312": ("伊比利亚",),
    "331": ("阿尔卑", "日内瓦湖"),
    "501": ("枫叶谷",),
    "502": ("金门", "加州阳光"),
    "601": ("袋鼠谷", "南十字"),
    "609": ("白云牧场", "长白云"),
}

# EAN-13 prefixes (GS1 member organisations) per origin country.
BARCODE_PREFIXES: dict[str, str] = {
    "116": "49", "133": "880", "122": "955", "132": "888", "136": "885", "301": "54",
    "303": "50", "304": "40", "305": "30", "306": "539", "307": "80", "309": "87", "312": "84",
    "331": "76", "501": "06", "502": "07", "601": "93", "609": "94",
}  # fmt: skip

# Per-line price ranges that differ from their category's (CNY).
PRICE_OVERRIDES: dict[str, tuple[float, float]] = {
    "04100010": (300, 3000),  # edible bird's nest
    "0308": (300, 2000),  # sea cucumber
    "0306": (100, 800),  # lobsters, crabs, shrimps
    "0407": (30, 120),
    "0508": (50, 300),
    "0713": (20, 80),
    "0808": (30, 150),
    "0910": (20, 100),
    "1006": (40, 200),
    "1701": (20, 80),
    "220430": (50, 300),
    "3303": (200, 1500),  # perfumes
    "330410": (100, 500),  # lipsticks
    "330420": (100, 600),
    "330430": (40, 300),  # nail polish
    "330491": (150, 600),
}

# Pack sizes that differ from their category's.
CONTENT_OVERRIDES: dict[str, tuple[Content, ...]] = {
    "220429": (_litre("3L", 3000, 3300),),  # wine in containers of more than 2 l
    "2206": (_litre("500ml", 500, 900), _litre("720ml", 720, 1200)),
    "330410": (_kg("3.5g", 4),),
    "3303": (_kg("50ml", 50), _kg("100ml", 100)),
}


def category_of(code: str) -> Category:
    best, length = GENERAL, -1
    for category in CATEGORIES:
        for prefix in category.prefixes:
            if code.startswith(prefix) and len(prefix) > length:
                best, length = category, len(prefix)
    return best


def _longest(table: dict[str, tuple[T, ...]], code: str) -> tuple[T, ...] | None:
    keys = [k for k in table if code.startswith(k)]
    return table[max(keys, key=len)] if keys else None


def _price_range(code: str, category: Category) -> tuple[float, float]:
    keys = [k for k in PRICE_OVERRIDES if code.startswith(k)]
    return PRICE_OVERRIDES[max(keys, key=len)] if keys else (category.low, category.high)


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _fallback_word(name: str) -> str:
    """A product word from a list or tariff name: its Chinese part, short."""
    for part in name.split(" / "):
        if _CJK.search(part):
            return re.split(r"[(（,，]", part.strip())[0] or part.strip()
    return name.split(",")[0].strip()


def ean13(body: str) -> str:
    """`body` (12 digits) with its EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _yuan_price(rng: np.random.Generator, low: float, high: float) -> int:
    """A shop price in fen, log-uniform in [low, high] CNY, with a typical ending (x9, x9.9)."""
    yuan = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    if yuan < 100:
        fen = round(yuan * 10) * 10 - 10 * int(rng.integers(0, 2))  # 59.90, 60.00
    else:
        fen = (round(yuan) - int(rng.integers(0, 2))) * 100  # 299.00, 300.00
    return max(fen, 1000)


@dataclass(frozen=True)
class Catalog:
    """The products, as parallel columns (numpy for numbers, Arrow for text)."""

    gcode: pa.Array
    name: pa.Array
    gmodel: pa.Array
    item_no: pa.Array
    bar_code: pa.Array
    country: pa.Array
    unit: pa.Array
    legal_unit: pa.Array
    legal: npt.NDArray[np.int64]  # thousandths of the legal unit per declared unit
    grams: npt.NDArray[np.int64]
    price: npt.NDArray[np.int64]  # fen
    kind: npt.NDArray[np.int8]
    premium: npt.NDArray[np.bool_]
    daigou: npt.NDArray[np.bool_]
    quantity_limited: npt.NDArray[np.bool_]
    max_qty: npt.NDArray[np.int64]
    popularity: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.price)

    def pool(
        self, mask: npt.NDArray[np.bool_]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Product indices where `mask` holds and their cumulative popularity (for sampling)."""
        chosen = np.flatnonzero(mask)
        return chosen, np.cumsum(self.popularity[chosen])


def _valid_on(since: dt.date | None, until: dt.date | None, day: dt.date) -> bool:
    return (since is None or since <= day) and (until is None or day < until)


@dataclass(frozen=True)
class _Line:
    """A tariff line offered for sale: its standing on the list and its 10-digit codes."""

    code: str
    kind: int
    quantity_limited: bool
    name: str
    tens: tuple[str, ...]

    def gcode(self, k: int) -> str:
        return self.tens[k % len(self.tens)] if self.tens else self.code + "00"


def _lines_on(positive_list: pa.Table, tariff: pa.Table, day: dt.date) -> list[_Line]:
    by_line: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for row in tariff.to_pylist():
        if _valid_on(row["valid_from"], row["valid_to"], day):
            code = str(row["code"])
            by_line.setdefault(code[:8], []).append(code)
            names.setdefault(code[:8], str(row["name"]))
    listed = {
        str(row["code"]): row
        for row in positive_list.to_pylist()
        if _valid_on(row["valid_from"], row["valid_to"], day)
    }
    kinds = {"bonded_only": BONDED_ONLY, "excluded": EXCLUDED}
    lines = []
    for code in sorted(by_line):
        tens = tuple(sorted(c for c in by_line[code] if len(c) == 10))
        row = listed.get(code)
        if row is None:
            lines.append(_Line(code, UNLISTED, False, names[code], tens))
            continue
        remark = str(row["remark_kind"])
        kind = CLEAN if remark in CLEAN_REMARKS else kinds.get(remark)
        if kind is not None:
            lines.append(_Line(code, kind, remark == "quantity_limit", str(row["name"]), tens))
    return lines


class _Builder:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.columns: dict[str, list[object]] = {name: [] for name in Catalog.__dataclass_fields__}

    def _draw(self, options: tuple[str, ...]) -> str:
        return options[int(self.rng.integers(0, len(options)))]

    def add(
        self,
        line: _Line,
        k: int,
        category: Category,
        word: str,
        price: int,
        premium: bool,
        popularity: float,
    ) -> None:
        country = self._draw(category.countries)
        brand = self._draw(BRANDS[country])
        contents = _longest(CONTENT_OVERRIDES, line.code) or category.contents
        content = contents[int(self.rng.integers(0, len(contents)))]
        prefix = BARCODE_PREFIXES[country]
        width = 12 - len(prefix)
        label = "限量款" if premium and category.key in ("watches", "bags") else content.label
        c = self.columns
        c["gcode"].append(line.gcode(k))
        c["name"].append(f"{brand}{word}" + (f" {label}" if label else ""))
        c["gmodel"].append(content.label or "1件")
        c["item_no"].append(f"SKU{len(c['price']) + 1:08d}")
        c["bar_code"].append(ean13(prefix + f"{int(self.rng.integers(0, 10**width)):0{width}d}"))
        c["country"].append(country)
        c["unit"].append(category.unit)
        c["legal_unit"].append(category.legal_unit)
        c["legal"].append(content.legal)
        c["grams"].append(content.grams)
        c["price"].append(price)
        c["kind"].append(line.kind)
        c["premium"].append(premium)
        c["daigou"].append(category.daigou and line.kind == CLEAN and not premium)
        c["quantity_limited"].append(line.quantity_limited)
        c["max_qty"].append(1 if premium or line.quantity_limited else category.max_qty)
        c["popularity"].append(popularity)

    def catalog(self) -> Catalog:
        c = self.columns

        def text(name: str) -> pa.Array:
            return pa.array(c[name], pa.string())

        def numbers(name: str, dtype: type) -> npt.NDArray[typing.Any]:
            return np.array(c[name], dtype=dtype)

        return Catalog(
            gcode=text("gcode"),
            name=text("name"),
            gmodel=text("gmodel"),
            item_no=text("item_no"),
            bar_code=text("bar_code"),
            country=text("country"),
            unit=text("unit"),
            legal_unit=text("legal_unit"),
            legal=numbers("legal", np.int64),
            grams=numbers("grams", np.int64),
            price=numbers("price", np.int64),
            kind=numbers("kind", np.int8),
            premium=numbers("premium", np.bool_),
            daigou=numbers("daigou", np.bool_),
            quantity_limited=numbers("quantity_limited", np.bool_),
            max_qty=numbers("max_qty", np.int64),
            popularity=numbers("popularity", np.float64),
        )


def build_catalog(
    positive_list: pa.Table, tariff: pa.Table, day: dt.date, single_limit_fen: int, seed: int
) -> Catalog:
    """The products on sale on `day` (see the module docstring)."""
    builder = _Builder(np.random.default_rng([seed, 0xC47A]))
    lines = _lines_on(positive_list, tariff, day)
    per_category: dict[str, int] = {}
    for line in lines:
        if line.kind == CLEAN:
            key = category_of(line.code).key
            per_category[key] = per_category.get(key, 0) + 1
    limit = single_limit_fen / 100
    for line in lines:
        category = category_of(line.code)
        words = _longest(category.words, line.code) or (_fallback_word(line.name),)
        low, high = _price_range(line.code, category)
        if line.kind != CLEAN:
            # Defects are injected one at a time: their goods stay well within the single limit.
            low, high = min(low, 0.2 * limit), min(high, 0.4 * limit)
        count = category.skus_per_code if line.kind == CLEAN else 2
        ranks = 1.0 / np.arange(1, count + 1)
        shares = category.weight / per_category.get(category.key, 1) * ranks / ranks.sum()
        for k in range(count):
            price = _yuan_price(builder.rng, low, high)
            premium = line.kind == CLEAN and price > single_limit_fen
            builder.add(line, k, category, words[k % len(words)], price, premium, float(shares[k]))
        if line.kind == CLEAN and category.key in ("watches", "bags"):
            for k in range(2):  # luxury pieces above the single limit, sold one at a time
                price = max(
                    _yuan_price(builder.rng, limit * 1.05, limit * 6), single_limit_fen + 100
                )
                builder.add(line, k, category, words[k % len(words)], price, True, 1.0)
    return builder.catalog()
