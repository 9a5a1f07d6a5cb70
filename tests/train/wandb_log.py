"""Read back what W&B wrote offline: the history rows of ``<run_dir>/wandb/offline-run-*/run-*.wandb``.

wandb (0.31, Go core) has no Python reader for its transaction log any more. The file is a
LevelDB-style log (a 7-byte ``:W&B`` header, then 32 KiB blocks of records with a 7-byte
header: crc32, length, type; types FULL=1, FIRST=2, MIDDLE=3, LAST=4) of ``Record`` protobufs,
parsed here with wandb's own protobuf classes.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

BLOCK = 32 * 1024


def _records(path: Path):
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path}: not a W&B transaction log"
    pos, buf = 7, b""
    while pos + 7 <= len(data):
        if BLOCK - pos % BLOCK < 7:  # block trailer padding
            pos += BLOCK - pos % BLOCK
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        pos += 7
        if pos + length > len(data):  # the tail of a log whose writer was killed mid-record
            break
        if length == 0 and kind == 0:  # zero padding up to the next block
            pos += (BLOCK - pos % BLOCK) % BLOCK
            continue
        buf += data[pos:pos + length]
        pos += length
        if kind in (1, 4):
            rec = pb.Record()
            rec.ParseFromString(buf)
            buf = b""
            yield rec


def history(run_dir: Path) -> list[list[dict]]:
    """One list of history rows ({key: value}, ``_step`` included) per offline run segment, oldest first."""
    segments = []
    for f in sorted(Path(run_dir).glob("wandb/offline-run-*/run-*.wandb")):  # names start with the start time
        rows = []
        for rec in _records(f):
            if rec.WhichOneof("record_type") == "history":
                rows.append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in rec.history.item})
        segments.append(rows)
    return segments
