"""Flatten inline markup (``<i>``, ``<sup>``, MathML, ...) into plain text.

The text of an element is its ``.text`` followed, for each child, by the
child's flattened text and then the child's ``.tail`` — exactly how the words
sit in the source, so ``r<sup>2</sup>`` stays ``r2`` and ``<i>TERT</i> gene``
stays ``TERT gene``: nothing is glued or split beyond whitespace normalization.

MathML is the exception: its layout elements are pretty-printed with
indentation that is not content, so a ``math`` element is rendered as the
concatenation of its token elements (``mi``, ``mn``, ``mo``, ``mtext``, ``ms``),
e.g. ``V̇O2max`` markup becomes ``V.O2max`` instead of ``V . O 2 m a x``.
"""

from __future__ import annotations

from typing import Callable

from lxml import etree

from data_prep.sources.safe_xml import local_name

MATH_TOKENS = {"mi", "mn", "mo", "mtext", "ms"}

def normalize_ws(text: str) -> str:
    """Collapse runs of whitespace (any Unicode space, newline, tab) to one space."""
    return " ".join(text.split())


def math_text(el: etree._Element) -> str:
    parts = []
    for node in el.iter():
        name = local_name(node.tag)
        if name in MATH_TOKENS and node.text:
            t = node.text.strip()
            if name == "mtext" and t:
                t = f" {t} " if node.text != node.text.strip() else t
            parts.append(t)
    if not parts:
        return el.get("alttext", "")
    return "".join(parts)


def flatten(
    el: etree._Element,
    skip: frozenset[str] = frozenset(),
    special: Callable[[etree._Element, str], str | None] | None = None,
) -> str:
    """Raw (not yet whitespace-normalized) text of ``el`` with inline markup flattened.

    ``skip``: local names whose content is dropped (their tail is kept).
    ``special(child, name)``: may return replacement text for a child, or
    ``None`` to flatten it normally.
    """
    if len(el) == 0:
        return el.text or ""
    parts = [el.text or ""]
    for child in el:
        tag = child.tag
        if tag is etree.Entity or not isinstance(tag, str):
            pass  # unexpanded entity reference, comment or PI: no text of its own
        else:
            name = local_name(tag)
            if name == "math":
                parts.append(math_text(child))
            elif name in skip:
                pass
            else:
                rep = special(child, name) if special is not None else None
                parts.append(rep if rep is not None else flatten(child, skip, special))
        if child.tail:
            parts.append(child.tail)
    return "".join(parts)


def flat_text(el: etree._Element | None) -> str:
    """Whitespace-normalized flattened text ("" for ``None``)."""
    if el is None:
        return ""
    return normalize_ws(flatten(el))
