"""``python -m benchmark cache list|prune``: the face of :mod:`benchmark.cache_inventory`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from tabulate import tabulate

from benchmark.atomic import TMP_PREFIX
from benchmark.cache_inventory import (
    DESCRIPTIONS,
    CacheEntry,
    is_locked,
    remove,
    scan,
    select,
)
from benchmark.data.home import data_home


def add_parser(commands: Any) -> None:
    """Add ``cache list`` and ``cache prune`` to the CLI's sub-commands."""
    cache = commands.add_parser(
        "cache",
        help="what the data home holds (features, pretrained networks, fine-tuned C, ...)",
        description="List or prune the data home: feature caches, the deep methods' "
        "artefacts and fetched dataset files.",
    )
    cache.set_defaults(plugins=[])
    actions = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="each kind of entry with its count and size")
    listing.add_argument(
        "--verbose", action="store_true", help="every entry with its age, maker and state"
    )
    prune = actions.add_parser(
        "prune",
        help="remove stale entries (older code), or those named by --kind / --older-than",
        description="Remove the entries the current code can never read again (made by an "
        "older cache format or training code, incomplete, or temporaries of killed writers). "
        "--older-than also removes entries older than DAYS; --kind restricts to those kinds, "
        "and alone removes every entry of them. An entry being built (its lock held) is kept.",
    )
    prune.add_argument(
        "--kind",
        type=_kinds,
        help=f"comma-separated kinds: {', '.join(DESCRIPTIONS)} (raw only when named)",
    )
    prune.add_argument("--older-than", type=_days, metavar="DAYS", help="age in days")
    prune.add_argument("--dry-run", action="store_true", help="show what would go; remove nothing")
    for parser in (listing, prune):
        parser.add_argument(
            "--data-home", help="the data home (default: $SUBSPACE_BENCH_DATA or ~/.cache/...)"
        )


def _kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in DESCRIPTIONS]
    if not kinds or unknown:
        known = ", ".join(DESCRIPTIONS)
        raise argparse.ArgumentTypeError(
            f"unknown kind {', '.join(unknown) or repr(text)}; choose from {known}"
        )
    return kinds


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if days < 0:
        raise argparse.ArgumentTypeError(f"expected a number of days >= 0, got {text!r}")
    return days


def human_size(size: float) -> str:
    """``size`` bytes as B, KiB, MiB or GiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _age(entry: CacheEntry, now: float) -> str:
    days = entry.age_days(now)
    return f"{days * 24:.1f} h" if days < 1 else f"{days:.1f} d"


def _state(entry: CacheEntry) -> str:
    if is_locked(entry):
        return "in use (being built)"
    if entry.stale:
        return f"stale: {entry.stale}"
    return "being written" if entry.name.startswith(TMP_PREFIX) else "current"


def _list(entries: list[CacheEntry], verbose: bool) -> None:
    rows = []
    for kind, what in DESCRIPTIONS.items():
        mine = [e for e in entries if e.kind == kind]
        stale = sum(1 for e in mine if e.stale)
        rows.append([kind, len(mine), human_size(sum(e.size for e in mine)), stale, what])
    for kind in sorted({e.kind for e in entries} - set(DESCRIPTIONS)):
        mine = [e for e in entries if e.kind == kind]
        size = human_size(sum(e.size for e in mine))
        rows.append([kind, len(mine), size, sum(1 for e in mine if e.stale), "(unknown kind)"])
    total = human_size(sum(e.size for e in entries))
    rows.append(["total", len(entries), total, sum(1 for e in entries if e.stale), ""])
    print(tabulate(rows, headers=["kind", "entries", "size", "stale", "what"]))
    if verbose and entries:
        now = time.time()
        detail = [
            [e.kind, e.name, human_size(e.size), _age(e, now), e.made_by or "unknown", _state(e)]
            for e in entries
        ]
        print()
        print(tabulate(detail, headers=["kind", "entry", "size", "age", "made by", "state"]))


def _prune(entries: list[CacheEntry], args: argparse.Namespace) -> int:
    chosen = select(entries, args.kind, args.older_than)
    freed, removed, kept = 0, 0, []
    verb = "would remove" if args.dry_run else "removed"
    for entry in chosen:
        why = entry.stale or ("older than --older-than" if args.older_than is not None else "kind")
        if is_locked(entry) or (not args.dry_run and not remove(entry)):
            kept.append(entry)
            print(f"kept (in use, being built): {entry.kind} {entry.name}")
            continue
        removed += 1
        freed += entry.size
        print(f"{verb}: {entry.kind} {entry.name} ({human_size(entry.size)}; {why})")
    print(
        f"{verb} {removed} of {len(entries)} entries, {human_size(freed)}"
        + (f"; {len(kept)} in use kept" if kept else "")
    )
    return 0


def cmd_cache(args: argparse.Namespace, registry: object = None) -> int:
    """``cache list`` / ``cache prune`` on the data home."""
    home = data_home()
    print(f"data home: {home}")
    if not home.is_dir():
        print("(empty: nothing has been fetched or cached yet)", file=sys.stderr)
    entries = scan(home)
    if args.cache_command == "list":
        _list(entries, args.verbose)
        return 0
    return _prune(entries, args)
