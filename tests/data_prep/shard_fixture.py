"""A fixed split (parts + ``parts.json``) for the shard byte-identity test, built from a seeded generator.

The records cover what the shard writer must handle: documents from one word to ~2,000 words,
non-ASCII text, ids with dots (``pmc:PMC1.2``), a 130-character id (tar PAX header), a non-ASCII
id, metadata present/absent/None, blank lines, bad JSON, a record without ``id``, empty text.
The tokenizer ``tests/fixtures/data_prep/shard/tokenizer.model`` (600 pieces) was trained once on the
train texts with data_prep.stages.tokenizer.train_tokenizer's settings (``_train_spm``, one thread) and committed, so
the golden hashes do not depend on SentencePiece's trainer.  ``python -m tests.data_prep.shard_fixture
DIR`` writes the split for a look.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

WORDS = ("the of and in to a with for was were patients study cell cells protein expression "
         "treatment clinical cancer results gene mice levels disease increased analysis risk "
         "significantly receptor mg/kg p<0.05 95% CI TNF-α IL-6 β-catenin Ca²⁺ µmol/L naïve "
         "Müller café Straße 肝癌 患者 ≥ ± — (n=12) [3] 1,234 0.5 HbA1c COVID-19 SARS-CoV-2").split()


def _text(rng: random.Random, n_words: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n_words)]
    for i in range(0, n_words, rng.randint(8, 30)):
        words[i] = words[i].capitalize() + ("." if i else "")
    return " ".join(words) + "."


def _record(rng: random.Random, i: int) -> dict:
    n = rng.choice((1, 3, 20, 80, 150, 250, 400)) if i % 23 else rng.randint(800, 2000)
    doc_id = f"pmc:PMC{5000 + i}.{i % 3}" if i % 11 == 0 else f"pmid:{100000 + i}"
    rec = {"id": doc_id, "pmid": str(100000 + i), "title": "t", "text": _text(rng, n), "language": ["eng"],
           "year": 1990 + i % 35 if i % 5 else None, "source": f"pubmed25n{i % 4:04d}.xml.gz"}
    if i % 7 == 0:
        rec["license"] = "CC BY"
    if i % 13 == 0:
        del rec["source"]
    return rec


def part_lines(part: int) -> list[str]:
    rng = random.Random(1234 + part)
    n = 120 if part < 3 else 40
    lines = [json.dumps(_record(rng, part * 1000 + i), ensure_ascii=bool(i % 2)) for i in range(n)]
    if part == 0:
        lines[5:5] = ["", "{not json", json.dumps({"text": "no id"}), json.dumps({"id": "pmid:9", "text": ""}),
                      json.dumps({"id": "pmid:8", "text": 17}), "   "]
        lines.append(json.dumps({"id": "pmc:PMC" + "9" * 126, "text": "A long id.", "source": "ünïcode-λ.xml"}))
        unicode_id = {"id": "pmid:λ-ünïcode", "text": "Ünïcode id, µ ± ≥ 肝癌.", "year": 2001}
        lines.append(json.dumps(unicode_id, ensure_ascii=False))
    return lines


def write_split(out: Path) -> Path:
    """``out/train`` (3 parts) and ``out/val`` (1 part) with their ``parts.json``; returns ``out``."""
    for split, parts in (("train", (0, 1, 2)), ("val", (3,))):
        d = out / split
        d.mkdir(parents=True, exist_ok=True)
        entries = []
        for k, p in enumerate(parts):
            data = ("\n".join(part_lines(p)) + "\n").encode("utf-8")
            name = f"part-{k:06d}.jsonl"
            (d / name).write_bytes(data)
            docs = sum(1 for line in data.splitlines() if line.strip())
            entries.append({"name": name, "documents": docs, "sha256": hashlib.sha256(data).hexdigest()})
        (d / "parts.json").write_text(json.dumps({"split": split, "parts": entries,
                                                  "documents": sum(e["documents"] for e in entries)}))
    return out


if __name__ == "__main__":
    write_split(Path(sys.argv[1]))
