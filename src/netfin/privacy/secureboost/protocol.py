"""The SecureBoost session: ``guest_party`` (labels, keys, tree structure) and ``host_party``.

Both run in their own process under ``netfin.privacy.runner.run_parties`` and
read only their own CSV file. Steps:

1. PSI (``netfin.privacy.psi.intersect``, the guest leads) aligns the ids;
   the guest splits the intersection into training and test rows (stratified,
   seeded) and sends each host the positions of both parts, its public key,
   the hyperparameters and the gradient packing layout. The host bins its own
   features on the training rows and answers with its feature and bucket
   counts (no names, no cut points).
2. Per tree the guest encrypts one packed ``(g, h, 1)`` plaintext per training
   row once and sends the ciphertexts to every host.
3. Per level the guest asks each host for the histograms of the nodes it
   needs (the smaller child of each split; the sibling is parent minus it),
   with the training rows of those nodes. The host sums the ciphertexts per
   (node, feature, bucket) with heu's bucket sums, packs ``slots`` bucket sums
   into one ciphertext, re-randomises each (adds a fresh encryption of zero)
   and returns them. The guest alone decrypts, with a range check.
4. The guest finds the best split over every party's features. If a host owns
   it, the guest sends (node, feature index, bin, side of missing values) and
   the node's rows; the host records the split in its lookup table (the
   threshold stays there) and returns the record id and which of the rows go
   left, as a bit mask.
5. After the last tree the guest scores the test rows by walking the trees;
   at a host's node it asks that host, level by level for all trees at once,
   which way the rows go. The guest evaluates AUC on its labels and every
   party saves its own part of the model as JSON.

What each side learns (semi-honest parties): the guest learns, for every
split a host owns, which rows of that node go left (a host feature's order
on those customers, up to the threshold), and for every node it asks about,
how many rows fall in each of a host's buckets; a host learns which training
rows sit in each node of each tree it is asked about (the partition the
guest's and other hosts' splits make) and which test rows reach its own
nodes. No party sees another's feature values, thresholds, labels or
gradients in the clear. A host refuses histogram requests for nodes of fewer
than ``min_data_in_leaf`` rows, and a ``min_data_in_leaf`` below its own floor.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from netfin.core.errors import InvalidInput
from netfin.core.ids import Uuid7Ids, format_id
from netfin.privacy import he, psi
from netfin.privacy.he.scheme import KEY_BITS_MIN, AdditiveScheme, Ciphertexts, check_key_bits
from netfin.privacy.progress import report_progress
from netfin.privacy.secureboost.binning import bin_features
from netfin.privacy.secureboost.boosting import auc, boost
from netfin.privacy.secureboost.data import PartyTable, read_party_csv, stratified_split
from netfin.privacy.secureboost.histogram import GhLayout, IntArray, unpack_slots
from netfin.privacy.secureboost.model import (
    FEATURES_MAX,
    BoostParams,
    Tree,
    guest_model_json,
    host_model_json,
)
from netfin.privacy.secureboost.tree import BoolArray, LocalOwner, SplitOrder, SplitOwner, predict
from netfin.privacy.secureboost.wire import (
    KIND_COMMAND,
    KIND_DIRECTIONS,
    KIND_DONE,
    KIND_HISTOGRAMS,
    KIND_READY,
    KIND_SETUP,
    KIND_SPLITS,
    blob,
    int_array,
    json_int,
    json_str,
    pack_masks,
    ragged,
    unpack_masks,
    unragged,
)
from netfin.privacy.transport import Party, ProtocolError

INTERSECTION_ROWS_MIN = 10
HOST_NODE_ROWS_FLOOR = 10
DEFAULT_THREADS = 2


@dataclass
class Clock:
    """Seconds spent per activity in this party."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def to_json(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in sorted(self.seconds.items())}


def _save(path: Path, document: Mapping[str, Any]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return str(path)


# ---------------------------------------------------------------- the guest's view of a host


@dataclass
class RemoteOwner:
    """A host's features, reached over the session: encrypted histograms in, splits out."""

    party: Party
    name: str
    scheme: AdditiveScheme
    layout: GhLayout
    slots: int
    features: int
    bucket_count: int
    clock: Clock
    _asked: list[Any] = field(default_factory=list)

    def _send(self, message: Mapping[str, Any]) -> None:
        with self.clock.measure("send"):
            self.party.send(self.name, KIND_COMMAND, message)

    def _recv(self, kind: str) -> dict[str, Any]:
        with self.clock.measure("wait_hosts"):
            return self.party.recv(self.name, kind)

    def send_gradients(self, tree: int, payload: bytes, count: int) -> None:
        self._send({"op": "tree", "tree": tree, "count": count, "gh": payload})

    def request_histograms(self, nodes: Sequence[tuple[int, IntArray]]) -> None:
        self._asked = [n for n, _ in nodes]
        ids = np.array(self._asked, dtype=np.int64)
        self._send({"op": "histograms", "nodes": ids, **ragged([rows for _, rows in nodes])})

    def collect_histograms(self) -> list[IntArray]:
        reply = self._recv(KIND_HISTOGRAMS)
        if int_array(reply, "nodes", size=len(self._asked)).tolist() != self._asked:
            raise ProtocolError(f"{self.name} answered for other nodes")
        total = len(self._asked) * self.features * self.bucket_count
        count = json_int(reply, "count", 1, total)
        if count != -(-total // self.slots):
            raise ProtocolError(f"{self.name} sent {count} packed ciphertexts for {total} buckets")
        with self.clock.measure("decrypt"):
            packed = self.scheme.from_bytes(blob(reply, "packed"), count)
            plain = self.scheme.decrypt_batch(packed, bits=self.slots * self.layout.slot_bits)
        with self.clock.measure("unpack"):
            values = unpack_slots(plain, slots=self.slots, slot_bits=self.layout.slot_bits, total=total)
            decoded = self.layout.decode(values).reshape(
                len(self._asked), self.features, self.bucket_count, 3
            )
        return [decoded[i] for i in range(len(self._asked))]

    def request_splits(self, orders: Sequence[SplitOrder]) -> None:
        self._asked = [o.rows.size for o in orders]
        self._send({
            "op": "splits",
            "nodes": np.array([o.node for o in orders], dtype=np.int64),
            "features": np.array([o.feature for o in orders], dtype=np.int64),
            "bins": np.array([o.bin for o in orders], dtype=np.int64),
            "missing_left": np.array([o.missing_left for o in orders], dtype=np.uint8),
            **ragged([o.rows for o in orders]),
        })  # fmt: skip

    def collect_splits(self) -> list[tuple[int, BoolArray]]:
        reply = self._recv(KIND_SPLITS)
        records = int_array(reply, "records", size=len(self._asked)).tolist()
        return list(zip(records, unpack_masks(reply, "left", self._asked), strict=True))

    def request_directions(self, queries: Sequence[tuple[int, IntArray]]) -> None:
        self._asked = [rows.size for _, rows in queries]
        records = np.array([r for r, _ in queries], dtype=np.int64)
        self._send({"op": "directions", "records": records, **ragged([rows for _, rows in queries])})

    def collect_directions(self) -> list[BoolArray]:
        return unpack_masks(self._recv(KIND_DIRECTIONS), "left", self._asked)

    def finish(self, model_id: str) -> int:
        self._send({"op": "done", "model_id": model_id})
        return json_int(self._recv(KIND_DONE), "records", 0, 1 << 30)


# ---------------------------------------------------------------- the guest


@dataclass(frozen=True)
class GuestConfig:
    data: Path
    id_column: str
    target: str
    out_dir: Path
    params: BoostParams = field(default_factory=BoostParams)
    scheme: str = he.DEFAULT_SCHEME
    key_bits: int = 2048
    test_size: float = 0.3
    seed: int = 7
    threads: int = DEFAULT_THREADS


def guest_party(
    party: Party,
    *,
    data: str,
    id_column: str,
    target: str,
    out_dir: str,
    params: Mapping[str, Any] | None = None,
    scheme: str = he.DEFAULT_SCHEME,
    key_bits: int = 2048,
    test_size: float = 0.3,
    seed: int = 7,
    threads: int = DEFAULT_THREADS,
) -> dict[str, Any]:
    """The guest's protocol function for ``run_parties``; returns a summary (no data)."""
    config = GuestConfig(
        data=Path(data),
        id_column=id_column,
        target=target,
        out_dir=Path(out_dir),
        params=BoostParams.from_json(params or {}),
        scheme=scheme,
        key_bits=key_bits,
        test_size=test_size,
        seed=seed,
        threads=threads,
    )
    return run_guest(party, config)


def _hosts_ready(
    party: Party, scheme: AdditiveScheme, config: GuestConfig, setup: Mapping[str, Any], clock: Clock
) -> list[RemoteOwner]:
    layout = GhLayout.from_json(setup["layout"])
    owners = []
    for host in party.peers:
        with clock.measure("send"):
            party.send(host, KIND_SETUP, setup)
    for host in party.peers:
        with clock.measure("wait_hosts"):
            ready = party.recv(host, KIND_READY)
        features = json_int(ready, "features", 1, FEATURES_MAX)
        buckets = json_int(ready, "bucket_count", 2, config.params.max_bin + 1)
        owners.append(RemoteOwner(party, host, scheme, layout, int(setup["slots"]), features, buckets, clock))
    return owners


def run_guest(party: Party, config: GuestConfig, *, key_bits_min: int = KEY_BITS_MIN) -> dict[str, Any]:
    """Train with every peer of ``party`` as a host; ``key_bits_min`` is lowered only by tests."""
    clock, started = Clock(), time.perf_counter()
    params = config.params
    if config.scheme not in he.SCHEMES:
        raise InvalidInput(f"unknown scheme {config.scheme!r}; choose one of {', '.join(he.SCHEMES)}")
    check_key_bits(config.key_bits, key_bits_min=key_bits_min)
    table = read_party_csv(config.data, id_column=config.id_column, target=config.target)
    report_progress(stage="psi")
    with clock.measure("psi"):
        ids = psi.intersect(party, table.ids, leader=party.name)
    if len(ids) < INTERSECTION_ROWS_MIN:
        raise InvalidInput(f"the parties share only {len(ids)} ids, fewer than {INTERSECTION_ROWS_MIN}")
    if table.labels is None:
        raise InvalidInput("the guest's table has no labels")
    rows = table.rows_of(ids)
    labels, values = table.labels[rows], table.values[rows]
    train, test = stratified_split(labels, config.test_size, config.seed)
    with clock.measure("keygen"):
        scheme = he.keygen(config.scheme, config.key_bits, key_bits_min=key_bits_min, threads=config.threads)
    layout = GhLayout(int(train.size))
    slots = scheme.plaintext_bits // layout.slot_bits
    if slots < 1:
        raise InvalidInput(f"a {config.key_bits}-bit {config.scheme} key cannot hold one histogram slot")
    model_id = format_id(Uuid7Ids().new_id())
    setup = {
        "model_id": model_id, "scheme": scheme.name, "public_key": scheme.public_key(),
        "params": params.to_json(), "train": train, "test": test, "layout": layout.to_json(), "slots": slots,
    }  # fmt: skip
    report_progress(stage="setup")
    remotes = _hosts_ready(party, scheme, config, setup, clock)
    local = LocalOwner(party.name, bin_features(table.features, values[train], params.max_bin), values[test])
    tree_seconds: list[float] = []
    trees, base, train_scores = _train(
        local, remotes, scheme, layout, labels[train], params, clock, tree_seconds
    )
    report_progress(stage="predict")
    owners: dict[str, SplitOwner] = {local.name: local, **{r.name: r for r in remotes}}
    with clock.measure("predict"):
        test_scores = predict(trees, owners, int(test.size), base, params.depth)
    records = {r.name: r.finish(model_id) for r in remotes}
    model = guest_model_json(
        model_id=model_id, party=party.name, hosts=[r.name for r in remotes], params=params,
        base_score=base, trees=trees, records=local.records,
    )  # fmt: skip
    path = _save(config.out_dir / f"secureboost-{model_id}.json", model)
    report_progress(stage="done")
    return {
        "model_id": model_id, "model_path": path, "scheme": scheme.name, "key_bits": scheme.key_bits,
        "rows": {"intersection": len(ids), "train": int(train.size), "test": int(test.size)},
        "features": {party.name: len(table.features), **{r.name: r.features for r in remotes}},
        "host_records": records, "slots_per_ciphertext": slots, "slot_bits": layout.slot_bits,
        "auc_train": auc(labels[train], train_scores), "auc_test": auc(labels[test], test_scores),
        "tree_seconds": [round(s, 3) for s in tree_seconds],
        "seconds": round(time.perf_counter() - started, 3), "timings": clock.to_json(),
    }  # fmt: skip


def _train(
    local: LocalOwner,
    remotes: list[RemoteOwner],
    scheme: AdditiveScheme,
    layout: GhLayout,
    labels: np.ndarray[Any, np.dtype[np.float64]],
    params: BoostParams,
    clock: Clock,
    tree_seconds: list[float],
) -> tuple[list[Tree], float, np.ndarray[Any, np.dtype[np.float64]]]:
    marks = [time.perf_counter()]

    def start_tree(t: int, g_int: IntArray, h_int: IntArray) -> None:
        local.set_gradients(g_int, h_int)
        with clock.measure("encrypt"):
            gh = scheme.encrypt_batch(layout.encode(g_int, h_int))
            payload = scheme.to_bytes(gh)
        for remote in remotes:
            remote.send_gradients(t, payload, gh.count)

    def tree_done(t: int, _tree: Tree) -> None:
        marks.append(time.perf_counter())
        tree_seconds.append(marks[-1] - marks[-2])
        report_progress(stage="tree", tree=t + 1, trees=params.trees)

    owners: list[SplitOwner] = [local, *remotes]
    return boost(owners, labels, params, start_tree=start_tree, tree_done=tree_done)


# ---------------------------------------------------------------- the host


@dataclass(frozen=True)
class HostConfig:
    data: Path
    id_column: str
    guest: str
    out_dir: Path
    threads: int = DEFAULT_THREADS
    node_rows_floor: int = HOST_NODE_ROWS_FLOOR


def host_party(
    party: Party,
    *,
    data: str,
    id_column: str,
    guest: str,
    out_dir: str,
    threads: int = DEFAULT_THREADS,
    node_rows_floor: int = HOST_NODE_ROWS_FLOOR,
) -> dict[str, Any]:
    """A host's protocol function for ``run_parties``; returns a summary (no data)."""
    config = HostConfig(Path(data), id_column, guest, Path(out_dir), threads, node_rows_floor)
    return run_host(party, config)


@dataclass
class _Host:
    party: Party
    guest: str
    scheme: AdditiveScheme
    owner: LocalOwner
    layout: GhLayout
    slots: int
    params: BoostParams
    train_rows: int
    test_rows: int
    clock: Clock
    gh: Ciphertexts | None = None

    def reply(self, kind: str, message: Mapping[str, Any]) -> None:
        with self.clock.measure("send"):
            self.party.send(self.guest, kind, message)


def _positions(setup: Mapping[str, Any], name: str, size: int) -> IntArray:
    positions = int_array(setup, name)
    if positions.size and (positions[0] < 0 or positions[-1] >= size or np.any(np.diff(positions) <= 0)):
        raise ProtocolError(f"the {name} positions are not increasing positions in the intersection")
    return positions


def _host_setup(
    party: Party, config: HostConfig, table: PartyTable, ids: list[str], key_bits_min: int
) -> tuple[_Host, str]:
    setup = party.recv(config.guest, KIND_SETUP)
    model_id = json_str(setup, "model_id", chars_max=64)
    params = BoostParams.from_json(setup.get("params") or {})
    if params.min_data_in_leaf < config.node_rows_floor:
        raise ProtocolError(f"min_data_in_leaf {params.min_data_in_leaf} is below this host's floor")
    train = _positions(setup, "train", len(ids))
    test = _positions(setup, "test", len(ids))
    if np.intersect1d(train, test).size or train.size == 0 or test.size == 0:
        raise ProtocolError("the training and test rows must be disjoint and non-empty")
    scheme = he.load_public(
        json_str(setup, "scheme"),
        blob(setup, "public_key"),
        key_bits_min=key_bits_min,
        threads=config.threads,
    )
    layout = GhLayout.from_json(setup.get("layout") or {})
    if layout.rows != train.size:
        raise ProtocolError("the gradient layout does not cover the training rows")
    slots = json_int(setup, "slots", 1, scheme.plaintext_bits // layout.slot_bits)
    values = table.values[table.rows_of(ids)]
    owner = LocalOwner(party.name, bin_features(table.features, values[train], params.max_bin), values[test])
    host = _Host(
        party, config.guest, scheme, owner, layout, slots, params, int(train.size), int(test.size), Clock()
    )
    host.reply(KIND_READY, {"features": len(table.features), "bucket_count": owner.binned.bucket_count})
    return host, model_id


def run_host(party: Party, config: HostConfig, *, key_bits_min: int = KEY_BITS_MIN) -> dict[str, Any]:
    """Serve the guest's commands until it is done; ``key_bits_min`` is lowered only by tests."""
    started = time.perf_counter()
    if config.guest not in party.peers:
        raise InvalidInput(f"the guest {config.guest!r} is not a party of this session")
    report_progress(stage="psi")
    table = read_party_csv(config.data, id_column=config.id_column)
    ids = psi.intersect(party, table.ids, leader=config.guest)
    host, model_id = _host_setup(party, config, table, ids, key_bits_min)
    commands_max = host.params.trees * (3 * host.params.depth + 2) + 2 * host.params.depth + 2
    for _ in range(commands_max):
        command = party.recv(config.guest, KIND_COMMAND)
        op = command.get("op")
        if op == "done":
            if command.get("model_id") != model_id:
                raise ProtocolError("the guest finished another model")
            document = host_model_json(
                model_id=model_id, party=party.name, guest=config.guest, records=host.owner.records
            )
            path = _save(config.out_dir / f"secureboost-{model_id}.json", document)
            host.reply(KIND_DONE, {"records": len(host.owner.records)})
            return {
                "model_id": model_id, "model_path": path, "records": len(host.owner.records),
                "rows": {"train": host.train_rows, "test": host.test_rows},
                "seconds": round(time.perf_counter() - started, 3), "timings": host.clock.to_json(),
            }  # fmt: skip
        handler = _HANDLERS.get(str(op))
        if handler is None:
            raise ProtocolError(f"unknown command {op!r}")
        handler(host, command)
    raise ProtocolError(f"the guest sent more than {commands_max} commands")


def _on_tree(host: _Host, command: Mapping[str, Any]) -> None:
    json_int(command, "count", host.train_rows, host.train_rows)
    tree = json_int(command, "tree", 0, host.params.trees - 1)
    with host.clock.measure("load_gradients"):
        host.gh = host.scheme.from_bytes(blob(command, "gh"), host.train_rows)
    report_progress(stage="tree", tree=tree + 1, trees=host.params.trees)


def _on_histograms(host: _Host, command: Mapping[str, Any]) -> None:
    if host.gh is None:
        raise ProtocolError("histograms asked for before any gradients")
    nodes = int_array(command, "nodes")
    if not 0 < nodes.size <= 1 << (host.params.depth - 1):
        raise ProtocolError(f"{nodes.size} nodes in one level")
    groups = []
    for rows in unragged(command, lists=nodes.size, bound=host.train_rows):
        if rows.size < host.params.min_data_in_leaf or np.unique(rows).size != rows.size:
            raise ProtocolError("a node must hold at least min_data_in_leaf distinct rows")
        group = np.zeros(host.train_rows, dtype=np.int8)
        group[rows] = 1
        groups.append(group)
    binned, scheme = host.owner.binned, host.scheme
    with host.clock.measure("bucket_sums"):
        sums = scheme.bucket_sums(host.gh, groups, binned.buckets, binned.bucket_count)
    with host.clock.measure("pack"):
        packed = scheme.pack(scheme.concat(sums), slots=host.slots, slot_bits=host.layout.slot_bits)
        packed = scheme.add(packed, scheme.encrypt_batch([0] * packed.count))  # fresh randomness
        payload = scheme.to_bytes(packed)
    host.reply(KIND_HISTOGRAMS, {"nodes": nodes, "count": packed.count, "packed": payload})


def _on_splits(host: _Host, command: Mapping[str, Any]) -> None:
    nodes = int_array(command, "nodes")
    count = nodes.size
    features = int_array(command, "features", size=count).tolist()
    bins = int_array(command, "bins", size=count).tolist()
    sides = int_array(command, "missing_left", size=count).tolist()
    lists = unragged(command, lists=count, bound=host.train_rows)
    results = [
        host.owner.split(SplitOrder(int(n), rows, f, b, bool(m)))
        for n, rows, f, b, m in zip(nodes.tolist(), lists, features, bins, sides, strict=True)
    ]
    host.reply(KIND_SPLITS, {
        "nodes": nodes,
        "records": np.array([r for r, _ in results], dtype=np.int64),
        "left": pack_masks([m for _, m in results]),
    })  # fmt: skip


def _on_directions(host: _Host, command: Mapping[str, Any]) -> None:
    records = int_array(command, "records").tolist()
    lists = unragged(command, lists=len(records), bound=host.test_rows)
    masks = [host.owner.directions(r, rows) for r, rows in zip(records, lists, strict=True)]
    host.reply(KIND_DIRECTIONS, {"left": pack_masks(masks)})


_HANDLERS = {
    "tree": _on_tree,
    "histograms": _on_histograms,
    "splits": _on_splits,
    "directions": _on_directions,
}
