"""Save + load of many small objects (1 KiB arrays and small dicts) on local disk, storecore vs peers.

Measured in one run, each in its own fresh temporary folder:

* raw:                 ``np.save``/``np.load`` and ``json.dump``/``json.load`` (no atomicity)
* storecore FM:        ``FileManager.save``/``load`` per object, ``"disk"`` backend (atomic writes)
* storecore FM batch:  ``FileManager.save_batch``/``load_batch``
* storecore FM durable=False: per object, ``DiskBackend(durable=False)`` (atomic rename, no fsync,
  the same durability as the peers)
* storecore AutoStore: ``store[key] = obj`` / ``store[key]``
* polystore FM:        the published ``polystore`` package, ``FileManager`` with its ``DiskBackend``
* autostore:           the published ``autostore`` package, ``store[key] = obj`` / ``store[key]``

Both AutoStores get keys with their extension (``a00001.npy``): the published
autostore cannot save a key without one.

Half the objects are float64 arrays of 128 values (1 KiB), half dicts of a few
keys.  Each contender runs ``--repeat`` times; the best run counts.  Prints
seconds and ratios against raw and against the peers.  Needs the benchmark
environment (peers installed):

    .venv-bench/bin/python benchmarks/small_files.py [--count 5000] [--repeat 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable

import numpy as np


def make_objects(count: int) -> list[tuple[str, object]]:
    rng = np.random.default_rng(0)
    out: list[tuple[str, object]] = []
    for i in range(count):
        if i % 2 == 0:
            out.append((f"arrays/a{i:05d}", rng.random(128)))
        else:
            out.append((f"dicts/d{i:05d}", {"id": i, "name": f"item-{i}", "ok": True, "score": i * 0.5}))
    return out


def ext_of(obj: object) -> str:
    return ".npy" if isinstance(obj, np.ndarray) else ".json"


# ---------------------------------------------------------------------------- contenders
def run_raw(root: str, objs: list[tuple[str, object]]) -> tuple[float, float]:
    for d in ("arrays", "dicts"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    t0 = time.perf_counter()
    for key, obj in objs:
        path = os.path.join(root, key + ext_of(obj))
        if isinstance(obj, np.ndarray):
            np.save(path, obj)
        else:
            with open(path, "w") as f:
                json.dump(obj, f)
    t1 = time.perf_counter()
    for key, obj in objs:
        path = os.path.join(root, key + ext_of(obj))
        if isinstance(obj, np.ndarray):
            np.load(path)
        else:
            with open(path) as f:
                json.load(f)
    return t1 - t0, time.perf_counter() - t1


def run_storecore_fm(root: str, objs: list[tuple[str, object]], durable: bool = True) -> tuple[float, float]:
    from storecore import BackendRegistry, FileManager
    from storecore.backends import DiskBackend

    return _run_file_manager(FileManager(BackendRegistry(disk=DiskBackend(durable=durable))), root, objs)


def _run_file_manager(fm: object, root: str, objs: list[tuple[str, object]]) -> tuple[float, float]:
    """Save then load every object one by one through a polystore-style ``FileManager`` (both have that API)."""
    for d in ("arrays", "dicts"):
        fm.ensure_directory(os.path.join(root, d), "disk")  # type: ignore[attr-defined]
    paths = [os.path.join(root, key + ext_of(obj)) for key, obj in objs]
    t0 = time.perf_counter()
    for (_, obj), path in zip(objs, paths, strict=True):
        fm.save(obj, path, "disk")  # type: ignore[attr-defined]
    t1 = time.perf_counter()
    for path in paths:
        fm.load(path, "disk")  # type: ignore[attr-defined]
    return t1 - t0, time.perf_counter() - t1


def run_storecore_fm_batch(root: str, objs: list[tuple[str, object]]) -> tuple[float, float]:
    from storecore import BackendRegistry, FileManager

    fm = FileManager(BackendRegistry())
    for d in ("arrays", "dicts"):
        fm.ensure_directory(os.path.join(root, d), "disk")
    paths = [os.path.join(root, key + ext_of(obj)) for key, obj in objs]
    t0 = time.perf_counter()
    fm.save_batch([obj for _, obj in objs], paths, "disk")
    t1 = time.perf_counter()
    out = fm.load_batch(paths, "disk")
    assert len(out) == len(objs)
    return t1 - t0, time.perf_counter() - t1


def _run_autostore_class(store_class: type, root: str, objs: list[tuple[str, object]]) -> tuple[float, float]:
    store = store_class(root)
    keys = [key + ext_of(obj) for key, obj in objs]  # the published autostore needs the extension in the key
    t0 = time.perf_counter()
    for key, (_, obj) in zip(keys, objs, strict=True):
        store[key] = obj
    t1 = time.perf_counter()
    for key in keys:
        store[key]
    return t1 - t0, time.perf_counter() - t1


def run_storecore_autostore(root: str, objs: list[tuple[str, object]]) -> tuple[float, float]:
    from storecore import AutoStore

    return _run_autostore_class(AutoStore, root, objs)


def run_polystore(root: str, objs: list[tuple[str, object]]) -> tuple[float, float]:
    from polystore import FileManager
    from polystore.disk import DiskBackend

    return _run_file_manager(FileManager({"disk": DiskBackend()}), root, objs)


def run_autostore(root: str, objs: list[tuple[str, object]]) -> tuple[float, float]:
    from autostore import AutoStore

    return _run_autostore_class(AutoStore, root, objs)


CONTENDERS: list[tuple[str, Callable[[str, list[tuple[str, object]]], tuple[float, float]]]] = [
    ("raw numpy/json", run_raw),
    ("storecore FileManager", run_storecore_fm),
    ("storecore FileManager batch", run_storecore_fm_batch),
    ("storecore FM durable=False", lambda root, objs: run_storecore_fm(root, objs, durable=False)),
    ("storecore AutoStore", run_storecore_autostore),
    ("polystore FileManager", run_polystore),
    ("autostore AutoStore", run_autostore),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="objects (half arrays, half dicts)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per contender (best counts)")
    parser.add_argument("--quick", action="store_true", help="1000 objects, one run")
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    args = parser.parse_args()
    if args.quick:
        args.count, args.repeat = 1000, 1
    objs = make_objects(args.count)
    base = tempfile.mkdtemp(prefix="small-files-", dir=args.dir)
    results: dict[str, tuple[float, float]] = {}
    try:
        for rep in range(args.repeat):
            # rotate the order each repeat so no contender always runs on a cold or warm disk cache
            order = CONTENDERS[rep % len(CONTENDERS) :] + CONTENDERS[: rep % len(CONTENDERS)]
            for name, fn in order:
                root = os.path.join(base, f"{name.replace(' ', '_')}-{rep}")
                os.makedirs(root)
                try:
                    save, load = fn(root, objs)
                except ImportError as e:
                    print(f"{name}: skipped ({e})")
                    continue
                finally:
                    shutil.rmtree(root, ignore_errors=True)
                best = results.get(name)
                if best is None or save + load < sum(best):
                    results[name] = (save, load)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    print(f"\n{args.count} small objects (1 KiB float64 arrays and small dicts), local disk, best of {args.repeat}")
    print(f"{'contender':30s} {'save s':>8s} {'load s':>8s} {'total s':>8s} {'per obj µs':>11s} {'vs raw':>7s}")
    raw = sum(results["raw numpy/json"])
    for name, (save, load) in results.items():
        total = save + load
        print(f"{name:30s} {save:8.3f} {load:8.3f} {total:8.3f} {total / args.count * 1e6:11.0f} {total / raw:6.2f}x")
    print()
    for ours in ("storecore FileManager", "storecore FileManager batch", "storecore FM durable=False", "storecore AutoStore"):
        for peer in ("polystore FileManager", "autostore AutoStore"):
            if ours in results and peer in results:
                print(f"{ours} / {peer}: {sum(results[ours]) / sum(results[peer]):.2f}x (total time; < 1 is faster)")


if __name__ == "__main__":
    main()
