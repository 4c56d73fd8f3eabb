#!/usr/bin/env python
"""Benchmark: how fast does verify_audit go, next to raw SHA-256 over the same bytes?

Builds N entries (hashed, linked, checkpointed like the real chain) with bulk inserts into
a throwaway SQLite database under a temporary IPP_DATA_DIR, times the full verification,
and times hashlib.sha256 alone over the same canonical bytes. Usage:

    .venv/bin/python bench/audit_verify.py                    # 100,000 entries
    .venv/bin/python bench/audit_verify.py --entries 1000000
"""

import argparse
import hashlib
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--entries", type=int, default=100_000, help="entries to build (default 100000)"
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=1000, help="sign a checkpoint every N entries"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = parser.parse_args()
    if args.entries < 1:
        parser.error("--entries must be at least 1")

    data_dir = Path(tempfile.mkdtemp(prefix="ipp-audit-bench-"))
    # A throwaway embedded site: never the configured database.
    os.environ.pop("DATABASE_URL", None)
    os.environ["IPP_DATA_DIR"] = str(data_dir)
    os.environ["IPP_AUDIT_CHECKPOINT_EVERY"] = str(args.checkpoint_every)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ippsite.settings")
    sys.path.insert(0, str(ROOT))
    try:
        import django

        django.setup()
        from django.core.management import call_command

        from audit.legacy_synthetic import bulk_append_chain as bulk_append
        from audit.verify import verify_chain

        call_command("migrate", "audit", verbosity=0, skip_checks=True)

        raw = {"seconds": 0.0, "bytes": 0}

        def time_raw_sha256(blobs: list[bytes]) -> None:
            start = time.perf_counter()
            for blob in blobs:
                hashlib.sha256(blob).hexdigest()
            raw["seconds"] += time.perf_counter() - start
            raw["bytes"] += sum(len(blob) for blob in blobs)

        start = time.perf_counter()
        bulk_append(args.entries, on_batch=time_raw_sha256)
        build = time.perf_counter() - start
        print(
            f"built {args.entries} entries in {build:.1f}s ({args.entries / build:,.0f} entries/s)"
        )

        start = time.perf_counter()
        result = verify_chain()
        elapsed = time.perf_counter() - start
        if not result.ok or result.last_seq != args.entries:
            print(f"verification FAILED: {result.problem}", file=sys.stderr)
            return 1
        verify_rate = args.entries / elapsed
        raw_rate = args.entries / raw["seconds"] if raw["seconds"] else float("inf")
        print(
            f"verify_audit: ok: {result.last_seq} entries in {elapsed:.2f}s ({verify_rate:,.0f} entries/s)"
        )
        print(
            f"raw sha256:   {args.entries} hashes of {raw['bytes'] / args.entries:.0f} bytes avg "
            f"in {raw['seconds']:.2f}s ({raw_rate:,.0f} entries/s)"
        )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the whole run: {peak_mb:.0f} MB")
        print(
            f"ratio: verification runs at {verify_rate / raw_rate:.1%} of raw SHA-256 speed "
            f"({raw_rate / verify_rate:.1f}x slower: reading rows, decoding JSON, re-encoding)"
        )
        return 0
    finally:
        if args.keep:
            print(f"data kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
