"""The tar layer of :class:`biomamba.data.format.ShardWriter` for integer mtimes (data_prep's shards).

:class:`TarMembers` writes samples exactly as ``webdataset.TarWriter`` does (members sorted by
extension, mode 0444, tarfile's default header format), without its per-member dict encoding,
``TarInfo`` copy and ``copyfileobj`` overhead, and a whole batch of documents with one ``write``.
Headers of plain members (ASCII name of at most 100 bytes) are patched from one
``TarInfo.tobuf`` template — name, size and checksum, the only fields that differ — other
members go through ``tobuf`` itself.  The bytes are checked against webdataset's in
tests/data_prep/stages/test_shard_writer.py and test_shard_golden.py.
"""

from __future__ import annotations

import tarfile

_PAD = [b"\0" * n for n in range(512)]


class TarMembers:
    def __init__(self, fileobj, user: str, group: str, mtime: int, mode: int = 0o444):
        self.f, self.user, self.group, self.mtime, self.mode = fileobj, user, group, mtime, mode
        self.offset = 0
        t = self._tobuf("x", 0)
        self._head, self._mid, self._tail = t[100:124], t[136:148], t[156:]
        # checksum of the fixed fields (the checksum field itself counts as 8 spaces); per member
        # only the name and size bytes are added, instead of summing all 512 bytes again
        self._fixed_sum = sum(self._head) + sum(self._mid) + sum(self._tail) + 8 * 0x20
        self._json_sum, self._npy_sum = sum(b".json"), sum(b".tokens.npy")

    def _tobuf(self, name: str, size: int) -> bytes:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode, ti.uname, ti.gname = size, self.mtime, self.mode, self.user, self.group
        return ti.tobuf(tarfile.DEFAULT_FORMAT, tarfile.ENCODING, "surrogateescape")

    def _plain(self, raw: bytes, name_sum: int, size: int) -> bytes:
        """The 512-byte header of a member with ASCII name ``raw`` (<= 100 bytes, summing to ``name_sum``)."""
        size_field = b"%011o\0" % size
        chksum = self._fixed_sum + name_sum + sum(size_field)  # tarfile's: all bytes, the field as spaces
        return b"".join((raw.ljust(100, b"\0"), self._head, size_field, self._mid, b"%06o\0 " % chksum, self._tail))

    def _header(self, name: str, size: int) -> bytes:
        raw = name.encode("ascii", "strict") if name.isascii() else b""
        if not raw or len(raw) > 100 or size >= 8**11:
            return self._tobuf(name, size)
        return self._plain(raw, sum(raw), size)

    def append(self, out: list, key: str, meta_json: bytes, npy_header: bytes, tokens: bytes) -> None:
        """Add the members of one document (``<key>.json``, then ``<key>.tokens.npy``) to ``out``."""
        n_json, n_npy = len(meta_json), len(npy_header) + len(tokens)
        raw = key.encode("ascii") if key.isascii() else b""
        if raw and len(raw) <= 89 and max(n_json, n_npy) < 8**11:  # both names fit the 100-byte field
            s = sum(raw)
            h_json = self._plain(raw + b".json", s + self._json_sum, n_json)
            h_npy = self._plain(raw + b".tokens.npy", s + self._npy_sum, n_npy)
        else:
            h_json, h_npy = self._header(f"{key}.json", n_json), self._header(f"{key}.tokens.npy", n_npy)
        p_json, p_npy = -n_json % 512, -n_npy % 512
        out += (h_json, meta_json, _PAD[p_json], h_npy, npy_header, tokens, _PAD[p_npy])
        self.offset += len(h_json) + n_json + p_json + len(h_npy) + n_npy + p_npy

    def write(self, out: list) -> None:
        self.f.write(b"".join(out))

    def close(self) -> None:
        if self.f.closed:  # abort() after a failed close(): nothing more to write
            return
        end = 2 * tarfile.BLOCKSIZE
        self.f.write(b"\0" * (end + (-(self.offset + end) % tarfile.RECORDSIZE)))
