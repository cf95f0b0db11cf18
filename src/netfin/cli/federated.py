"""``netfin federated …``: federated learning between separate party processes.

``secureboost`` starts one operating-system process per party (the guest and
each host) through ``netfin.privacy.runner.run_parties``; each reads only its
own file, and every message between them is recorded in its audit. Progress
comes from the parties; the report sets the federated AUC beside what a
single owner of all the data would get.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from netfin.cli.common import JsonOption, emit, err, out, refuse
from netfin.core.errors import InvalidInput, LimitExceeded, NetfinError
from netfin.privacy import he
from netfin.privacy.audit import PayloadMode
from netfin.privacy.he.scheme import check_key_bits
from netfin.privacy.horizontal import run_horizontal
from netfin.privacy.psi import run_psi
from netfin.privacy.runner import PartySpec, run_parties
from netfin.privacy.secureboost import (
    BoostParams,
    FeatureBlock,
    PartyTable,
    lightgbm_auc,
    read_party_csv,
    stratified_split,
    train_reference,
)
from netfin.privacy.secureboost.model import HOSTS_MAX

federated_app = typer.Typer(help="Federated learning between separate party processes.", no_args_is_help=True)

SESSION_TIMEOUT_S = 4 * 3600.0
GUEST = "guest"
CENTRALISED_NOTE = (
    "centralised = one owner of all the data (the files pooled in this process); "
    "in production the parties never pool their data"
)


@federated_app.callback()
def federated() -> None:
    """Federated learning: every party in its own process, data never pooled."""


def _tables(guest: Path, hosts: list[Path], id_column: str, target: str) -> dict[str, PartyTable]:
    if not 1 <= len(hosts) <= HOSTS_MAX:
        raise LimitExceeded(f"give 1 to {HOSTS_MAX} hosts, not {len(hosts)}")
    tables = {GUEST: read_party_csv(guest, id_column=id_column, target=target)}
    for i, path in enumerate(hosts, start=1):
        tables[f"host-{i}"] = read_party_csv(path, id_column=id_column)
    return tables


def _centralised(
    tables: Mapping[str, PartyTable], params: BoostParams, test_size: float, seed: int
) -> dict[str, Any]:
    """The same algorithm and LightGBM on the pooled files, with the guest's split of the intersection."""
    ids = sorted(set.intersection(*(set(t.ids) for t in tables.values())))
    order = [GUEST, *sorted(n for n in tables if n != GUEST)]
    blocks = [FeatureBlock(n, tables[n].features, tables[n].values[tables[n].rows_of(ids)]) for n in order]
    labels = tables[GUEST].labels
    if labels is None:
        raise InvalidInput("the guest's file has no target")
    labels = labels[tables[GUEST].rows_of(ids)]
    train, test = stratified_split(labels, test_size, seed)
    reference = train_reference(blocks, labels, train, test, params)
    pooled = np.hstack([b.values for b in blocks])
    lgb_train, lgb_test = lightgbm_auc(pooled, labels, train, test, params, seed)
    return {
        "secureboost_plaintext": {"auc_train": reference.auc_train, "auc_test": reference.auc_test},
        "lightgbm": {"auc_train": lgb_train, "auc_test": lgb_test},
        "note": CENTRALISED_NOTE,
    }


def _specs(
    tables: Mapping[str, PartyTable],
    files: Mapping[str, Path],
    id_column: str,
    target: str,
    out_dir: Path,
    guest_options: Mapping[str, Any],
) -> list[PartySpec]:
    common = {"id_column": id_column}
    guest = {
        **common,
        **guest_options,
        "data": str(files[GUEST].resolve()),
        "target": target,
        "out_dir": str((out_dir / GUEST).resolve()),
    }
    specs = [PartySpec(GUEST, "netfin.privacy.secureboost:guest_party", guest)]
    for name in sorted(n for n in tables if n != GUEST):
        host = {
            **common,
            "data": str(files[name].resolve()),
            "guest": GUEST,
            "out_dir": str((out_dir / name).resolve()),
        }
        specs.append(PartySpec(name, "netfin.privacy.secureboost:host_party", host))
    return specs


def _run(specs: list[PartySpec], audit_dir: Path, payloads: str, trees: int, json: bool) -> dict[str, Any]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, disable=json) as progress:
        task = progress.add_task("starting parties", total=trees)

        def on_progress(name: str, fields: Mapping[str, Any]) -> None:
            if name != GUEST:
                return
            if "tree" in fields:
                progress.update(task, completed=int(fields["tree"]), description="training trees")
            elif "stage" in fields:
                progress.update(task, description=str(fields["stage"]))

        payload_mode: PayloadMode = "full" if payloads == "full" else "digest"
        return run_parties(
            specs,
            audit_dir=audit_dir,
            timeout_s=SESSION_TIMEOUT_S,
            payloads=payload_mode,
            on_progress=on_progress,
        )


def _table(report: Mapping[str, Any]) -> Table:
    table = Table(title="SecureBoost: federated against centralised (same hyperparameters)")
    for column in ("model", "train AUC", "test AUC"):
        table.add_column(column)
    federated, central = report["federated"], report["centralised"]
    rows = [
        ("federated SecureBoost (parties apart)", federated),
        ("centralised, same algorithm and bins*", central["secureboost_plaintext"]),
        ("centralised LightGBM*", central["lightgbm"]),
    ]
    for name, m in rows:
        table.add_row(name, f"{m['auc_train']:.4f}", f"{m['auc_test']:.4f}")
    return table


def _check_options(scheme: str, key_bits: int, audit_payloads: str, test_size: float) -> None:
    if scheme not in he.SCHEMES:
        raise InvalidInput(f"--scheme must be one of {', '.join(he.SCHEMES)}, not {scheme!r}")
    check_key_bits(key_bits)
    if audit_payloads not in ("full", "digest"):
        raise InvalidInput(f"--audit-payloads must be full or digest, not {audit_payloads!r}")
    if not (math.isfinite(test_size) and 0 < test_size <= 0.9):
        raise InvalidInput(f"--test-size must lie in (0, 0.9], not {test_size}")


@federated_app.command("secureboost")
def secureboost(
    guest: Path = typer.Option(..., "--guest", help="The guest's CSV: ids, the binary target, its features."),
    host: list[Path] = typer.Option(
        ..., "--host", help="A host's CSV: ids and its features (repeat per host)."
    ),
    id_column: str = typer.Option(..., "--id", help="The id column, in every file."),
    target: str = typer.Option(..., "--target", help="The guest's binary (0/1) target column."),
    trees: int = typer.Option(10, "--trees", help="Trees to grow."),
    depth: int = typer.Option(4, "--depth", help="Depth of each tree."),
    learning_rate: float = typer.Option(0.3, "--learning-rate", help="Shrinkage of each tree."),
    bins: int = typer.Option(32, "--bins", help="Quantile bins per feature (each party bins its own)."),
    scheme: str = typer.Option(
        he.DEFAULT_SCHEME, "--scheme", help="Homomorphic encryption: ou, paillier or phe."
    ),
    key_bits: int = typer.Option(2048, "--key-bits", help="Modulus size; at least 2048."),
    test_size: float = typer.Option(
        0.3, "--test-size", help="Share of the intersection held out for the AUC."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the guest's stratified split."),
    audit_dir: Path | None = typer.Option(None, "--audit-dir", help="Message audits (default: OUT/audit)."),
    audit_payloads: str = typer.Option(
        "full", "--audit-payloads", help="full (payloads) or digest (hashes)."
    ),
    out_dir: Path = typer.Option(
        Path("secureboost-out"), "--out", help="Each party's model under OUT/PARTY/."
    ),
    json: bool = JsonOption,
) -> None:
    """Train SecureBoost with one process per party, then compare with a centralised baseline.

    The guest holds the labels and the private key; hosts see only encrypted
    gradients. The centralised baseline (the same algorithm, and LightGBM) is
    computed by this command's own process from the same files, as a single
    owner of all the data would get it; in production the parties never pool
    their data, and each would run only its own process.
    """
    try:
        _check_options(scheme, key_bits, audit_payloads, test_size)
        params = BoostParams(trees=trees, depth=depth, learning_rate=learning_rate, max_bin=bins)
        tables = _tables(guest, host, id_column, target)
        files = {GUEST: guest, **{f"host-{i}": p for i, p in enumerate(host, start=1)}}
        options = {
            "params": params.to_json(),
            "scheme": scheme,
            "key_bits": key_bits,
            "test_size": test_size,
            "seed": seed,
        }
        specs = _specs(tables, files, id_column, target, out_dir, options)
        results = _run(specs, audit_dir or out_dir / "audit", audit_payloads, trees, json)
        report = {
            "federated": results[GUEST],
            "hosts": {n: r for n, r in results.items() if n != GUEST},
            "centralised": _centralised(tables, params, test_size, seed),
            "audit_dir": str(audit_dir or out_dir / "audit"),
        }
    except NetfinError as error:
        refuse(error, json)
    if json:
        emit(report)
        return
    out.print(_table(report))
    summary = report["federated"]
    out.print(f"* {CENTRALISED_NOTE}.")
    out.print(
        f"model {summary['model_id']}: {summary['rows']['intersection']:,} shared ids, "
        f"{summary['seconds']:.1f} s, scheme {summary['scheme']} ({summary['key_bits']} bits); "
        f"models under {out_dir}/<party>/, audits in {report['audit_dir']}"
    )


def _party_files(entries: list[str]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for entry in entries:
        name, sep, path = entry.partition("=")
        if not sep or not name or not path:
            raise InvalidInput(f"--party takes NAME=FILE, not {entry!r}", code="party_invalid")
        if name in files:
            raise InvalidInput(f"party {name!r} is named twice", code="party_invalid")
        files[name] = Path(path)
    return files


@federated_app.command("psi")
def psi_command(
    party: list[str] = typer.Option(..., "--party", help="NAME=FILE, one per party (CSV with a header row)."),
    id_column: str = typer.Option(..., "--id", help="The id column, in every file."),
    leader: str = typer.Option(
        ..., "--leader", help="The party that leads (the bank): it learns the pairwise intersections."
    ),
    out_dir: Path | None = typer.Option(
        None, "--out", help="Each party writes the intersection to OUT/PARTY.csv."
    ),
    audit_dir: Path = typer.Option(Path("psi-audit"), "--audit-dir", help="Each party's message audit."),
    audit_payloads: str = typer.Option(
        "full", "--audit-payloads", help="full (payloads) or digest (hashes)."
    ),
    timeout_s: float = typer.Option(3600.0, "--timeout", help="Seconds before the session is stopped."),
    json: bool = JsonOption,
) -> None:
    """Private set intersection (ECDH over Curve25519): every party learns only the global intersection.

    One process per party, each reading only its own file; sizes and timings are
    reported, never an id.
    """
    try:
        files = _party_files(party)
        if leader not in files:
            raise InvalidInput(f"the leader {leader!r} is not one of the parties", code="party_invalid")
        if audit_payloads not in ("full", "digest"):
            raise InvalidInput("--audit-payloads must be full or digest", code="audit_payloads_invalid")
        payloads: PayloadMode = "full" if audit_payloads == "full" else "digest"
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, disable=json) as progress:
            task = progress.add_task("blinding ids", total=None)

            def on_progress(name: str, fields: Mapping[str, Any]) -> None:
                if name == leader and "points_total" in fields:
                    progress.update(
                        task,
                        completed=int(fields.get("points_blinded", 0)),
                        total=int(fields["points_total"]),
                    )

            summary = run_psi(
                files,
                id_column=id_column,
                leader=leader,
                audit_dir=audit_dir,
                out_dir=out_dir,
                timeout_s=timeout_s,
                payloads=payloads,
                on_progress=on_progress,
            )
    except NetfinError as error:
        refuse(error, json)
    if json:
        emit(summary)
        return
    table = Table(title=f"PSI: {summary['intersection']:,} ids in common")
    for column in ("party", "role", "input ids", "intersection", "protocol s"):
        table.add_column(column)
    for p in summary["parties"]:
        table.add_row(
            p["party"], p["role"], f"{p['input']:,}", f"{p['intersection']:,}", f"{p['protocol_s']:.1f}"
        )
    out.print(table)
    out.print(f"audits in {audit_dir}" + (f"; intersections in {out_dir}" if out_dir else ""))


@federated_app.command("fedavg")
def fedavg_command(
    bank: list[Path] = typer.Option(
        ..., "--bank", help="A bank's CSV (id, y, x0 ..), one per bank, same columns."
    ),
    test: Path = typer.Option(..., "--test", help="Held-out CSV for the AUC (same columns)."),
    rounds: int = typer.Option(5, "--rounds", min=1, max=100, help="Federated rounds."),
    local_epochs: int = typer.Option(3, "--local-epochs", min=1, max=50),
    secagg: bool = typer.Option(True, "--secagg/--no-secagg", help="Secure aggregation (SecAgg+)."),
    audit_dir: Path = typer.Option(Path("fedavg-audit"), "--audit-dir", help="Each bank's message audit."),
    timeout_s: float = typer.Option(900.0, "--timeout", help="Seconds before every process is stopped."),
    json: bool = JsonOption,
) -> None:
    """Horizontal FedAvg of a logistic credit model on Flower, the server seeing only the sum (SecAgg+)."""
    try:
        with (
            err.status("training (Flower runs in its own environment)", spinner="dots")
            if not json
            else _quiet()
        ):
            summary = run_horizontal(
                bank,
                test,
                rounds=rounds,
                local_epochs=local_epochs,
                secagg=secagg,
                audit_dir=audit_dir,
                timeout_s=timeout_s,
            )
    except NetfinError as error:
        refuse(error, json)
    if json:
        emit(summary)
        return
    table = Table(title=f"FedAvg{' + SecAgg+' if secagg else ''}: test AUC per round")
    for column in ("round", "banks", "AUC"):
        table.add_column(column)
    for number, r in enumerate(summary["per_round"], start=1):
        table.add_row(str(number), str(r["clients"]), f"{r['auc_test']:.4f}")
    out.print(table)
    out.print(f"final AUC {summary['auc_test']:.4f} in {summary['wall_s']:.0f} s; audits in {audit_dir}")


def _quiet() -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()
