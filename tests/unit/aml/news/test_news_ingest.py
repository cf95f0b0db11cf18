"""Reading news from files and from a live local HTTP feed (RSS, Atom, JSON Feed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from netfin.aml.news.errors import FeedInvalid, FeedUnavailable, NewsLimitExceeded
from netfin.aml.news.ingest import fetch_feed, item_id_of, parse_xml_feed, read_file
from netfin.core.clock import NS_PER_SECOND

T0 = 1_767_225_600 * NS_PER_SECOND  # 2026-01-01T00:00:00Z

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Wire</title>
<item><title>Nokia shares fell</title><link>https://wire.example/1</link>
<description>&lt;p&gt;Profit warning&lt;/p&gt;</description>
<pubDate>Thu, 01 Jan 2026 00:00:00 +0000</pubDate></item>
<item><title>海正药业遭立案调查</title><link>https://wire.example/2</link>
<pubDate>Thu, 01 Jan 2026 08:00:00 +0800</pubDate></item>
</channel></rss>""".encode()

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom wire</title>
<entry><title>Shell cuts dividend</title><link href="https://atom.example/a"/><id>urn:a</id>
<updated>2026-01-01T00:00:00Z</updated><summary>Costs rose.</summary></entry></feed>"""

JSON_FEED = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "JSON wire",
"items": [{"id": "j1", "url": "https://json.example/1", "title": "Sales increased",
"content_text": "Net sales rose 5 %.", "date_published": "2026-01-01T00:00:00+00:00"}]}"""

BOMB = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>
<rss version="2.0"><channel><title>&lol2;</title></channel></rss>"""


class _Feeds(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, str, bytes]]] = {
        "/rss": (200, "application/rss+xml", RSS),
        "/atom": (200, "application/atom+xml", ATOM),
        "/json": (200, "application/feed+json", JSON_FEED),
        "/big": (200, "application/rss+xml", RSS * 100),
        "/gone": (404, "text/plain", b"no"),
    }

    def do_GET(self) -> None:
        status, kind, body = self.routes.get(self.path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Feeds)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_rss_over_http(server: str) -> None:
    items = fetch_feed(f"{server}/rss")
    assert [i.title for i in items] == ["Nokia shares fell", "海正药业遭立案调查"]
    assert items[0].text == "Profit warning" and items[0].source == "Wire" and items[0].language == "en"
    assert items[1].language == "zh" and items[0].published_ns == items[1].published_ns == T0
    assert items[0].item_id == item_id_of("Wire", "https://wire.example/1", "", "")


def test_atom_and_json_feed_over_http(server: str) -> None:
    atom = fetch_feed(f"{server}/atom")
    assert len(atom) == 1 and atom[0].url == "https://atom.example/a" and atom[0].text == "Costs rose."
    feed = fetch_feed(f"{server}/json")
    assert feed[0].item_id == "j1" and feed[0].source == "JSON wire" and feed[0].published_ns == T0


def test_http_errors_and_size_limit(server: str) -> None:
    with pytest.raises(FeedUnavailable):
        fetch_feed(f"{server}/gone")
    with pytest.raises(NewsLimitExceeded):
        fetch_feed(f"{server}/big", bytes_max=len(RSS) * 10)
    with pytest.raises(FeedUnavailable):
        fetch_feed("http://127.0.0.1:9/rss", timeout_s=1.0)
    with pytest.raises(FeedInvalid):
        fetch_feed("file:///etc/passwd")


def test_entity_declarations_are_refused() -> None:
    with pytest.raises(FeedInvalid, match="entities"):
        parse_xml_feed(BOMB, "x")


def test_jsonl_and_csv_files(tmp_path: Path) -> None:
    jsonl = tmp_path / "news.jsonl"
    jsonl.write_text(
        '{"title": "Nokia profit rose", "published": "2026-01-01T00:00:00Z", "url": "https://a/1"}\n\n'
        '{"text": "平安银行跌停", "published_ns": 5, "source": "guba"}\n',
        encoding="utf-8",
    )
    items = read_file(jsonl)
    assert [i.source for i in items] == ["news.jsonl", "guba"]
    assert items[0].published_ns == T0 and items[1].language == "zh" and items[1].published_ns == 5
    table = tmp_path / "news.csv"
    table.write_text("title,text,published,source\nShell cuts dividend,,2026-01-01T08:00:00+08:00,wire\n")
    (row,) = read_file(table)
    assert row.title == "Shell cuts dividend" and row.published_ns == T0 and row.source == "wire"


def test_bad_rows_name_their_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "x", "published": "2026-01-01T00:00:00Z"}\n{"title": "no time"}\n')
    with pytest.raises(FeedInvalid, match="line 2"):
        read_file(bad)
    language = tmp_path / "lang.jsonl"
    language.write_text('{"title": "x", "published": "2026-01-01T00:00:00Z", "language": "fr"}\n')
    with pytest.raises(FeedInvalid, match="line 1"):
        read_file(language)
    with pytest.raises(FeedInvalid):
        read_file(tmp_path / "news.txt")


def test_long_texts_are_cut_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_text('{"title": "t", "text": "' + "a" * 50_000 + '", "published_ns": 1}\n')
    (item,) = read_file(path)
    assert len(item.text) == 20_000
