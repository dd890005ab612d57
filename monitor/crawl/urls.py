"""URL identity: one spelling per article URL, and the key that says two URLs are one article.

Feeds, sitemaps, listings and the page's own `<link rel=canonical>` spell the same URL in many
ways (tracking parameters, fragments, case, escapes, trailing slashes). `canonical_url` folds
those spellings into one, so "seen before?" is a string comparison. `article_key` goes further
for sites whose URLs carry a stable id (AZERTAC `-4410849`, Kazinform `-5dedf6`): an AZERTAC
story marked "YENİLƏNİB" gets a new slug but keeps its id, and must stay the same article.

Decisions, each made so that the canonical URL can still be fetched as it is:

- The scheme is kept as given (lower-cased); http is not forced to https. The page's canonical
  link settles it once the page is fetched, and forcing https would break a site without TLS.
- `www.` is kept in `canonical_url`: the bare host of a site may not resolve or may have no
  certificate, and every www-less fetch of inform.kz would cost a redirect. `www.X` and `X` are
  one site, so `same_site` and the URL form of `article_key` ignore it; other subdomains
  (kaz., qz., en.inform.kz) are different hosts and are never touched.
- The trailing slash is removed (except for the root). Kazinform's subdomains link with a
  slash; the fetch then follows one redirect, the price of one spelling per article.
- Tracking parameters removed: see `TRACKING_PARAMS`, `TRACKING_PREFIXES` and
  `FEED_MARKER_PARAMS`. Other parameters are kept, sorted by name (repeated names keep their order).
"""

from __future__ import annotations

import functools
import posixpath
import re
from urllib.parse import urljoin, urlsplit, urlunsplit

import tldextract

from monitor.config.sources import Source

# Click and campaign identifiers added by ad networks, mailers and social sites; never part of
# what a page is.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",  # Facebook
        "gclid",  # Google Ads
        "dclid",
        "gbraid",
        "wbraid",
        "yclid",  # Yandex Direct
        "ysclid",  # Yandex
        "msclkid",  # Microsoft Ads
        "igshid",  # Instagram
        "mc_cid",  # Mailchimp
        "mc_eid",
        "_ga",  # Google Analytics cross-domain
        "_gl",
        "_openstat",
    }
)
TRACKING_PREFIXES = ("utm_",)  # utm_source, utm_medium, utm_campaign, utm_term, utm_content, ...
# Parameters that only say which channel a link came through, e.g. `?from=rss`. They are removed
# only with one of these values, because `from`/`source`/`ref` mean real things elsewhere.
FEED_MARKER_PARAMS = frozenset({"from", "ref", "source", "src"})
FEED_MARKER_VALUES = frozenset({"rss", "rss2", "feed", "atom", "rssfeed", "yxnews", "telegram"})

DEFAULT_PORTS = {"http": 80, "https": 443}
ASSET_EXTENSIONS = frozenset(
    {
        *("jpg", "jpeg", "png", "gif", "webp", "svg", "ico", "bmp", "tif", "tiff", "avif"),
        *("pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "zip", "rar", "gz", "7z"),
        *("mp3", "mp4", "m4a", "ogg", "webm", "avi", "mov", "wav"),
        *("css", "js", "json", "xml", "rss", "txt", "woff", "woff2", "ttf", "eot"),
    }
)

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters that may stay literal in a path or query: unreserved, sub-delims, ':' and '@',
# plus '/' and '?'. Everything else is percent-encoded as UTF-8.
_ALLOWED_LITERAL = _UNRESERVED | frozenset("!$&'()*+,;=:@/?")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_DUPLICATE_SLASHES = re.compile(r"/{2,}")


def canonical_url(url: str, base: str | None = None) -> str:
    """One spelling of `url` (resolved against `base` when relative), as the module doc describes.

    Raises ValueError when the result is not an absolute URL with a host.
    """
    url = url.strip()
    if base:
        url = urljoin(base.strip(), url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme or not parts.netloc:
        raise ValueError(f"not an absolute URL: {url!r}")
    netloc = _canonical_netloc(scheme, parts.netloc)
    path = _canonical_path(parts.path)
    query = _canonical_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def http_link(href: str, base: str) -> str | None:
    """The canonical http(s) URL a link found on the page at `base` points to; None when it
    points nowhere we could fetch (a mailto: or javascript: link, a malformed address)."""
    try:
        link = canonical_url(href, base=base)
    except ValueError:
        return None
    return link if link.startswith(("http://", "https://")) else None


def article_key(url: str, id_pattern: str | None) -> str:
    """The identity of an article within its source.

    `"id:<id>"` when `id_pattern` (searched in the canonical path; its first group, or the whole
    match when it has none) finds the site's article id. Otherwise `"url:<canonical url>"`, with
    the scheme folded to https and a leading `www.` dropped, so that the http/https and
    www/bare spellings of one page share a key. Keys are only unique within one source.
    """
    parts = urlsplit(canonical_url(url))
    if id_pattern:
        match = re.search(id_pattern, parts.path)
        if match:
            return "id:" + (match.group(1) if match.re.groups else match.group(0))
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = userinfo + at + _without_www(hostport)
    scheme = "https" if parts.scheme in DEFAULT_PORTS else parts.scheme
    return "url:" + urlunsplit(parts._replace(scheme=scheme, netloc=netloc))


def same_site(url: str, homepage: str) -> bool:
    """Whether both URLs belong to one registrable domain (kaz.inform.kz and www.inform.kz do).

    Used before trusting a page's canonical link or a discovered URL: a link to another site
    must not be taken for one of the source's articles.
    """
    first, second = _host(url), _host(homepage)
    if not first or not second:
        return False
    return registrable_domain(first) == registrable_domain(second)


def registrable_domain(host: str) -> str:
    """The part of a host name that one owner registers: inform.kz, mfa.gov.kz, 525.az.

    Read from the Public Suffix List (ICANN section) that tldextract ships, so `gov.kz`, `com.az`
    or `co.uk` count as suffixes under which each name is another site. An IP address is its own
    domain; a host under no listed suffix (a test host, `localhost`) keeps its last two labels,
    and a bare suffix (`gov.kz`) is itself, so that it matches no site under it.
    """
    host = host.lower().rstrip(".")
    if _is_ip_address(host):
        return host
    parts = _public_suffixes()(host)
    if not parts.suffix:
        return ".".join(host.split(".")[-2:])
    return parts.top_domain_under_public_suffix or host


@functools.cache
def _public_suffixes() -> tldextract.TLDExtract:
    """tldextract with the suffix list it was released with: never a download (a poll must not
    wait on, or fail for, publicsuffix.org) and no cache file. A new list comes with an upgrade."""
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def is_article_url(url: str, source: Source) -> bool:
    """Whether a discovered URL may be one of `source`'s articles.

    http(s), on the source's site, not the home page itself nor a file such as an image, and
    matching `source.article_url` (searched in the canonical URL) when the source sets one.
    """
    try:
        canonical = canonical_url(url)
    except ValueError:
        return False
    parts = urlsplit(canonical)
    if parts.scheme not in DEFAULT_PORTS or not same_site(canonical, source.homepage):
        return False
    if parts.path == "/" and not parts.query:
        return False
    extension = posixpath.splitext(parts.path)[1].lstrip(".").lower()
    if extension in ASSET_EXTENSIONS:
        return False
    return source.article_url is None or re.search(source.article_url, canonical) is not None


def _canonical_netloc(scheme: str, netloc: str) -> str:
    userinfo, _, hostport = netloc.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal
        host, _, rest = hostport[1:].partition("]")
        host, port = f"[{host.lower()}]", rest.removeprefix(":")
    else:
        host, _, port = hostport.partition(":")
        host = _ascii_host(host)
    if port and not port.isdigit():
        raise ValueError(f"invalid port in {netloc!r}")
    if port and int(port) == DEFAULT_PORTS.get(scheme):
        port = ""
    return (f"{userinfo}@" if userinfo else "") + host + (f":{int(port)}" if port else "")


def _ascii_host(host: str) -> str:
    """Lower-case host, internationalised labels as punycode (IDNA 2003, from the stdlib)."""
    host = host.rstrip(".").lower()
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ValueError(f"invalid host name {host!r}") from exc


def _canonical_path(path: str) -> str:
    path = _normalise_escapes(path)
    path = _DUPLICATE_SLASHES.sub("/", path)
    path = _remove_dot_segments(path)
    if not path.startswith("/"):
        path = "/" + path
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return path


def _remove_dot_segments(path: str) -> str:
    if "." not in path:
        return path
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(output) > 1:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if path.endswith(("/.", "/..")):
        output.append("")
    return "/".join(output)


def _canonical_query(query: str) -> str:
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        name, equals, value = item.partition("=")
        name, value = _normalise_escapes(name), _normalise_escapes(value)
        if _is_tracking(name, value):
            continue
        pairs.append((name, f"{name}{equals}{value}"))
    pairs.sort(key=lambda pair: pair[0])  # stable: repeated names keep their order
    return "&".join(item for _, item in pairs)


def _is_tracking(name: str, value: str) -> bool:
    lowered = name.lower()
    if lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES):
        return True
    return lowered in FEED_MARKER_PARAMS and value.lower() in FEED_MARKER_VALUES


def _normalise_escapes(text: str) -> str:
    """Decode escaped unreserved characters, upper-case other escapes, escape the rest as UTF-8.

    Reserved characters keep their form (escaped or literal), since `a%2Fb` and `a/b` differ.
    """
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        escape = _ESCAPE.match(text, index) if char == "%" else None
        if escape:
            decoded = chr(int(escape.group(1), 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + escape.group(1).upper())
            index += 3
            continue
        if char in _ALLOWED_LITERAL:
            out.append(char)
        else:  # includes a lone '%', spaces and every non-ASCII character
            out.append("".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass")))
        index += 1
    return "".join(out)


def _host(url: str) -> str | None:
    try:
        return urlsplit(canonical_url(url)).hostname
    except ValueError:
        return None


def _without_www(host: str) -> str:
    if host.startswith("www.") and host.count(".") >= 2:
        return host[4:]
    return host


def _is_ip_address(host: str) -> bool:
    return ":" in host or host.replace(".", "").isdigit()
