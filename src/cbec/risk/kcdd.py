"""The public KCDD customs declarations (shared/data/kcdd) as risk inputs, and the paper's baseline.

`read` checks and loads a KCDD file; `declarations` maps its columns onto the generic inputs of
`cbec.risk.features` (the adapter); `published_matrix` is the paper's protocol (Jeong et al.,
arXiv 2208.02484): every categorical label-encoded on train, Net Mass and Item Price min-max scaled
on train. `evaluate` trains both and a random ranking over seeds and measures them on a test file.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from cbec.risk.evaluation import Run, measures, summarize
from cbec.risk.features import FeatureSpec, build_features
from cbec.risk.model import RiskModel

COLUMNS = (
    "Declaration ID", "Date", "Office ID", "Process Type", "Import Type", "Import Use",
    "Payment Type", "Mode of Transport", "Declarant ID", "Importer ID", "Seller ID", "Courier ID",
    "HS6 Code", "Country of Departure", "Country of Origin", "Tax Rate", "Tax Type",
    "Country of Origin Indicator", "Net Mass", "Item Price", "Fraud", "Critical Fraud",
)  # fmt: skip
NUMBERS = ("Tax Rate", "Net Mass", "Item Price")
SCALED = ("Net Mass", "Item Price")
# Everything else but the key, the date and the two labels is a category in the paper.
CATEGORIES = tuple(
    c for c in COLUMNS if c not in (*SCALED, "Declaration ID", "Date", "Fraud", "Critical Fraud")
)

# Entities the adapter maps whose fraud history the engine can use on KCDD. Each one, alone or all
# together, lowered AUC and P@10 on the validation split (docs/risk.md, "What did not help"), so
# `SPEC` leaves them out; `FeatureSpec(entities=HISTORY_ENTITIES, ...)` puts them back.
HISTORY_ENTITIES = (
    "importer", "declarant", "seller", "hs_code", "importer_hs", "declarant_hs", "route",
)  # fmt: skip
SPEC = FeatureSpec(
    entities=(),
    categoricals=(
        "office", "process_type", "import_type", "import_use", "payment_type", "transport",
        "tax_type", "origin_indicator", "origin", "departure", "hs2",
    ),
    numerics=("tax_rate",),
)  # fmt: skip


class KcddError(ValueError):
    """A KCDD file that cannot be used: missing, unreadable, or not the expected columns."""


def read(path: Path) -> pa.Table:
    """The KCDD file at `path`: text columns, numbers, dates, and a 0/1 `Fraud` with both values.

    Both values are needed: a model cannot learn, nor an AUC be measured, from one class.
    """
    if not path.is_file():
        raise KcddError(f"{path}: no such file")
    try:
        with path.open(encoding="utf-8") as lines:
            header = lines.readline().rstrip("\r\n").split(",")
    except (OSError, UnicodeDecodeError) as error:
        raise KcddError(f"{path}: cannot read: {error}") from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise KcddError(f"{path}: not a KCDD file, missing columns {', '.join(missing)}")
    types = {c: pa.float64() if c in NUMBERS else pa.string() for c in COLUMNS}
    types["Fraud"] = pa.int64()
    types["Date"] = pa.date32()
    try:
        table = pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(column_types=types, include_columns=COLUMNS)
        )
    except pa.ArrowInvalid as error:
        message = str(error).replace("\n", " ")
        raise KcddError(f"{path}: {message}; fix the row or use the original file") from None
    values = set(pc.unique(table["Fraud"]).to_pylist())
    if values != {0, 1}:
        found = ", ".join(sorted(map(str, values)))
        raise KcddError(f"{path}: Fraud must hold both 0 and 1 and nothing else; found {found}")
    return table


def labels(table: pa.Table) -> np.ndarray:
    return np.asarray(table["Fraud"].to_numpy(zero_copy_only=False), dtype=np.int64)


def declarations(table: pa.Table, with_labels: bool) -> pa.Table:
    """The adapter: KCDD columns under cbec's generic risk input names."""

    def text(name: str) -> pa.ChunkedArray:
        return table[name]

    hs = text("HS6 Code")
    columns = {
        "declaration_id": text("Declaration ID"),
        "decl_day": table["Date"],
        "hs_code": hs,
        "hs4": pc.utf8_slice_codeunits(hs, 0, 4),
        "hs2": pc.utf8_slice_codeunits(hs, 0, 2),
        "declared_value": table["Item Price"],
        "net_weight": table["Net Mass"],
        # KCDD gives no quantity: the unit price is the value per kilogram.
        "quantity": pa.nulls(table.num_rows, pa.float64()),
        "importer": text("Importer ID"),
        "declarant": text("Declarant ID"),
        "seller": text("Seller ID"),
        "courier": text("Courier ID"),
        "office": text("Office ID"),
        "origin": text("Country of Origin"),
        "departure": text("Country of Departure"),
        "route": pc.binary_join_element_wise(
            text("Country of Departure"), text("Country of Origin"), text("Mode of Transport"), "-"
        ),
        "importer_hs": pc.binary_join_element_wise(text("Importer ID"), hs, "-"),
        "declarant_hs": pc.binary_join_element_wise(text("Declarant ID"), hs, "-"),
        "process_type": text("Process Type"),
        "import_type": text("Import Type"),
        "import_use": text("Import Use"),
        "payment_type": text("Payment Type"),
        "transport": text("Mode of Transport"),
        "tax_type": text("Tax Type"),
        "origin_indicator": text("Country of Origin Indicator"),
        "tax_rate": table["Tax Rate"],
    }
    if with_labels:
        columns["label"] = table["Fraud"]
    return pa.table(columns)


def cbec_features(target: pa.Table, history: Sequence[pa.Table]) -> pa.Table:
    """Features of `target` (a KCDD table), with the outcomes in `history` as what is known.

    `history` may hold `target` itself (training): only outcomes of earlier days are used.
    """
    asked = declarations(target, with_labels=False)
    known = pa.concat_tables([declarations(t, with_labels=True) for t in history])
    features = build_features(ibis.memtable(asked), ibis.memtable(known), SPEC).to_pyarrow()
    # Back to the order of `target`, which the features' joins do not keep.
    order = pc.index_in(asked["declaration_id"], value_set=features["declaration_id"])
    return features.take(order)


def without(table: pa.Table, judged: pa.Table) -> pa.Table:
    """`table` less the declarations of `judged`: the outcomes being judged are never an input."""
    own = pc.is_in(table["Declaration ID"], value_set=judged["Declaration ID"])
    return table.filter(pc.invert(own))


def published_matrix(table: pa.Table, train: pa.Table) -> pa.Table:
    """The paper's inputs: categories coded on `train`, Net Mass and Item Price min-max scaled."""
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name in SCALED:
        low, high = pc.min(train[name]).as_py(), pc.max(train[name]).as_py()
        columns[name] = pc.divide(pc.subtract(table[name], low), high - low or 1.0)
    for name in CATEGORIES:
        columns[name] = pc.fill_null(pc.cast(table[name], pa.string()), "")
    return pa.table(columns)


# The paper ran LightGBM with its defaults; only early stopping on valid is added.
PUBLISHED_PARAMS = {"objective": "binary"}


def evaluate(train: pa.Table, valid: pa.Table, test: pa.Table, seeds: int) -> dict[str, object]:
    """Train on `train`, early-stop on `valid`, measure on `test`, for each seed 0..seeds-1."""
    truth = labels(test)
    runs: dict[str, list[Run]] = {"cbec": [], "published": [], "random": []}

    log("cbec: building features")
    cbec_train = cbec_features(train, [train])
    cbec_valid = cbec_features(valid, [train])
    cbec_test = cbec_features(test, [without(train, test), without(valid, test)])
    numerics = [n for n in SPEC.feature_names() if n not in SPEC.categoricals]
    published = {
        name: published_matrix(t, train)
        for name, t in (("train", train), ("valid", valid), ("test", test))
    }

    for seed in range(seeds):
        log(f"seed {seed}: cbec")
        model = RiskModel(numerics=numerics, categoricals=SPEC.categoricals)
        model.fit(cbec_train, labels(train), cbec_valid, labels(valid), seed)
        runs["cbec"].append(measures(truth, model.score(cbec_test)))

        log(f"seed {seed}: published")
        baseline = RiskModel(
            numerics=SCALED,
            categoricals=CATEGORIES,
            params=PUBLISHED_PARAMS,
            patience=50,
            codes_as_numbers=True,
        )
        baseline.fit(published["train"], labels(train), published["valid"], labels(valid), seed)
        runs["published"].append(measures(truth, baseline.score(published["test"])))

        rng = np.random.default_rng(seed)
        runs["random"].append(measures(truth, rng.random(test.num_rows)))
    return {"models": {name: summarize(model_runs) for name, model_runs in sorted(runs.items())}}


def log(message: str) -> None:
    print(message, file=sys.stderr)
