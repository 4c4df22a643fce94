"""The `cbec` command: simulate traffic, clear it, show the policy in force."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cbec.cli_enterprise import enterprise_app
from cbec.cli_exports import exports_app
from cbec.cli_ledgers import guarantee_app, tax_app, warehouse_app
from cbec.cli_messages import message_app
from cbec.cli_options import MasterOption
from cbec.cli_outcomes import enterprise_credit, inspect_app, review_app, risk_seed, risk_train
from cbec.cli_output import console, errors, fail
from cbec.cli_risk import risk_app
from cbec.cli_serve import serve
from cbec.cli_stats import report, simulate_history, stats
from cbec.cli_store import StoreOption, store_app, target
from cbec.cli_whatif import policy_diff, whatif
from cbec.policy.errors import PolicyDataError
from cbec.store import DEFAULT_MEMORY_LIMIT

if TYPE_CHECKING:
    from cbec.pipeline import ClearResult, Policy
    from cbec.receipts import ReceiptSigner
    from cbec.store.embedded import Store

app = typer.Typer(
    help="cbec clears cross-border e-commerce parcels through customs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
policy_app = typer.Typer(help="The rules in force: dated parameters, positive list, tariff.")
app.add_typer(policy_app, name="policy")
app.add_typer(enterprise_app, name="enterprise")
app.add_typer(message_app, name="message")
app.add_typer(tax_app, name="tax")
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(guarantee_app, name="guarantee")
app.add_typer(risk_app, name="risk")
app.add_typer(exports_app, name="exports")
app.add_typer(inspect_app, name="inspect")
app.add_typer(review_app, name="review")
app.add_typer(store_app, name="store")
risk_app.command("train")(risk_train)
risk_app.command("seed")(risk_seed)
enterprise_app.command("credit")(enterprise_credit)
policy_app.command("diff")(policy_diff)
app.command("whatif")(whatif)
app.command("stats")(stats)
app.command("report")(report)
app.command("simulate-history")(simulate_history)
app.command("serve")(serve)


def _parse_day(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} {text!r} is not a date; write YYYY-MM-DD") from None


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the documents to.")],
    parcels: Annotated[
        int, typer.Option("--parcels", min=1, help="Declarations to generate.")
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same day.")] = 1,
    date: Annotated[
        str, typer.Option("--date", help="Day of the traffic, YYYY-MM-DD.")
    ] = "2024-06-15",
    defect_rate: Annotated[
        float, typer.Option("--defect-rate", min=0.0, max=1.0, help="Share of defective parcels.")
    ] = 0.05,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="parquet: one file per document family; "
            "xml: CEB messages, one per file, in sending order.",
        ),
    ] = "parquet",
    nodes_per_message: Annotated[
        int,
        typer.Option(
            "--nodes-per-message", min=1, help="Business nodes per CEB message (--format xml)."
        ),
    ] = 50,
    exports: Annotated[
        int,
        typer.Option("--exports", min=0, help="Export lists too, as CEB messages in OUT/exports."),
    ] = 0,
) -> None:
    """Write a realistic day of retail-import documents (and its ground truth) as Parquet, or as
    the CEB messages the enterprises send."""
    from cbec.simulate import simulate_day

    output_format = output_format.lower()
    if output_format not in ("parquet", "xml"):
        raise fail(f"--format {output_format!r} is not a format; write parquet or xml")
    day = _parse_day(date, "--date")
    started = time.perf_counter()
    if exports:
        from cbec.cli_exports import simulate_exports

        simulate_exports(exports, seed, day, out, nodes_per_message)
    if output_format == "xml":
        from rich.progress import TaskID

        from cbec.simulate.messages import simulate_messages

        with _progress() as bar:
            tasks: dict[str, TaskID] = {}

            def advance(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.advance(tasks[stage], done)

            written = simulate_messages(
                parcels=parcels,
                seed=seed,
                day=day,
                out=out,
                defect_rate=defect_rate,
                nodes_per_message=nodes_per_message,
                progress=advance,
            )
        seconds = time.perf_counter() - started
        counts = ", ".join(f"{n:,} CEB{code}" for code, n in written.messages.items())
        console.print(
            f"Wrote {parcels:,} parcels for {day} to {out} in {seconds:.1f} s "
            f"({written.simulation.injected:,} with an injected defect): "
            f"{written.files:,} messages ({counts})."
        )
        return
    from cbec.simulate.messages import remove_messages

    remove_messages(out)  # those of an earlier --format xml run: the folder holds one day
    with _progress() as bar:
        task = bar.add_task("simulating", total=parcels)
        summary = simulate_day(
            parcels=parcels,
            seed=seed,
            day=day,
            out=out,
            defect_rate=defect_rate,
            progress=lambda n: bar.advance(task, n),
        )
    seconds = time.perf_counter() - started
    console.print(
        f"Wrote {parcels:,} parcels for {day} to {out} in {seconds:.1f} s "
        f"({summary.injected:,} with an injected defect)."
    )


@app.command()
def clear(
    folders: Annotated[
        list[Path],
        typer.Argument(
            help="Folders of documents (Parquet or JSONL) and folders or files of CEB XML messages."
        ),
    ],
    db: Annotated[Path, typer.Option("--db", help="The store (a DuckDB file).")] = Path(
        "cbec.duckdb"
    ),
    store_url: StoreOption = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for decisions and tax lines.")] = Path(
        "out"
    ),
    tariff: Annotated[
        Path | None, typer.Option("--tariff", help="Tariff CSV replacing the shipped sample.")
    ] = None,
    positive_list: Annotated[
        Path | None,
        typer.Option("--positive-list", help="Positive-list CSV replacing the shipped sample."),
    ] = None,
    pilot_zones: Annotated[
        Path | None,
        typer.Option(
            "--pilot-zones",
            help="Pilot-zone CSV (where 1210 may clear) replacing the shipped sample.",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Decision time (ISO 8601); default: each declaration's own."),
    ] = None,
    memory_limit: Annotated[
        str,
        typer.Option(
            "--memory-limit",
            envvar="CBEC_MEMORY_LIMIT",
            help="Memory the engine may use before it spills to disk beside the store.",
        ),
    ] = DEFAULT_MEMORY_LIMIT,
    require_signatures: Annotated[
        bool,
        typer.Option(
            "--require-signatures",
            help="Every declared CEB message (appStatus 2) must carry a signature that verifies, "
            "also from senders without a registered certificate.",
        ),
    ] = False,
    sign_key: Annotated[
        Path | None,
        typer.Option("--sign-key", help="The platform's private key (PEM): sign every receipt."),
    ] = None,
    sign_cert: Annotated[
        Path | None,
        typer.Option("--sign-cert", help="The certificate (PEM) of --sign-key."),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="duckdb: in this process (the default); spark: on the Spark cluster of --master "
            "(folders of Parquet documents on a path every worker reads).",
        ),
    ] = "duckdb",
    master: MasterOption = "local[2]",
) -> None:
    """Clear declarations: check, match, limits, tax, decide; store and write the results."""
    from cbec.documents.reading import UnreadableInput
    from cbec.engines.spark import SparkError
    from cbec.pipeline import EngineInputError, NothingToClear, Policy
    from cbec.store import open_store
    from cbec.store.embedded import StoreError
    from cbec.store.postgres import retrying

    if engine not in ("duckdb", "spark"):
        raise fail(f"--engine {engine!r}: choose duckdb or spark")

    decision_time = None
    if as_of is not None:
        try:
            decision_time = dt.datetime.fromisoformat(as_of).replace(tzinfo=None)
        except ValueError:
            raise fail(f"--as-of {as_of!r} is not a time; write e.g. 2024-06-15T18:00:00") from None
    for folder in folders:
        if not folder.exists():
            raise fail(
                f"{folder}: no such file or folder. Give folders holding inventories.parquet "
                "etc., or CEB XML message files."
            )
    signer = _receipt_signer(sign_key, sign_cert)
    try:
        policy = Policy.load(tariff, positive_list, pilot_zones)
    except PolicyDataError as exc:
        raise fail(str(exc)) from None
    try:
        store = open_store(target(db, store_url), memory_limit=memory_limit)
    except StoreError as exc:
        raise fail(str(exc)) from None
    started = time.perf_counter()
    try:
        with _progress() as bar:
            steps = 7
            task = bar.add_task("clearing", total=steps)

            def advance(label: str) -> None:
                bar.update(task, description=label, advance=1)

            result = retrying(  # again on fresh history if another process committed first
                store,
                lambda: _run_clear(
                    engine,
                    master,
                    folders,
                    store,
                    out,
                    policy,
                    as_of=decision_time,
                    progress=advance,
                    require_signatures=require_signatures,
                    receipt_signer=signer,
                ),
            )
            bar.update(task, completed=steps, description="done")
    except NothingToClear as exc:
        raise fail(f"{exc}; nothing was written") from None
    except EngineInputError as exc:
        raise fail(f"{exc}; nothing was written") from None
    except (UnreadableInput, StoreError, SparkError) as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    seconds = time.perf_counter() - started
    _print_errors(result.errors)
    _print_summary(result, seconds, out)


def _run_clear(
    engine: str,
    master: str,
    folders: list[Path],
    store: Store,
    out: Path,
    policy: Policy,
    **options: Any,
) -> ClearResult:
    """`pipeline.clear` on the chosen engine: the one place that picks it."""
    from cbec.pipeline import clear as run

    if engine == "duckdb":
        return run(folders, store, out, policy, **options)
    from cbec.engines.spark import spark_engine

    with spark_engine(store, master) as spark:
        return run(folders, store, out, policy, **options, engine=spark)


def _receipt_signer(key: Path | None, cert: Path | None) -> ReceiptSigner | None:
    """The platform's signing key for receipts, checked before anything is cleared."""
    from cbec.messages.signatures import sign_message
    from cbec.receipts import ReceiptSigner

    if key is None and cert is None:
        return None
    if key is None or cert is None:
        raise fail("give both --sign-key and --sign-cert, or neither")
    try:
        signer = ReceiptSigner(key.read_bytes(), cert.read_bytes())
        probe = b'<ceb:CEB900Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="x"/>'
        sign_message(probe, signer.key_pem, signer.cert_pem)
    except OSError as exc:
        raise fail(f"cannot read the signing key or certificate: {exc}") from None
    except ValueError as exc:
        raise fail(f"--sign-key/--sign-cert cannot sign: {exc}") from None
    return signer


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<24}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=errors,
        transient=False,
    )


def _print_errors(row_errors: Sequence[object]) -> None:
    if not row_errors:
        return
    errors.print(f"[yellow]{len(row_errors):,} input value(s) could not be read:[/]")
    for error in row_errors[:20]:
        errors.print(f"  {error}", highlight=False)
    if len(row_errors) > 20:
        errors.print(f"  … and {len(row_errors) - 20:,} more")


def _print_summary(result: object, seconds: float, out: Path) -> None:
    from cbec.pipeline import ClearResult

    assert isinstance(result, ClearResult)
    summary = result.summary
    names = {800: "released", 100: "rejected"}
    status_table = Table(title="Decisions", title_justify="left")
    status_table.add_column("status")
    status_table.add_column("", style="dim")
    status_table.add_column("declarations", justify="right")
    for status, count in sorted(summary.by_status.items()):
        status_table.add_row(str(status), names.get(status, ""), f"{count:,}")
    console.print(status_table)
    if summary.by_reason:
        reason_table = Table(title="Reasons for rejection", title_justify="left")
        reason_table.add_column("reason")
        reason_table.add_column("declarations", justify="right")
        for reason, count in summary.by_reason.items():
            reason_table.add_row(reason, f"{count:,}")
        console.print(reason_table)
    tax_table = Table(title="Released: value and tax (CNY)", title_justify="left")
    tax_table.add_column("")
    tax_table.add_column("amount", justify="right")
    for label, value in (
        ("dutiable value", summary.dutiable_value),
        ("customs duty", summary.customs_tax),
        ("VAT", summary.value_added_tax),
        ("consumption tax", summary.consumption_tax),
        ("tax total", summary.tax_total),
    ):
        tax_table.add_row(label, f"{value:,.2f}")
    console.print(tax_table)
    if result.export_by_mode:
        _print_exports(result.export_by_mode)
    if result.messages:
        console.print(
            f"{result.messages:,} CEB message(s) read, {result.unreadable_messages:,} unreadable "
            f"(answered with CEB900); {result.receipts:,} receipt(s) in {out}/receipts/."
        )
    rate = result.declarations / seconds if seconds > 0 else 0.0
    console.print(
        f"{result.declarations:,} declarations answered ({result.new_declarations:,} new) in "
        f"{seconds:.1f} s: {rate:,.0f} parcels per second. Results in {out}/."
    )


def _print_exports(by_mode: dict[tuple[str, int], int]) -> None:
    """Export lists answered, released (800) and rejected (100) per trade mode."""
    table = Table(title="Export lists", title_justify="left")
    table.add_column("trade mode")
    for column in ("released", "rejected", "lists"):
        table.add_column(column, justify="right")
    for mode in sorted({m for m, _ in by_mode}):
        released, rejected = by_mode.get((mode, 800), 0), by_mode.get((mode, 100), 0)
        total = sum(n for (m, _), n in by_mode.items() if m == mode)
        table.add_row(mode, f"{released:,}", f"{rejected:,}", f"{total:,}")
    console.print(table)


@policy_app.command("show")
def policy_show(
    date: Annotated[str, typer.Option("--date", help="Day, YYYY-MM-DD; default today.")] = "",
) -> None:
    """Print the parameters in force on a date, with their legal references."""
    from cbec.policy.lists import load_positive_list, load_tariff
    from cbec.policy.parameters import load_parameters

    day = _parse_day(date, "--date") if date else dt.date.today()
    try:
        parameters = load_parameters()
        plist = load_positive_list()
        tariff = load_tariff()
    except PolicyDataError as exc:
        raise fail(str(exc)) from None
    table = Table(title=f"Retail-import policy in force on {day}", title_justify="left")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("since")
    table.add_column("reference")
    for name, parameter in sorted(parameters.items()):
        dated = parameter.at(day)
        if dated is None:
            table.add_row(name, "-", parameter.unit, "not yet in force", "")
        else:
            table.add_row(
                name, f"{dated.value:f}", parameter.unit, str(dated.since), dated.reference
            )
    console.print(table)

    def valid(rows: object) -> int:
        import pyarrow as pa

        assert isinstance(rows, pa.Table)
        return sum(
            1
            for since, until in zip(
                rows["valid_from"].to_pylist(), rows["valid_to"].to_pylist(), strict=True
            )
            if (since is None or since <= day) and (until is None or day < until)
        )

    console.print(
        f"Positive list: {valid(plist):,} rows in force (shipped sample). "
        f"Tariff: {valid(tariff):,} rows in force (shipped sample)."
    )


if __name__ == "__main__":
    app()
