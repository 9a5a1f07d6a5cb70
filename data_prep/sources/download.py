"""``download pubmed`` and ``download pmc``: fetch NLM files idempotently.

PubMed: the HTTPS directory listing of ``<base>/baseline/`` or
``<base>/updatefiles/`` is read, and each ``pubmedNNnNNNN.xml.gz`` is fetched
with its ``.md5`` (verified; partial files resumed; existing verified files
skipped).  PMC: NLM retired the bulk tarballs in 2026; articles are fetched one
by one from the per-article cloud layout (``<base>/PMC123.1/PMC123.1.xml`` with
a ``.json`` metadata file carrying the licence), driven by a list of PMC ids.
The URL layout is a template option so a change on NLM's side is a flag, not
a code change.  Local tarballs and folders need no download: give them to
``extract pmc`` directly.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from biomamba.io import atomic_write_json
from data_prep.common.http_fetch import FetchError, FetchPolicy, fetch, get_bytes, parse_md5
from data_prep.sources.pmc.licenses import COMMERCIAL, classify_license
from data_prep.common.progress import Progress
from data_prep.common.stats import StageStats

log = logging.getLogger("data_prep")
PUBMED_BASE = "https://ftp.ncbi.nlm.nih.gov/pubmed/"
PUBMED_DIRS = {"baseline": "baseline/", "updates": "updatefiles/"}
_PUBMED_FILE = re.compile(r'href="(?:[^"]*/)?(pubmed\d+n\d+\.xml\.gz)"')
PMC_BASE = "https://pmc-oa-opendata.s3.amazonaws.com"
PMC_XML_TEMPLATE = "{base}/{pmcid}.{version}/{pmcid}.{version}.xml"
PMC_META_TEMPLATE = "{base}/{pmcid}.{version}/{pmcid}.{version}.json"
_PMC_ID = re.compile(r"\b(PMC\d+)(?:\.(\d+))?\b", re.I)


def list_pubmed_files(base_url: str, kind: str, policy: FetchPolicy) -> tuple[str, list[str]]:
    url = base_url.rstrip("/") + "/" + PUBMED_DIRS[kind]
    html = get_bytes(url, policy).decode("utf-8", "replace")
    names = sorted(set(_PUBMED_FILE.findall(html)))
    if not names:
        raise FetchError("empty_listing", f"{url}: no pubmed*.xml.gz files in the directory listing")
    return url, names


def download_pubmed(out_dir: str | Path, kind: str = "baseline", base_url: str = PUBMED_BASE, limit: int | None = None,
                    policy: FetchPolicy = FetchPolicy()) -> StageStats:
    out_dir = Path(out_dir)
    stats = StageStats(f"download-pubmed-{kind}")
    url, names = list_pubmed_files(base_url, kind, policy)
    names = names[:limit] if limit else names
    stats.inputs = [url + n for n in names]
    with Progress(f"download {kind}", unit="B") as bar:
        for name in names:
            try:
                md5_text = get_bytes(url + name + ".md5", policy).decode("ascii", "replace")
                digest = parse_md5(md5_text)
                result = fetch(url + name, out_dir / name, digest, policy, progress=bar)
                (out_dir / (name + ".md5")).write_text(md5_text)
                stats.keep()
                stats.add_info(result)
            except FetchError as exc:
                log.error("%s", exc)
                stats.error(exc.kind)
                stats.info.setdefault("failures", {})[name] = str(exc)
    return stats.finish()


def read_pmc_ids(path: str | Path) -> list[tuple[str, int]]:
    """``(PMCID, version)`` pairs from a list (one id per line or CSV first column); version defaults to 1."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = _PMC_ID.search(line.split("#", 1)[0])
        if m:
            out.append((f"PMC{int(m.group(1)[3:])}", int(m.group(2)) if m.group(2) else 1))
    return out


def _license_field(meta: dict) -> str | None:
    for key in ("license_code", "license", "license_type", "licence"):
        if meta.get(key):
            return str(meta[key])
    return None


def download_pmc(out_dir: str | Path, ids_file: str | Path, subset: str = "any", base_url: str = PMC_BASE,
                 limit: int | None = None, xml_template: str = PMC_XML_TEMPLATE,
                 meta_template: str = PMC_META_TEMPLATE, policy: FetchPolicy = FetchPolicy()) -> StageStats:
    """Fetch the articles listed in ``ids_file``; ``subset='commercial'`` keeps CC BY / CC0 only."""
    out_dir = Path(out_dir)
    ids = read_pmc_ids(ids_file)[:limit] if limit else read_pmc_ids(ids_file)
    stats = StageStats(f"download-pmc-{subset}", inputs=[str(ids_file)])
    base = base_url.rstrip("/")
    with Progress("download pmc", unit="articles", total=len(ids)) as bar:
        for pmcid, version in ids:
            bar.update()
            fields = {"base": base, "pmcid": pmcid, "version": version}
            dest = out_dir / f"{pmcid}.{version}.xml"
            meta_dest = out_dir / f"{pmcid}.{version}.json"
            if dest.is_file() and meta_dest.is_file():  # written last, after the XML was complete
                stats.keep()
                stats.add_info("present")
                continue
            try:
                meta = json.loads(get_bytes(meta_template.format(**fields), policy))
                license_ = _license_field(meta)
                if subset == "commercial" and classify_license(license_) not in COMMERCIAL:
                    stats.drop("license")
                    continue
                result = fetch(xml_template.format(**fields), dest, None, policy)
                atomic_write_json(meta_dest, meta)
                stats.keep()
                stats.add_info(result)
            except (FetchError, ValueError) as exc:
                kind = exc.kind if isinstance(exc, FetchError) else "bad_metadata"
                log.error("%s %s: %s", pmcid, kind, exc)
                stats.error(kind)
    return stats.finish()
