"""Classify an article licence (URL, code or statement) for the commercial-use filter.

"Commercial" follows PMC's ``oa_comm`` definition: CC BY and CC0 (and public
domain marks).  Every other licence — CC BY-NC*, BY-SA, BY-ND, publisher
terms, none — is excluded when ``licenses: commercial`` is chosen.
"""

from __future__ import annotations

import re

COMMERCIAL = {"cc-by", "cc0", "public-domain"}
_CC_URL = re.compile(r"creativecommons\.org/licenses/([a-z\-]+)", re.I)
_CODE = re.compile(r"^\s*cc[\s\-_]*(by(?:[\s\-_]*(?:nc|sa|nd))*|0|zero)\b", re.I)


def classify_license(text: str | None) -> str | None:
    """``cc-by``, ``cc-by-nc-sa``, ``cc0``, ``public-domain``, ``other`` or ``None`` (no licence)."""
    if not text:
        return None
    t = text.strip()
    low = t.lower()
    m = _CC_URL.search(t)
    if m:
        return "cc-" + m.group(1).lower().strip("-")
    if "publicdomain/zero" in low or re.search(r"\bcc0\b", low):
        return "cc0"
    if "publicdomain/mark" in low or "public domain" in low or "public-domain" in low:
        return "public-domain"
    m = _CODE.match(t)
    if m:
        code = re.sub(r"[\s_]+", "-", m.group(1).lower())
        return "cc0" if code in ("0", "zero") else "cc-" + code
    if "creative commons" in low and "attribution" in low:
        parts = ["cc-by"]
        if "noncommercial" in low.replace("-", "").replace(" ", ""):
            parts.append("nc")
        if "sharealike" in low.replace("-", "").replace(" ", ""):
            parts.append("sa")
        if "noderiv" in low.replace("-", "").replace(" ", ""):
            parts.append("nd")
        return "-".join(parts)
    return "other"


def allows_commercial(text: str | None) -> bool:
    return classify_license(text) in COMMERCIAL
