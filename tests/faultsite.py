"""A large, well-behaved AZERTAC-like site on 127.0.0.1, for fault trials (tests/test_faults.py)
and the workers benchmark (bench/workers_bench.py).

One RSS feed of N items (titles, links and dates only, as AZERTAC's) with a fixed ETag and
Last-Modified, answering 304 to a conditional request: after the first poll the feed never
changes, so whatever the monitor has not archived by then it must take from its own records, not
from the feed. N article pages in AZERTAC's markup (sites.md §1.5, tests/fixtures/extract), each
about Azerbaijan and Kazakhstan in Azerbaijani, so each is tagged relevant, and each different
enough from every other (sentences and figures drawn per id) that dedupe links none of them.

The server counts GETs per path and keeps who asked (the User-Agent, which the workers benchmark
sets per worker), so a trial can tell articles never fetched from articles fetched twice; an
optional delay before each article reply makes a poll last long enough for a kill to land in
the middle of it.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE_NAME = "faultsite-az"
FIRST_ID = 4_600_000
BAKU = timezone(timedelta(hours=4))
NEWEST = datetime(2026, 11, 20, 12, 0, tzinfo=BAKU)  # item k is dated k × 7 minutes before
LAST_MODIFIED = "Fri, 20 Nov 2026 08:00:00 GMT"
ROBOTS_TXT = b"User-agent: *\nAllow: /\n"
_CHOICE = re.compile(r"\[([^\]]+)\]")

MONTHS = [
    "yanvar",
    "fevral",
    "mart",
    "aprel",
    "may",
    "iyun",
    "iyul",
    "avqust",
    "sentyabr",
    "oktyabr",
    "noyabr",
    "dekabr",
]
CITIES = ["Bakı", "Astana", "Almatı", "Aktau", "Sumqayıt", "Gəncə", "Şymkent", "Quba", "Ələt"]
SECTORS = [
    "nəqliyyat",
    "enerji",
    "kənd təsərrüfatı",
    "rəqəmsal texnologiyalar",
    "turizm",
    "təhsil",
    "səhiyyə",
    "mədəniyyət",
    "logistika",
    "maliyyə",
    "neft-kimya",
    "su təsərrüfatı",
]
BODIES = [
    "Xarici İşlər Nazirliyi",
    "İqtisadiyyat Nazirliyi",
    "Rəqəmsal İnkişaf və Nəqliyyat Nazirliyi",
    "Energetika Nazirliyi",
    "Kənd Təsərrüfatı Nazirliyi",
    "Təhsil Nazirliyi",
    "Mədəniyyət Nazirliyi",
    "Səhiyyə Nazirliyi",
]
GOODS = ["taxıl", "pambıq", "metal", "gübrə", "avtomobil hissələri", "konteyner", "un", "sement"]
EVENTS = [
    "işçi qrupunun iclası",
    "biznes forumu",
    "hökumətlərarası komissiyanın sessiyası",
    "ekspertlər görüşü",
    "investisiya konfransı",
    "regionlararası forum",
]
# Sentence templates: {slot} takes a value and [a|b|c] one of its wordings, both drawn per
# article, so two articles that share a template still share few runs of three words (what
# dedupe's shingles are), and none a run of ten (what its containment check would notice).
SENTENCES = [
    "[{city} şəhərində|{city} şəhərindəki görüşdə|{city} şəhərində təşkil olunan] {event} [zamanı|çərçivəsində|müddətində] tərəflər {sector} [sahəsində|sektorunda|istiqamətində] {n1} [layihənin|təşəbbüsün|proqramın] [icrasını|gedişatını|vəziyyətini] [müzakirə ediblər|nəzərdən keçiriblər|dəyərləndiriblər].",
    "[Qeyd olunub|Bildirilib|Vurğulanıb] ki, {year} [ilin|ilinin] {month} [ayında|ayı ərzində] [iki ölkə arasında|Azərbaycanla Qazaxıstan arasında|tərəflər arasında] [ticarət dövriyyəsi|əmtəə dövriyyəsi|qarşılıqlı ticarət] {pct} faiz [artaraq|yüksələrək|çoxalaraq] {n2} milyon dollara [çatıb|yüksəlib|bərabər olub].",
    "Azərbaycanın {body} [ilə|və] Qazaxıstanın {body2} [arasında|arasındakı görüşdə] {sector} [üzrə|sahəsində|barədə] [anlaşma memorandumu|saziş|protokol|yol xəritəsi] [imzalanıb|qəbul edilib|razılaşdırılıb].",
    "[Aktau|Kurık] limanı [ilə|və] [Ələt|Bakı] limanı arasında {goods} [daşınmasının|daşımalarının|tranzitinin] [həcmi|ümumi həcmi|illik həcmi] {n3} min [tona|tona qədər] [yüksəlib|artıb|çatıb].",
    "[Görüşdə|Müzakirələrdə|Tədbirdə] Orta Dəhliz [vasitəsilə|üzərindən|boyunca] {goods} [tranzitinin|daşınmasının|ixracının] {pct} faiz [sürətləndirilməsi|artırılması|genişləndirilməsi] [barədə|haqqında|ilə bağlı] [fikir mübadiləsi aparılıb|danışıqlar aparılıb|təkliflər səslənib].",
    "[Qazaxıstanlı|Qazaxıstan] [nümayəndə heyətinin|nazirinin|hökumət heyətinin] {city} [səfəri|səfəri zamanı|səfəri çərçivəsində] {n1} [sənədin|sazişin|memorandumun] [imzalanması|təsdiqlənməsi|razılaşdırılması] [planlaşdırılır|nəzərdə tutulur|gözlənilir].",
    "Tərəflər {year}-ci [ilə qədər|ilin sonunadək|ilədək] {sector} [sahəsində|üzrə] [birgə investisiya fondunun|ortaq fondun|birgə şirkətin] [kapitalını|vəsaitini|büdcəsini] {n2} milyon [dollara|ABŞ dollarına] [çatdırmağı|artırmağı|yüksəltməyi] [razılaşdırıblar|qərara alıblar|planlaşdırırlar].",
    "{body} [bildirib|açıqlayıb|məlumat verib] ki, Xəzər dənizində {n4} [yeni bərə xəttinin|yeni gəmi reysinin|əlavə konteyner xəttinin] [açılması|istifadəyə verilməsi|yaradılması] [nəzərdən keçirilir|müzakirə olunur|planlaşdırılır].",
    "[Azərbaycan və Qazaxıstan|Qazaxıstan və Azərbaycan|İki ölkə] arasında {sector} üzrə [birgə işçi qrupu|ekspertlər qrupu|hökumətlərarası komissiya] {year}-ci ilin {month} [ayında|ayının sonunda|ayının əvvəlində] {city} şəhərində [toplanacaq|iclas keçirəcək|bir araya gələcək].",
    "Qazaxıstan Respublikasının [səfiri|konsulu|ticarət nümayəndəsi] {city} [şəhərində|şəhərindəki] {event} [iştirakçıları|qonaqları|təşkilatçıları] [ilə görüşüb|ilə söhbət edib|qarşısında çıxış edib].",
    "[Məlumata görə|Statistikaya əsasən|Rəsmi məlumata görə], {month} ayında [Qazaxıstandan Azərbaycana|Azərbaycandan Qazaxıstana] {n3} [vaqon|konteyner|tır] {goods} [göndərilib|daşınıb|ixrac olunub].",
    "[Bakı və Astana|Astana və Bakı|Bakı ilə Almatı] arasında [həftəlik|gündəlik|birbaşa] [aviareyslərin|reyslərin|uçuşların] sayının {n4}-[ə|yə] [çatdırılması|artırılması|yüksəldilməsi] [təklif edilib|müzakirə olunub|razılaşdırılıb].",
    "[Azərbaycanlı və qazaxıstanlı|Qazaxıstanlı və azərbaycanlı|İki ölkənin] [tələbələr|gənc alimlər|müəllimlər] üçün {n1} [təqaüd|mübadilə|təcrübə] [proqramı|imkanı|yeri] [elan olunub|ayrılıb|təsdiqlənib].",
    "[Layihənin|Proqramın|Planın] [ikinci|üçüncü|növbəti] [mərhələsində|hissəsində|addımında] {city} [yaxınlığında|ətrafında|rayonunda] {n3} hektar [ərazidə|sahədə] [logistika mərkəzi|anbar kompleksi|sənaye parkı] [tikiləcək|salınacaq|inşa ediləcək].",
    "[Ekspertlərin fikrincə|Analitiklərin hesablamalarına görə|Mütəxəssislər hesab edir ki], {sector} [sahəsində|üzrə] əməkdaşlıq [iki ölkənin|tərəflərin|Azərbaycan və Qazaxıstanın] [iqtisadiyyatına|büdcəsinə] ildə {n2} milyon dollar [əlavə gəlir|gəlir|dəyər] [gətirə bilər|qazandıra bilər|verə bilər].",
    "Qazaxıstanın {body} [nümayəndələri|əməkdaşları|rəhbərləri] {city} şəhərində [yerli sahibkarlarla|bələdiyyə rəhbərləri ilə|iş adamları ilə] [görüşüblər|danışıqlar aparıblar|fikir mübadiləsi ediblər].",
    "[Sənədə əsasən|Sazişə görə|Razılaşmaya uyğun olaraq], {goods} [ixracı|idxalı|tranziti] üzrə [gömrük prosedurları|sərhəd yoxlamaları|sənəd dövriyyəsi] {n4} [gün|həftə|ay] [ərzində|müddətində] [sadələşdiriləcək|rəqəmsallaşdırılacaq|sürətləndiriləcək].",
    "{event} [yekununda|sonunda|nəticəsində] {year}-ci il üçün [birgə fəaliyyət planı|əməkdaşlıq proqramı|tədbirlər planı] [təsdiqlənib|imzalanıb|qəbul olunub].",
    "Azərbaycan tərəfi {city} şəhərində {sector} [üzrə|sahəsində] [təlim mərkəzinin|tədqiqat laboratoriyasının|birgə ofisin] [açılmasını|yaradılmasını|fəaliyyətə başlamasını] [təklif edib|irəli sürüb|dəstəkləyib].",
    "Qazaxıstan [şirkətləri|investorları|bankları] Azərbaycanın {sector} [sektoruna|sahəsinə] son {n4} ildə {n2} milyon dollar [sərmayə qoyub|investisiya yatırıb|vəsait ayırıb].",
    "[Rəsmi statistikaya görə|Gömrük məlumatına əsasən|Hesabata görə], {month} ayında [sərhəd-keçid məntəqələrində|limanlarda|dəmir yolu stansiyalarında] [gözləmə müddəti|növbələr|yoxlama vaxtı] {pct} faiz [azalıb|qısalıb|aşağı düşüb].",
    "[İki ölkənin|Azərbaycan və Qazaxıstanın|Tərəflərin] {sector} [sahəsində|sektorunda] [çalışan|fəaliyyət göstərən] {n1} [mütəxəssisi|mühəndisi|əməkdaşı] {city} şəhərində [təcrübə mübadiləsi aparıb|seminarda iştirak edib|təlim keçib].",
    "[Tədbirdə|Görüşdə|Forumda] [Qazaxıstanla Azərbaycan|Azərbaycanla Qazaxıstan] arasında {goods} [ticarətinin|mübadiləsinin|daşınmasının] {year}-ci [ilə qədər|ilədək] [ikiqat|üçqat|əhəmiyyətli dərəcədə] [artırılması|genişləndirilməsi] [hədəfi səslənib|vurğulanıb|qeyd olunub].",
    "[Nazir müavini|Departament rəhbəri|Komissiya sədri] {n4} [nəfərlik|üzvlü] [nümayəndə heyəti|qrup] [ilə|ilə birlikdə] {city} şəhərindəki {sector} [müəssisələrini|obyektlərini|zavodlarını] [ziyarət edib|ziyarət edib və tanış olub|gəzib].",
    "[Bundan əlavə|Həmçinin|Eyni zamanda], {city} [və|ilə] {city2} arasında {goods} [daşımaları|göndərişləri] üçün {n3} [yeni vaqon|yeni konteyner|əlavə platforma] [ayrılıb|alınıb|istifadəyə verilib].",
    "[Xatırladaq ki|Qeyd edək ki|Məlumat üçün bildirək ki], {year}-ci ildə [Azərbaycan və Qazaxıstan|iki dövlət|tərəflər] {n1} [sənəd|saziş|protokol] [imzalayıblar|qəbul ediblər|razılaşdırıblar].",
]


@dataclass(frozen=True)
class Article:
    """One generated article: where it lives and what it says."""

    number: int  # 0 is the newest
    id: int
    path: str
    title: str
    published: datetime
    paragraphs: tuple[str, ...]


def make_article(number: int) -> Article:
    """The article `number` (0 = newest): the same every time, different from every other."""
    rng = random.Random(f"faultsite:{number}")
    article_id = FIRST_ID + number
    published = NEWEST - timedelta(minutes=7 * number)

    def slots() -> dict[str, object]:
        return {
            "city": rng.choice(CITIES),
            "sector": rng.choice(SECTORS),
            "body": rng.choice(BODIES),
            "body2": rng.choice(BODIES),
            "city2": rng.choice(CITIES),
            "goods": rng.choice(GOODS),
            "event": rng.choice(EVENTS),
            "month": rng.choice(MONTHS),
            "year": rng.randint(2027, 2035),
            "n1": rng.randint(3, 90),
            "n2": rng.randint(100, 9_999),
            "n3": rng.randint(10, 999),
            "n4": rng.randint(2, 30),
            "pct": rng.randint(5, 95),
        }

    head = slots()
    title = (
        f"Azərbaycan və Qazaxıstan {head['sector']} sahəsində {head['n1']} layihəni "
        f"müzakirə edib: {head['city']}, nömrə {article_id}"
    )
    dateline = (
        f"{('Bakı', 'Astana')[number % 2]}, {published.day} {MONTHS[published.month - 1]}, AZƏRTAC"
    )
    lead = (
        f"AZƏRTAC xəbər verir ki, {published.day} {MONTHS[published.month - 1]} tarixində "
        f"Azərbaycan və Qazaxıstan nümayəndə heyətləri {head['city']} şəhərində "
        f"{head['sector']} sahəsində əməkdaşlığı müzakirə ediblər."
    )
    chosen = rng.sample(SENTENCES, 10)
    sentences = [_wording(template, rng).format(**slots()) for template in chosen]
    paragraphs = [dateline, lead] + [" ".join(sentences[i : i + 2]) for i in range(0, 10, 2)]
    path = f"/xeber/azerbaycan_ve_qazaxistan_emekdasliq_{number}-{article_id}"
    return Article(number, article_id, path, title, published, tuple(paragraphs))


def _wording(template: str, rng: random.Random) -> str:
    return _CHOICE.sub(lambda m: rng.choice(m.group(1).split("|")), template)


def article_page(article: Article) -> bytes:
    """The article in AZERTAC's markup: menus, a share bar, a read-also box inside the body,
    related news and a footer around it, as tests/fixtures/extract/azertag_az.html has."""
    shown = article.published.strftime("%d.%m.%Y [%H:%M]")
    body = "\n".join(f"<p>{escape(p)}</p>" for p in article.paragraphs[1:])
    return f"""<!DOCTYPE html>
<html lang="az">
<head>
<meta charset="utf-8">
<title>{escape(article.title)} | AZƏRTAC</title>
<meta property="og:site_name" content="AZƏRTAC">
<meta property="og:title" content="{escape(article.title)} | AZƏRTAC">
<meta property="og:type" content="article">
<link rel="canonical" href="{article.path}">
</head>
<body class="page-news">
<header class="site-header">
  <a class="logo" href="/">AZƏRTAC</a>
  <nav class="main-menu"><ul>
    <li><a href="/bolme/politics">Siyasət</a></li><li><a href="/bolme/economy">İqtisadiyyat</a></li>
    <li><a href="/bolme/xarici_siyaset">Xarici siyasət</a></li>
  </ul></nav>
</header>
<main class="container">
  <div id="content-article" class="col-main">
    <div class="breadcrumbs"><a href="/">Ana səhifə</a> / <a href="/bolme/economy">İqtisadiyyat</a></div>
    <h1 class="content-title">{escape(article.title)}</h1>
    <div class="news-info"><div class="news-date">{shown}</div></div>
    <div class="share-buttons"><span>Paylaş:</span> <a href="#">Facebook</a> <a href="#">WhatsApp</a></div>
    <div id="selectedtext" class="news-body">
      <p><strong>{escape(article.paragraphs[0])}</strong></p>
      {body}
      <div class="read-also"><span>Oxu həmçinin:</span> <a href="/xeber/elet_limaninda_yeni_terminal-4412001">Ələt limanında yeni terminal istifadəyə verilib</a></div>
    </div>
    <div class="related-news"><h3>Digər xəbərlər</h3><ul>
      <li><a href="/xeber/bakida_qar_yagacaq-4412290">Bakıda qar yağacaq</a></li>
    </ul></div>
  </div>
</main>
<footer class="site-footer"><p>© 2005-2026 AZƏRTAC. Bütün hüquqlar qorunur.</p></footer>
</body>
</html>
""".encode()


def feed_body(origin: str, articles: list[Article]) -> bytes:
    items = "\n".join(
        "    <item>\n"
        f"      <title>{escape(a.title)}</title>\n"
        f"      <link>{origin}{a.path}</link>\n"
        f"      <pubDate>{format_datetime(a.published)}</pubDate>\n"
        "    </item>"
        for a in articles
    )
    return f"""<?xml version="1.0" encoding="UTF-8" ?><rss version="2.0">
  <channel>
    <title>AZƏRTAC – Azərbaycan Dövlət İnformasiya Agentliyi</title>
    <link>{origin}</link>
    <description>AZƏRTAC – Azərbaycan Dövlət İnformasiya Agentliyi</description>
{items}
  </channel>
</rss>
""".encode()


@dataclass(frozen=True)
class Hit:
    """One GET the site answered (or began to answer: `status` 0 until the reply is sent)."""

    path: str
    user_agent: str
    conditional: bool
    at: float  # time.monotonic() when it came in


class FaultSite:
    """The server and what it saw; use as a context manager.

    `article_delay` (seconds, changeable while it runs) holds every article reply back, so a
    poll lasts long enough for a kill to land mid-poll; the feed and robots.txt answer at once.
    """

    def __init__(self, articles: int = 400, *, article_delay: float = 0.0) -> None:
        self.articles = [make_article(number) for number in range(articles)]
        self.by_path = {a.path: a for a in self.articles}
        self.article_delay = article_delay
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.hits: Counter[str] = Counter()
        self.log: list[Hit] = []
        self.feed_statuses: list[int] = []
        self._pages: dict[str, bytes] = {}
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.site = self
        self.feed = feed_body(self.origin, self.articles)
        self.etag = '"' + hashlib.sha256(self.feed).hexdigest()[:16] + '"'
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def feed_url(self) -> str:
        return self.origin + "/rss"

    @property
    def paths(self) -> list[str]:
        return [a.path for a in self.articles]

    def __enter__(self) -> FaultSite:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()

    def reset_counts(self) -> None:
        with self.lock:
            self.hits.clear()
            self.log.clear()
            self.feed_statuses.clear()

    def page(self, path: str) -> bytes:
        with self.lock:
            cached = self._pages.get(path)
        if cached is None:
            cached = article_page(self.by_path[path])
            with self.lock:
                self._pages[path] = cached
        return cached

    def article_hits(self) -> Counter[str]:
        """GETs per article path (paths never asked for are absent)."""
        with self.lock:
            return Counter({p: n for p, n in self.hits.items() if p in self.by_path})

    def requests_seen(self) -> int:
        with self.lock:
            return len(self.log)

    def _record(self, hit: Hit) -> None:
        with self.lock:
            self.hits[hit.path] += 1
            self.log.append(hit)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # four workers, each with many requests in flight
    site: FaultSite

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request is what these trials do


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        site = self.server.site
        path = urlsplit(self.path).path
        conditional = "If-None-Match" in self.headers or "If-Modified-Since" in self.headers
        site._record(Hit(path, self.headers.get("User-Agent", ""), conditional, time.monotonic()))
        if path == "/robots.txt":
            self.reply(200, ROBOTS_TXT, "text/plain")
        elif path == "/rss":
            self.feed()
        elif path in site.by_path:
            if site.article_delay and site.closing.wait(site.article_delay):
                return
            self.reply(200, site.page(path), "text/html; charset=utf-8")
        else:
            self.reply(404, b"<h1>Not Found</h1>", "text/html")

    def feed(self) -> None:
        site = self.server.site
        validators = (("ETag", site.etag), ("Last-Modified", LAST_MODIFIED))
        fresh = self.headers.get("If-None-Match") == site.etag or (
            self.headers.get("If-Modified-Since") == LAST_MODIFIED
            and "If-None-Match" not in self.headers
        )
        with site.lock:
            site.feed_statuses.append(304 if fresh else 200)
        if fresh:
            self.send_response(304)
            for name, value in validators:
                self.send_header(name, value)
            self.end_headers()
        else:
            self.reply(200, site.feed, "application/rss+xml; charset=utf-8", validators)

    def reply(
        self, status: int, body: bytes, content_type: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


# --- the monitor's configuration for it ---------------------------------------------------------


def write_sources(path: Path, site: FaultSite, *, max_articles: int | None = None) -> Path:
    """A sources.yaml with the one source of `site`; `max_articles` is its per-poll cap (unset:
    the settings' max_articles_per_poll)."""
    source: dict[str, Any] = {
        "name": SOURCE_NAME,
        "title": "AZƏRTAC (fault site)",
        "homepage": site.origin + "/",
        "language": "az",
        "timezone": "Asia/Baku",
        "interval": "1m",  # the least allowed: `monitor run` polls it again soon
        "feeds": [site.feed_url],
        "article_url": r"^https?://[^/]+/xeber/[^/?#]+-\d+$",
        "id_pattern": r"-(\d+)$",
        "article": {
            "title": "h1.content-title",
            "body": "#selectedtext",
            "date": ".news-date",
            "remove": [".read-also"],
            "datelines": [r"^[^,]{2,20}, \d{1,2} \w+, AZƏRTAC\s*"],
        },
    }
    if max_articles is not None:
        source["max_articles"] = max_articles
    path.write_text(yaml.safe_dump({"sources": [source]}, allow_unicode=True), encoding="utf-8")
    return path


def monitor_env(
    data_dir: Path,
    sources: Path,
    *,
    database_url: str | None = None,
    concurrency: int = 16,
    max_articles_per_poll: int = 60,
    user_agent: str | None = None,
) -> dict[str, str]:
    """The environment of a `monitor` subprocess polling the site: this process's environment
    without its MONITOR_* settings, then fast and local ones (no politeness delay, private hosts
    allowed, no seed corpus, short timeouts and retries)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env |= {
        "MONITOR_DATA_DIR": str(data_dir),
        "MONITOR_SOURCES": str(sources),
        "MONITOR_TOPICS": str(ROOT / "topics.yaml"),
        "MONITOR_SEEDS_DIR": str(data_dir.parent / "no-seeds"),  # absent: no seed corpus
        "MONITOR_ALLOW_PRIVATE_HOSTS": "1",
        "MONITOR_PER_HOST_DELAY": "0",
        "MONITOR_PER_HOST_CONCURRENCY": str(concurrency),
        "MONITOR_MAX_ARTICLES_PER_POLL": str(max_articles_per_poll),
        "MONITOR_RETRIES": "1",
        "MONITOR_RETRY_BASE_DELAY": "0.01",
        "MONITOR_RETRY_MAX_DELAY": "0.05",
        "MONITOR_CONNECT_TIMEOUT": "5",
        "MONITOR_READ_TIMEOUT": "20",
        "MONITOR_LOG_LEVEL": "WARNING",
    }
    if database_url:
        env["MONITOR_DATABASE_URL"] = database_url
    if user_agent:
        env["MONITOR_USER_AGENT"] = user_agent
    return env
