"""`deconflict bench ledger`: the in-memory Merkle log (deconflict.core.ledger), each figure beside a baseline.

Measured, in one process, in this order:

- the raw SHA-256 rate of this machine (hashlib, one call per 65-byte message: what one node hash costs), the
  physical limit of everything below (an append costs two hashes on average, a bundle entry at least one);
- appends/s into `MerkleLog` (canonical entry bytes prepared beforehand; and with `encode_entry` in the loop);
- appends/s on SQLite through the service's own code, batched in transactions (a fresh store in a temporary
  folder): staging (`outbox_row` + `stage_rows`, as a write transaction stages its entries; `batch` entries a
  transaction), then sequencing (`sequence`: the mover's transactions of up to 10,000 entries, leaf hashes,
  contiguous indices, a signed tree head each), and both end to end;
- building a log of `entries` leaves in bulk (leaf hashes of synthetic entries, then the levels above);
- inclusion and consistency proofs at that size: p50/p99 per proof, and the time to check one; baseline: the
  root recomputed from all leaf hashes (what a log without stored levels pays per proof);
- verifying a bundle of `bundle_entries` entries (every entry of a log that size, each with its inclusion proof
  against the last of three signed heads, with the consistency proofs between them); baseline: checking every
  proof in full (RFC 9162 2.1.3.2), timed on a sample and scaled to the bundle.
"""

from __future__ import annotations

import gc
import itertools
import os
import random
import time
from collections.abc import Callable
from hashlib import sha256
from typing import Any

import numpy as np

__all__ = ["TARGET", "run"]

TARGET = {"appends_per_s": 50_000, "inclusion_p99_ms": 1.0, "bundle_verify_s": 10.0}  #: issue 5
Progress = Callable[[str, int, int], None]
_CHUNK = 1 << 20


def _sha256_rate(n: int = 200_000) -> dict[str, float]:
    msgs = [os.urandom(65) for _ in range(n)]
    t = time.perf_counter()
    for m in msgs:
        sha256(m).digest()
    per = (time.perf_counter() - t) / n
    big = os.urandom(64 << 20)
    t = time.perf_counter()
    sha256(big).digest()
    mb_s = 64 / (time.perf_counter() - t)
    return {"hashes_per_s": round(1 / per), "bulk_mb_per_s": round(mb_s, 1)}


def _entries(n: int, seed: int) -> list[bytes]:
    from ..core.ledger import EntryType, encode_entry

    rng = random.Random(seed)
    kinds = list(EntryType)
    return [encode_entry(kinds[i % len(kinds)], _body(i, rng)) for i in range(n)]


def _body(i: int, rng: random.Random) -> dict[str, Any]:
    return {"seq": i, "party": f"party-{rng.randrange(50)}", "at_ms": 1_767_225_600_000 + 37 * i,
            "declaration": f"d-{rng.randrange(1 << 40):010x}", "version": rng.randrange(1, 9),
            "lead_time_s": round(rng.uniform(0, 3600), 3)}


def _appends(n: int, seed: int) -> dict[str, Any]:
    from ..core.ledger import EntryType, MerkleLog, encode_entry

    data = _entries(n, seed)
    log = MerkleLog()
    t = time.perf_counter()
    for d in data:
        log.append(d)
    plain = n / (time.perf_counter() - t)
    rng = random.Random(seed)
    bodies = [_body(i, rng) for i in range(n)]
    log = MerkleLog()
    t = time.perf_counter()
    for i, b in enumerate(bodies):
        log.append(encode_entry(EntryType.DECLARATION_VERSION if i % 2 else EntryType.MESSAGE, b))
    encoded = n / (time.perf_counter() - t)
    return {"appends": n, "in_memory_per_s": round(plain), "with_encoding_per_s": round(encoded),
            "mean_entry_bytes": round(sum(map(len, data)) / n, 1)}


def _sqlite_batched(n: int, batch: int, seed: int) -> dict[str, Any]:
    """Appends on SQLite through the service's staging and sequencing (see the module docstring)."""
    import tempfile
    from datetime import UTC, datetime

    from ..core.ledger import EntryType
    from ..service import ledger as service_ledger
    from ..service.state import ServiceState
    from ..store.database import migrate, open_database, writing

    rng = random.Random(seed)
    bodies = [_body(i, rng) for i in range(n)]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="deconflict-bench-ledger-") as folder:
        db = open_database(os.path.join(folder, "ledger.sqlite"))
        try:
            migrate(db)
            state = ServiceState(db=db, clock=lambda: now)
            service_ledger.open_ledger(state)
            t = time.perf_counter()
            for start in range(0, n, batch):
                with writing(db) as conn:
                    service_ledger.stage_rows(conn, [
                        service_ledger.outbox_row(EntryType.MESSAGE, b, now, (b["party"],))
                        for b in bodies[start:start + batch]])
            staged = time.perf_counter()
            moved = 0
            while (step := service_ledger.sequence(state)) > 0:
                moved += step
            done = time.perf_counter()
        finally:
            db.dispose()
    assert moved == n
    return {"entries": n, "stage_batch": batch, "stage_per_s": round(n / (staged - t)),
            "sequence_per_s": round(n / (done - staged)), "sqlite_batched_per_s": round(n / (done - t)),
            "target_per_s": TARGET["appends_per_s"],
            "meets_target": n / (done - staged) >= TARGET["appends_per_s"],
            "method": "fresh SQLite store (WAL, synchronous=FULL); staging = encode + outbox insert, as write "
                      "transactions do; sequence = the mover (leaf hash, contiguous index, one signed head a "
                      "transaction); sqlite_batched_per_s = both end to end; meets_target judges the sequence"}


def _build(n: int, progress: Progress | None) -> tuple[Any, float]:
    from ..core.ledger import MerkleLog

    log = MerkleLog()
    prefix = b"\x00synthetic ledger entry "
    t = time.perf_counter()
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        log.extend_leaf_hashes(b"".join([sha256(prefix + i.to_bytes(8, "big")).digest()
                                         for i in range(start, stop)]))
        if progress:
            progress("build", stop, n)
    return log, time.perf_counter() - t


def _pcts(samples_ns: list[int]) -> tuple[float, float]:
    a = np.asarray(samples_ns, dtype=np.float64) / 1e6
    return round(float(np.percentile(a, 50)), 4), round(float(np.percentile(a, 99)), 4)


def _proofs(log: Any, samples: int, seed: int, progress: Progress | None) -> dict[str, Any]:
    from ..core.ledger import check_consistency, check_inclusion

    n = log.size
    rng = random.Random(seed)
    root = log.root()
    inc, inc_check, con, con_check = [], [], [], []
    roots: dict[int, bytes] = {}
    for k in range(samples):
        i = rng.randrange(n)
        t = time.perf_counter_ns()
        proof = log.inclusion_proof(i)
        inc.append(time.perf_counter_ns() - t)
        leaf = log.leaf(i)
        t = time.perf_counter_ns()
        ok = check_inclusion(i, n, leaf, proof, root) is None
        inc_check.append(time.perf_counter_ns() - t)
        assert ok
        m = rng.randrange(1, n) if n > 1 else 1
        t = time.perf_counter_ns()
        cproof = log.consistency_proof(m)
        con.append(time.perf_counter_ns() - t)
        old = roots.setdefault(m, log.root(m))
        t = time.perf_counter_ns()
        ok = check_consistency(m, n, old, root, cproof) is None
        con_check.append(time.perf_counter_ns() - t)
        assert ok
        if progress and k % 100 == 99:
            progress("proofs", k + 1, samples)
    p50, p99 = _pcts(inc)
    c50, c99 = _pcts(con)
    return {
        "inclusion_proof": {"samples": samples, "p50_ms": p50, "p99_ms": p99, "check_p50_ms": _pcts(inc_check)[0],
                            "target_p99_ms": TARGET["inclusion_p99_ms"],
                            "meets_target": p99 <= TARGET["inclusion_p99_ms"]},
        "consistency_proof": {"samples": samples, "p50_ms": c50, "p99_ms": c99, "check_p50_ms": _pcts(con_check)[0]},
    }


def _baseline_root(log: Any) -> dict[str, Any]:
    from ..core.ledger import root_of

    n = log.size
    leaves = bytes(log._levels[0])  # the leaf hashes as stored
    t = time.perf_counter()
    root = root_of([leaves[k:k + 32] for k in range(0, 32 * n, 32)])
    s = time.perf_counter() - t
    assert root == log.root()
    return {"method": "root recomputed from all leaf hashes (core.ledger.root_of), no stored levels",
            "root_from_all_leaves_s": round(s, 3), "root_from_all_leaves_ms": round(s * 1000, 1)}


def _bundle(n: int, seed: int, progress: Progress | None, baseline_sample: int) -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ..core.ledger import (
        Bundle,
        BundleEntry,
        MerkleLog,
        TreeHead,
        check_inclusion,
        cosign,
        leaf_hash,
        sign_tree_head,
        verify_bundle,
    )

    t0 = time.perf_counter()
    service = Ed25519PrivateKey.from_private_bytes(sha256(b"bench service %d" % seed).digest())
    witness = Ed25519PrivateKey.from_private_bytes(sha256(b"bench witness %d" % seed).digest())
    data = _entries(n, seed)
    log = MerkleLog()
    log.extend(data)
    sizes = sorted({max(1, n // 4), max(1, n // 2), n})
    heads = tuple(cosign(sign_tree_head(TreeHead(s, log.root(s), 1_767_225_600_000 + k * 5000), service),
                         witness, 1_767_225_600_000 + k * 5000 + 900) for k, s in enumerate(sizes))
    consistency = tuple(tuple(log.consistency_proof(a, b)) for a, b in itertools.pairwise(sizes))
    entries = []
    for i in range(n):
        entries.append(BundleEntry(i, data[i], n, tuple(log.inclusion_proof(i))))
        if progress and i % 10_000 == 9_999:
            progress("bundle", i + 1, n)
    bundle = Bundle(heads, consistency, tuple(entries))
    build_s = time.perf_counter() - t0
    del entries, log
    gc.collect()

    t = time.perf_counter()
    report = verify_bundle(bundle, service.public_key(), [witness.public_key()])
    verify_s = time.perf_counter() - t
    assert report.ok, report.first_break

    sample = bundle.entries[:min(n, baseline_sample)]
    root = heads[-1].root
    t = time.perf_counter()
    for e in sample:
        assert check_inclusion(e.index, e.tree_size, leaf_hash(e.data), e.proof, root) is None
    per_entry = (time.perf_counter() - t) / len(sample)
    return {"entries": n, "heads": len(heads), "build_s": round(build_s, 3), "verify_s": round(verify_s, 4),
            "entries_per_s": round(n / verify_s), "target_s": TARGET["bundle_verify_s"],
            "meets_target": verify_s <= TARGET["bundle_verify_s"],
            "baseline": {"method": "every inclusion proof checked in full (RFC 9162 2.1.3.2), timed on the first "
                                   f"{len(sample)} entries and scaled to {n}",
                         "full_check_s": round(per_entry * n, 4)}}


def run(entries: int, proofs: int, bundle_entries: int, appends: int, seed: int = 1,
        progress: Progress | None = None, baseline_sample: int = 100_000, sqlite_appends: int = 100_000,
        stage_batch: int = 1_000) -> dict[str, Any]:
    """One JSON-ready object with every figure (see the module docstring)."""
    out: dict[str, Any] = {"bench": "ledger", "entries": entries, "seed": seed}
    out["sha256"] = {"method": "hashlib.sha256(65-byte message).digest(), one call each", **_sha256_rate()}
    out["append"] = {**_appends(appends, seed), "hashes_per_append": 2,
                     "limit_per_s": round(out["sha256"]["hashes_per_s"] / 2)}
    out["sqlite"] = _sqlite_batched(sqlite_appends, stage_batch, seed)
    gc.collect()
    log, build_s = _build(entries, progress)
    out["build"] = {"seconds": round(build_s, 3), "leaves_per_s": round(entries / build_s),
                    "memory_mb": round(log.nbytes() / 2**20, 1)}
    out.update(_proofs(log, proofs, seed, progress))
    out["baseline"] = _baseline_root(log)
    del log
    gc.collect()
    out["bundle"] = _bundle(bundle_entries, seed, progress, baseline_sample)
    return out
