"""Read news from a file (JSON Lines, CSV) or an HTTP feed (RSS 2.0, Atom, JSON Feed).

A row or entry carries a title and/or a text, a published time (ISO 8601
with an offset, RFC 822 in RSS, or ``published_ns`` as an integer), and may
carry a source, a URL, a language and an id. Missing ids are derived from the
source and the URL (or, without a URL, the words), so the same story read
twice keeps its id; a missing language is detected by script. Titles and
texts longer than the model's limits are cut, so one long article does not
refuse a whole feed.

XML is parsed by lxml with entity expansion, DTD loading and network access
off, and a document declaring entities is refused outright. Files and
responses are bounded in bytes and items; HTTP has a timeout and a bounded
number of redirects.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from lxml import etree  # type: ignore[import-untyped]

from netfin.aml.news.errors import FeedInvalid, FeedUnavailable, NewsItemInvalid, NewsLimitExceeded
from netfin.aml.news.model import (
    BATCH_ITEMS_MAX,
    SOURCE_LENGTH_MAX,
    TEXT_LENGTH_MAX,
    TITLE_LENGTH_MAX,
    URL_LENGTH_MAX,
    NewsItem,
    content_hash,
)
from netfin.aml.news.sentiment import detect_language
from netfin.core.clock import ns_from_datetime

FILE_BYTES_MAX = 64 * 1024 * 1024
FEED_BYTES_MAX = 16 * 1024 * 1024
FEED_TIMEOUT_S = 10.0
FEED_REDIRECTS_MAX = 3
CSV_FIELD_BYTES_MAX = 1024 * 1024
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/feed+json, application/json"

_TAG = re.compile(r"<[^>]{0,2000}>")
_ATOM = "{http://www.w3.org/2005/Atom}"


def item_id_of(source: str, url: str, title: str, text: str) -> str:
    """A stable id: the same source and URL (or words, without a URL) give the same id."""
    key = f"{source}\n{url}" if url else f"{source}\n#{content_hash(title, text)}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _plain(value: Any) -> str:
    text = "" if value is None else str(value)
    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


def _published_ns(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value.strip():
        raise FeedInvalid(f"{where}: a published time is required")
    raw = value.strip()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        try:
            moment = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError) as error:
            raise FeedInvalid(f"{where}: cannot read the time {raw[:40]!r}") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # feeds without an offset mean UTC
    try:
        return ns_from_datetime(moment)
    except (ValueError, OverflowError) as error:
        raise FeedInvalid(f"{where}: the time {raw[:40]!r} is out of range") from error


def item_from_mapping(row: Mapping[str, Any], *, default_source: str, where: str) -> NewsItem:
    """One news item from a row of a file or an entry of a JSON feed."""
    title = _plain(row.get("title"))[:TITLE_LENGTH_MAX]
    text = _plain(row.get("text") or row.get("content_text") or row.get("summary") or row.get("content_html"))
    text = text[:TEXT_LENGTH_MAX]
    source = str(row.get("source") or default_source)[:SOURCE_LENGTH_MAX]
    url = str(row.get("url") or "")[:URL_LENGTH_MAX]
    published = row.get("published_ns", row.get("published", row.get("date_published")))
    language = str(row.get("language") or detect_language(f"{title} {text}"))
    item_id = str(row.get("item_id") or row.get("id") or item_id_of(source, url, title, text))
    try:
        return NewsItem(
            item_id=item_id[:64],
            source=source,
            published_ns=_published_ns(published, where),
            title=title,
            text=text,
            language=language,
            url=url,
        )
    except NewsItemInvalid as error:
        raise FeedInvalid(f"{where}: {error.message}") from error


def _bounded(items: Iterable[NewsItem]) -> list[NewsItem]:
    kept: list[NewsItem] = []
    for item in items:
        if len(kept) >= BATCH_ITEMS_MAX:
            raise NewsLimitExceeded(f"more than {BATCH_ITEMS_MAX} items in one file or feed")
        kept.append(item)
    return kept


def parse_jsonl(content: bytes, source: str) -> list[NewsItem]:
    def rows() -> Iterable[NewsItem]:
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                raise FeedInvalid(f"line {number}: not JSON ({error})") from error
            if not isinstance(row, dict):
                raise FeedInvalid(f"line {number}: each line must be a JSON object")
            yield item_from_mapping(row, default_source=source, where=f"line {number}")

    return _bounded(rows())


def parse_csv(content: bytes, source: str) -> list[NewsItem]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FeedInvalid(f"a CSV file must be UTF-8: {error}") from error
    csv.field_size_limit(CSV_FIELD_BYTES_MAX)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or not ({"title", "text"} & set(reader.fieldnames)):
        raise FeedInvalid("a CSV file needs a header with a title or a text column")
    try:
        return _bounded(
            item_from_mapping(row, default_source=source, where=f"row {number}")
            for number, row in enumerate(reader, start=2)
        )
    except csv.Error as error:
        raise FeedInvalid(f"bad CSV: {error}") from error


def parse_json_feed(content: bytes, source: str) -> list[NewsItem]:
    """A JSON Feed (https://jsonfeed.org/version/1.1) or a JSON list of item objects."""
    try:
        document = orjson.loads(content)
    except orjson.JSONDecodeError as error:
        raise FeedInvalid(f"not JSON: {error}") from error
    if isinstance(document, dict):
        source = str(document.get("title") or source)
        entries = document.get("items")
    else:
        entries = document
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise FeedInvalid("a JSON feed needs a list of item objects")
    return _bounded(
        item_from_mapping(entry, default_source=source, where=f"item {number}")
        for number, entry in enumerate(entries, start=1)
    )


def _safe_xml(content: bytes) -> Any:
    if b"<!ENTITY" in content:
        raise FeedInvalid("XML that declares entities is refused")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )
    try:
        return etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as error:
        raise FeedInvalid(f"bad XML: {error}") from error


def _child_text(element: Any, tag: str) -> str:
    found = element.find(tag)
    return "" if found is None or found.text is None else str(found.text)


def _rss_rows(root: Any, source: str) -> tuple[str, list[dict[str, Any]]]:
    channel = root.find("channel")
    if channel is None:
        raise FeedInvalid("an RSS document needs a channel")
    source = _child_text(channel, "title").strip() or source
    rows = [
        {
            "id": _child_text(entry, "guid").strip() or None,
            "title": _child_text(entry, "title"),
            "text": _child_text(entry, "description"),
            "url": _child_text(entry, "link").strip(),
            "published": _child_text(entry, "pubDate"),
        }
        for entry in channel.iter("item")
    ]
    return source, rows


def _atom_rows(root: Any, source: str) -> tuple[str, list[dict[str, Any]]]:
    source = _child_text(root, f"{_ATOM}title").strip() or source
    rows = []
    for entry in root.iter(f"{_ATOM}entry"):
        link = entry.find(f"{_ATOM}link")
        rows.append(
            {
                "id": None,
                "title": _child_text(entry, f"{_ATOM}title"),
                "text": _child_text(entry, f"{_ATOM}summary") or _child_text(entry, f"{_ATOM}content"),
                "url": "" if link is None else str(link.get("href") or ""),
                "published": _child_text(entry, f"{_ATOM}published") or _child_text(entry, f"{_ATOM}updated"),
            }
        )
    return source, rows


def parse_xml_feed(content: bytes, source: str) -> list[NewsItem]:
    """An RSS 2.0 or Atom 1.0 document."""
    root = _safe_xml(content)
    tag = etree.QName(root).localname
    if tag == "rss":
        source, rows = _rss_rows(root, source)
    elif tag == "feed":
        source, rows = _atom_rows(root, source)
    else:
        raise FeedInvalid(f"not an RSS or Atom document (root <{tag}>)")
    # A feed's guid is only unique within the feed, so ids are always derived from source and URL.
    for row in rows:
        row["id"] = None
    return _bounded(
        item_from_mapping(row, default_source=source, where=f"entry {number}")
        for number, row in enumerate(rows, start=1)
    )


_BY_SUFFIX: dict[str, Callable[[bytes, str], list[NewsItem]]] = {
    ".jsonl": parse_jsonl,
    ".ndjson": parse_jsonl,
    ".csv": parse_csv,
    ".json": parse_json_feed,
    ".xml": parse_xml_feed,
    ".rss": parse_xml_feed,
    ".atom": parse_xml_feed,
}


def read_file(path: Path | str, *, source: str | None = None) -> list[NewsItem]:
    """News items from a file; the format follows the suffix (.jsonl, .csv, .json, .xml/.rss/.atom)."""
    chosen = Path(path)
    parse = _BY_SUFFIX.get(chosen.suffix.lower())
    if parse is None:
        raise FeedInvalid(f"unknown news file type {chosen.suffix!r}; use one of {sorted(_BY_SUFFIX)}")
    try:
        size = chosen.stat().st_size
        if size > FILE_BYTES_MAX:
            raise NewsLimitExceeded(f"{chosen.name} is larger than {FILE_BYTES_MAX} bytes")
        content = chosen.read_bytes()
    except OSError as error:
        raise FeedInvalid(f"cannot read {chosen}: {error.strerror}") from error
    return parse(content, source or chosen.name)


def parse_feed(content: bytes, content_type: str, source: str) -> list[NewsItem]:
    """A feed's body, by its media type, else by its first character."""
    kind = content_type.split(";")[0].strip().lower()
    if kind.endswith("json") or (not kind.endswith("xml") and content.lstrip()[:1] in (b"{", b"[")):
        return parse_json_feed(content, source)
    return parse_xml_feed(content, source)


def fetch_feed(
    url: str,
    *,
    client: httpx.Client | None = None,
    timeout_s: float = FEED_TIMEOUT_S,
    bytes_max: int = FEED_BYTES_MAX,
) -> list[NewsItem]:
    """Fetch an RSS, Atom or JSON feed over HTTP(S) and read its items."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > URL_LENGTH_MAX:
        raise FeedInvalid("a feed URL must be http(s)://host/...")
    own = client is None
    session = client or httpx.Client(
        timeout=timeout_s, follow_redirects=True, max_redirects=FEED_REDIRECTS_MAX
    )
    try:
        with session.stream("GET", url, headers={"Accept": FEED_ACCEPT}) as response:
            if response.status_code != 200:
                raise FeedUnavailable(f"{url} answered HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > bytes_max:
                    raise NewsLimitExceeded(f"{url} sent more than {bytes_max} bytes")
            content_type = response.headers.get("content-type", "")
    except httpx.HTTPError as error:
        raise FeedUnavailable(f"cannot fetch {url}: {type(error).__name__}") from error
    finally:
        if own:
            session.close()
    return parse_feed(bytes(body), content_type, parts.hostname)
