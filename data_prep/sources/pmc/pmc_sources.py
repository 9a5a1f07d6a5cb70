"""Where PMC articles come from: ``.nxml``/``.xml`` files, folders of them, or tar archives.

Covers the per-article cloud layout (one ``PMC123.1.xml`` per article version,
as fetched by ``download pmc``), the legacy bulk/package tarballs (streamed
member by member, never unpacked to disk) and ``pmc-articleset`` wrappers
(efetch output holding several articles).
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from data_prep.common.stats import StageStats
from data_prep.common.streams import DecompressedReader, StreamError, iter_decompressed
from data_prep.common.tasks import natural_key

ARTICLE_SUFFIXES = (".nxml", ".xml", ".nxml.gz", ".xml.gz")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
_PMC_NAME = re.compile(r"(PMC\d+)(?:\.(\d+))?", re.I)
MAX_ARTICLE_BYTES = 64 << 20


@dataclass
class Document:
    source: str  # input file name, "archive.tar.gz:member.nxml" for archive members
    data: bytes
    name_pmcid: str | None  # PMC id from the file name, used when the XML has none
    name_version: int  # article version from the file name (PMC123.2.xml -> 2), else 1


def name_ids(name: str) -> tuple[str | None, int]:
    m = _PMC_NAME.search(Path(name).name)
    if not m:
        return None, 1
    return f"PMC{int(m.group(1)[3:])}", int(m.group(2)) if m.group(2) else 1


def _is_tar(path: Path) -> bool:
    return path.name.endswith(TAR_SUFFIXES)


def iter_documents(inputs: list[str | Path], stats: StageStats) -> Iterator[Document]:
    """All article documents under ``inputs``; unreadable inputs go to ``stats.failed_inputs``."""
    for path in map(Path, inputs):
        if path.is_dir():
            children = sorted((p for p in path.rglob("*") if p.is_file() and p.name.endswith(ARTICLE_SUFFIXES + TAR_SUFFIXES)),
                              key=lambda p: natural_key(str(p.relative_to(path))))
            yield from iter_documents(children, stats)
        elif not path.exists():
            stats.fail_input(path, "no such file")
        elif _is_tar(path):
            yield from _iter_tar(path, stats)
        else:
            doc = _read_file(path, stats)
            if doc is not None:
                yield doc


def _read_file(path: Path, stats: StageStats) -> Document | None:
    pmcid, version = name_ids(path.name)
    chunks = []
    try:
        for chunk in iter_decompressed(path):
            chunks.append(chunk)
    except StreamError as exc:
        stats.error(exc.kind)
        return None
    except OSError as exc:
        stats.fail_input(path, f"cannot read: {exc.strerror or exc}")
        return None
    return Document(path.name, b"".join(chunks), pmcid, version)


def _iter_tar(path: Path, stats: StageStats) -> Iterator[Document]:
    try:
        # Our own decompressing reader: gzip.open would drop the bytes before a truncation.
        tar = tarfile.open(fileobj=DecompressedReader(path), mode="r|")
    except (OSError, tarfile.TarError, StreamError) as exc:
        stats.fail_input(path, f"cannot open archive: {exc}")
        return
    try:
        for member in tar:
            if not member.isfile() or not member.name.endswith(ARTICLE_SUFFIXES):
                continue
            if member.size > MAX_ARTICLE_BYTES:
                stats.error("article_too_large")
                continue
            f = tar.extractfile(member)
            data = f.read() if f is not None else b""
            if member.name.endswith(".gz"):
                import gzip

                try:
                    data = gzip.decompress(data)
                except (OSError, EOFError):
                    stats.error("corrupt_gzip")
                    continue
            pmcid, version = name_ids(member.name)
            yield Document(f"{path.name}:{member.name}", data, pmcid, version)
    except (tarfile.TarError, EOFError, OSError, StreamError) as exc:
        # A truncated or corrupt archive: the members before the damage were already yielded.
        stats.error("truncated_archive")
        stats.info.setdefault("archive_errors", []).append(f"{path}: {exc}")
    finally:
        tar.close()
