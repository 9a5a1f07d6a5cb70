"""Resumable HTTP(S) downloads with retries, exponential backoff and MD5 verification.

A download goes to ``<dest>.part``; if the connection drops, the next attempt
asks for the rest with ``Range: bytes=<have>-`` (a server answering 200
instead of 206 restarts from zero).  Only a file whose MD5 matches is renamed
to ``<dest>``; a mismatch deletes the partial file and starts over, and after
the last retry the file is reported as failed — never kept.
Standard library only (urllib), so it runs on any login node.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from biomamba.io import durable_replace

log = logging.getLogger("data_prep")
USER_AGENT = "biomamba-data-prep/0.1 (+https://github.com/; research use)"
_MD5 = re.compile(r"\b([0-9a-fA-F]{32})\b")


class FetchError(RuntimeError):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class FetchPolicy:
    retries: int = 5
    backoff_s: float = 2.0
    timeout_s: float = 60.0
    chunk: int = 1 << 20


def _request(url: str, start: int = 0) -> urllib.request.Request:
    headers = {"User-Agent": USER_AGENT}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.Request(url, headers=headers)


def get_bytes(url: str, policy: FetchPolicy = FetchPolicy()) -> bytes:
    """Small resources (listings, .md5 files), with retries."""
    last: Exception | None = None
    for attempt in range(policy.retries + 1):
        try:
            with urllib.request.urlopen(_request(url), timeout=policy.timeout_s) as r:
                return r.read()
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 403, 410):
                raise FetchError("http_error", f"{url}: HTTP {exc.code}") from exc
            last = exc
        except (urllib.error.URLError, OSError, HTTPException) as exc:
            last = exc
        _sleep(policy, attempt)
    raise FetchError("network", f"{url}: failed after {policy.retries + 1} attempts ({last})")


def parse_md5(text: str) -> str:
    """The hex digest in an NLM ``.md5`` file (``MD5(name)= <hex>``) or ``md5sum`` output."""
    m = _MD5.search(text.split("=", 1)[-1] if "=" in text else text)
    if not m:
        raise FetchError("bad_md5_file", f"no MD5 digest in {text[:80]!r}")
    return m.group(1).lower()


def md5_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _sleep(policy: FetchPolicy, attempt: int) -> None:
    if attempt < policy.retries:
        time.sleep(policy.backoff_s * (2 ** attempt))


def _stream_to(url: str, part: Path, policy: FetchPolicy, progress=None) -> None:
    """One attempt: append the missing bytes of ``url`` to ``part`` (raises on a dropped connection)."""
    have = part.stat().st_size if part.exists() else 0
    try:
        r = urllib.request.urlopen(_request(url, have), timeout=policy.timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch: the partial file is complete (or wrong)
            return
        raise
    with r:
        resumed = r.status == 206
        expected = r.headers.get("Content-Length")
        mode = "ab" if resumed else "wb"
        got = 0
        with open(part, mode) as f:
            while True:
                block = r.read(policy.chunk)
                if not block:
                    break
                f.write(block)
                got += len(block)
                if progress is not None:
                    progress.update(len(block))
        if expected is not None and got < int(expected):
            raise HTTPException(f"connection closed after {got} of {expected} bytes")


def fetch(url: str, dest: Path, md5: str | None, policy: FetchPolicy = FetchPolicy(), progress=None) -> str:
    """Download ``url`` to ``dest`` (verified); returns ``"downloaded"`` or ``"present"``."""
    dest = Path(dest)
    if dest.exists() and md5 and md5_file(dest) == md5:
        return "present"
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for attempt in range(policy.retries + 1):
        try:
            _stream_to(url, part, policy, progress)
            if md5 is None or md5_file(part) == md5:
                durable_replace(part, dest)
                return "downloaded"
            log.warning("%s: MD5 mismatch (attempt %d); downloading again from the start", url, attempt + 1)
            part.unlink(missing_ok=True)
            last = FetchError("md5_mismatch", f"{url}: MD5 of the download differs from the published .md5")
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 403, 410):
                raise FetchError("http_error", f"{url}: HTTP {exc.code}") from exc
            last = exc
        except (urllib.error.URLError, OSError, HTTPException) as exc:
            log.warning("%s: %s (attempt %d); will resume", url, exc, attempt + 1)
            last = exc
        _sleep(policy, attempt)
    if isinstance(last, FetchError):
        raise last
    raise FetchError("network", f"{url}: failed after {policy.retries + 1} attempts ({last})")
