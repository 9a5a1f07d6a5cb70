"""Downloads against a real HTTP server on loopback serving fixture files.

The server supports ``Range`` requests (206), can drop a connection half-way
through a file once, and serves one file whose ``.md5`` does not match — the
situations a multi-day download of ~1,300 NLM files meets.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading
from pathlib import Path

import pytest

from data_prep.cli import main
from data_prep.sources.download import download_pmc, download_pubmed, read_pmc_ids
from data_prep.common.http_fetch import FetchPolicy

from ..conftest import assert_balanced, gzip_to

FAST = FetchPolicy(retries=3, backoff_s=0.01, timeout_s=10)


class Handler(http.server.BaseHTTPRequestHandler):
    root: Path
    drop_once: set  # paths whose first GET is cut after half the bytes
    log: list

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        path = self.root / self.path.lstrip("/")
        self.log.append((self.path, self.headers.get("Range")))
        if path.is_dir():
            names = sorted(p.name for p in path.iterdir())
            body = "<html><body>" + "".join(f'<a href="{n}">{n}</a>\n' for n in names) + "</body></html>"
            return self._send(200, body.encode(), {})
        if not path.is_file():
            return self._send(404, b"not found", {})
        data = path.read_bytes()
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if m:
            start = int(m.group(1))
            if start >= len(data):
                return self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
        part = data[start:]
        headers = {"Accept-Ranges": "bytes"}
        if m:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        if self.path in self.drop_once:
            self.drop_once.discard(self.path)
            self.send_response(206 if m else 200)
            self.send_header("Content-Length", str(len(part)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(part[: len(part) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(206 if m else 200, part, headers)

    def _send(self, code, body, headers):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "www"
    handler = type("H", (Handler,), {"root": root, "drop_once": set(), "log": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root, handler
    httpd.shutdown()
    httpd.server_close()


def publish(root: Path, src: Path, name: str, good_md5: bool = True) -> bytes:
    d = root / "pubmed" / "baseline"
    d.mkdir(parents=True, exist_ok=True)
    data = gzip_to(src, d / name).read_bytes()
    digest = hashlib.md5(data).hexdigest() if good_md5 else "0" * 32
    (d / f"{name}.md5").write_text(f"MD5({name})= {digest}\n")
    return data


def test_pubmed_download_resume_md5_and_idempotence(server, fx, tmp_path):
    url, root, handler = server
    a = publish(root, fx / "pubmed_baseline.xml", "pubmed25n0001.xml.gz")
    b = publish(root, fx / "pubmed_update.xml", "pubmed25n0002.xml.gz")
    publish(root, fx / "pubmed_xxe.xml", "pubmed25n0003.xml.gz", good_md5=False)
    handler.drop_once.add("/pubmed/baseline/pubmed25n0002.xml.gz")
    out = tmp_path / "dl"
    stats = download_pubmed(out, "baseline", url + "/pubmed/", policy=FAST)
    assert (out / "pubmed25n0001.xml.gz").read_bytes() == a
    assert (out / "pubmed25n0002.xml.gz").read_bytes() == b
    assert not (out / "pubmed25n0003.xml.gz").exists() and not (out / "pubmed25n0003.xml.gz.part").exists()
    assert stats.kept == 2 and stats.errors == {"md5_mismatch": 1} and stats.balanced
    resumed = [r for p, r in handler.log if p.endswith("0002.xml.gz") and r]
    assert resumed and resumed[0] == f"bytes={len(b) // 2}-"  # the second request continued where the drop was
    assert (out / "pubmed25n0001.xml.gz.md5").is_file()

    handler.log.clear()
    again = download_pubmed(out, "baseline", url + "/pubmed/", limit=2, policy=FAST)
    assert again.info == {"present": 2}
    assert not [p for p, _ in handler.log if p.endswith(".xml.gz")]  # verified locally, nothing re-fetched


def test_partial_file_from_an_earlier_run_is_resumed(server, fx, tmp_path):
    url, root, handler = server
    data = publish(root, fx / "pubmed_baseline.xml", "pubmed25n0001.xml.gz")
    out = tmp_path / "dl"
    out.mkdir()
    (out / "pubmed25n0001.xml.gz.part").write_bytes(data[:100])
    download_pubmed(out, "baseline", url + "/pubmed/", policy=FAST)
    assert (out / "pubmed25n0001.xml.gz").read_bytes() == data
    assert ("/pubmed/baseline/pubmed25n0001.xml.gz", "bytes=100-") in handler.log


def test_cli_exit_code_and_stats(server, fx, tmp_path):
    url, root, _ = server
    publish(root, fx / "pubmed_baseline.xml", "pubmed25n0001.xml.gz", good_md5=False)
    out = tmp_path / "dl"
    assert main(["download", "pubmed", "--out", str(out), "--base-url", url + "/pubmed/", "--retries", "0"]) == 1
    d = assert_balanced(out / "download-baseline.stats.json")
    assert d["errors"] == {"md5_mismatch": 1}
    assert main(["download", "pubmed", "--out", str(out), "--base-url", url + "/nothing/", "--retries", "0"]) == 1


def test_pmc_per_article_layout(server, fx, tmp_path):
    url, root, handler = server
    metas = {"PMC1000001": "CC BY", "PMC1000002": "CC BY-NC", "PMC1000003": "CC0"}
    for pmcid, lic in metas.items():
        d = root / "pmc" / f"{pmcid}.1"
        d.mkdir(parents=True)
        src = next((fx / "pmc").glob(f"{pmcid}*"))
        (d / f"{pmcid}.1.xml").write_bytes(src.read_bytes())
        (d / f"{pmcid}.1.json").write_text(json.dumps({"pmcid": pmcid, "version": 1, "license_code": lic}))
    ids = tmp_path / "ids.txt"
    ids.write_text("PMC1000001\nPMC1000002.1\npmc1000003\nPMC1000009\n")
    assert read_pmc_ids(ids)[:2] == [("PMC1000001", 1), ("PMC1000002", 1)]
    handler.drop_once.add("/pmc/PMC1000003.1/PMC1000003.1.xml")
    out = tmp_path / "pmc"
    stats = download_pmc(out, ids, subset="commercial", base_url=url + "/pmc", policy=FAST)
    assert sorted(p.name for p in out.glob("*.xml")) == ["PMC1000001.1.xml", "PMC1000003.1.xml"]
    assert (out / "PMC1000003.1.xml").read_bytes() == (root / "pmc/PMC1000003.1/PMC1000003.1.xml").read_bytes()
    assert stats.kept == 2 and stats.dropped == {"license": 1} and stats.errors == {"http_error": 1}
    again = download_pmc(out, ids, subset="commercial", base_url=url + "/pmc", policy=FAST)
    assert again.info.get("present") == 2
