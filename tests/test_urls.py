"""URL identity: canonical spellings, article keys, sites, and which URLs can be articles."""

from __future__ import annotations

import pytest

from monitor.config.sources import Source
from monitor.crawl.urls import (
    article_key,
    canonical_url,
    is_article_url,
    registrable_domain,
    same_site,
)

AZERTAC_ID = r"-(\d+)$"
KAZINFORM_ID = r"-([0-9a-f]{6,8})/?$"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://azertag.az/xeber/x-4411239?utm_source=rss&utm_medium=feed&utm_campaign=a",
            "https://azertag.az/xeber/x-4411239",
            id="utm-params",
        ),
        pytest.param(
            "https://icma.az/news/x-1033087?fbclid=IwAR0abc&gclid=Cj0&yclid=9&ysclid=l1",
            "https://icma.az/news/x-1033087",
            id="click-ids",
        ),
        pytest.param(
            "https://www.inform.kz/ru/x-5dedf6?from=rss",
            "https://www.inform.kz/ru/x-5dedf6",
            id="from-rss",
        ),
        pytest.param(
            "https://example.az/search?from=2026-01-01&q=baku",
            "https://example.az/search?from=2026-01-01&q=baku",
            id="from-with-real-value-kept",
        ),
        pytest.param(
            "https://azertag.az/xeber/x-4411239#comments",
            "https://azertag.az/xeber/x-4411239",
            id="fragment",
        ),
        pytest.param(
            "https://qz.inform.kz/news/kirgizstanda-zher-slknd-7544f9/",
            "https://qz.inform.kz/news/kirgizstanda-zher-slknd-7544f9",
            id="trailing-slash",
        ),
        pytest.param("https://azertag.az", "https://azertag.az/", id="root-gets-slash"),
        pytest.param("https://azertag.az/", "https://azertag.az/", id="root-keeps-slash"),
        pytest.param(
            "HTTPS://WWW.Inform.KZ/ru/Lenta",
            "https://www.inform.kz/ru/Lenta",
            id="scheme-host-lowered-path-kept",
        ),
        pytest.param("http://azertag.az/xeber/x-1", "http://azertag.az/xeber/x-1", id="http-kept"),
        pytest.param(
            "https://kaz.inform.kz/news/x-fbf80170/",
            "https://kaz.inform.kz/news/x-fbf80170",
            id="subdomain-kept",
        ),
        pytest.param("https://azertag.az:443/rss", "https://azertag.az/rss", id="https-port"),
        pytest.param("http://azertag.az:80/rss", "http://azertag.az/rss", id="http-port"),
        pytest.param("http://azertag.az:8080/rss", "http://azertag.az:8080/rss", id="other-port"),
        pytest.param(
            "https://xn--80ak6aa92e.com/x", "https://xn--80ak6aa92e.com/x", id="punycode-kept"
        ),
        pytest.param("https://Bücher.DE/", "https://xn--bcher-kva.de/", id="idna-latin"),
        pytest.param(
            "https://президент.рф/Новости",
            "https://xn--d1abbgf6aiiy.xn--p1ai/%D0%9D%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8",
            id="idna-cyrillic-and-utf8-path",
        ),
        pytest.param(
            "https://obastan.com/wiki/Az%c9%99rbaycan%e2%80%93Qazax%c4%b1stan",
            "https://obastan.com/wiki/Az%C9%99rbaycan%E2%80%93Qazax%C4%B1stan",
            id="escapes-uppercased",
        ),
        pytest.param(
            "https://obastan.com/wiki/Azərbaycan–Qazaxıstan",
            "https://obastan.com/wiki/Az%C9%99rbaycan%E2%80%93Qazax%C4%B1stan",
            id="non-ascii-escaped-like-the-escaped-form",
        ),
        pytest.param(
            "https://example.az/%7Euser/%41bc-%2D%5F",
            "https://example.az/~user/Abc--_",
            id="unreserved-decoded",
        ),
        pytest.param(
            "https://example.az/a%2Fb?x=%26",
            "https://example.az/a%2Fb?x=%26",
            id="reserved-escapes-kept",
        ),
        pytest.param(
            "https://example.az/a b/100%",
            "https://example.az/a%20b/100%25",
            id="space-and-lone-percent",
        ),
        pytest.param(
            "https://www.inform.kz/ru/lenta/?page=2&b=1&a=3",
            "https://www.inform.kz/ru/lenta?a=3&b=1&page=2",
            id="params-sorted",
        ),
        pytest.param(
            "https://example.az/list?tag=b&tag=a",
            "https://example.az/list?tag=b&tag=a",
            id="repeated-param-order-kept",
        ),
        pytest.param("https://example.az/x?", "https://example.az/x", id="empty-query"),
        pytest.param(
            "https://azertag.az//xeber///x-1", "https://azertag.az/xeber/x-1", id="double-slashes"
        ),
        pytest.param(
            "https://azertag.az/a/./b/../xeber/x-1", "https://azertag.az/a/xeber/x-1", id="dots"
        ),
        pytest.param(
            "  https://azertag.az/xeber/x-1\n", "https://azertag.az/xeber/x-1", id="whitespace"
        ),
        pytest.param(
            "https://azertag.az./xeber/x-1", "https://azertag.az/xeber/x-1", id="trailing-dot"
        ),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected  # canonical form is a fixed point


@pytest.mark.parametrize(
    ("href", "base", "expected"),
    [
        (
            "/ru/x-5dedf6",
            "https://www.inform.kz/ru/lenta?page=2",
            "https://www.inform.kz/ru/x-5dedf6",
        ),
        ("x-1", "https://azertag.az/xeber/", "https://azertag.az/xeber/x-1"),
        ("../bolme/politics", "https://azertag.az/xeber/y-2", "https://azertag.az/bolme/politics"),
        (
            "//qz.inform.kz/news/a-7544f9/",
            "https://www.inform.kz/",
            "https://qz.inform.kz/news/a-7544f9",
        ),
        ("https://icma.az/news/a-1", "https://azertag.az/", "https://icma.az/news/a-1"),
    ],
)
def test_canonical_url_resolves_relative(href: str, base: str, expected: str) -> None:
    assert canonical_url(href, base=base) == expected


@pytest.mark.parametrize(
    "url", ["/ru/lenta", "javascript:void(0)", "mailto:a@b.az", "", "https://"]
)
def test_canonical_url_refuses_what_is_not_an_absolute_url(url: str) -> None:
    with pytest.raises(ValueError):
        canonical_url(url)


@pytest.mark.parametrize(
    ("url", "id_pattern", "expected"),
    [
        pytest.param(
            "https://azertag.az/xeber/8_noyabr_prospektinin_mueyyen_hisselerinde_temir_isleri_heyata_kechirilir-4410849",
            AZERTAC_ID,
            "id:4410849",
            id="azertac-original",
        ),
        pytest.param(
            "https://azertag.az/xeber/8_noyabr_prospektinin_mueyyen_hisselerinde_temir_isleri_heyata_kechirilir_yenilenib-4410849",
            AZERTAC_ID,
            "id:4410849",
            id="azertac-yenilenib",
        ),
        pytest.param(
            "https://azertag.az/xeber/x-4410849?utm_source=tg#top",
            AZERTAC_ID,
            "id:4410849",
            id="azertac-tracking",
        ),
        pytest.param(
            "https://www.inform.kz/ru/skolko-stoyat-uslugi-advokatov-v-kazahstane-cdaf32",
            KAZINFORM_ID,
            "id:cdaf32",
            id="kazinform-6-hex",
        ),
        pytest.param(
            "https://qz.inform.kz/news/kirgizstanda-zher-slknd-7544f9/",
            KAZINFORM_ID,
            "id:7544f9",
            id="kazinform-trailing-slash",
        ),
        pytest.param(
            "https://kaz.inform.kz/news/11-tamiz-kazinform-kuntzbes-zhilnama-fbf80170/",
            KAZINFORM_ID,
            "id:fbf80170",
            id="kazinform-8-hex",
        ),
        pytest.param(
            "https://www.inform.kz/ru/lenta",
            KAZINFORM_ID,
            "url:https://inform.kz/ru/lenta",
            id="pattern-misses",
        ),
        pytest.param(
            "https://azertag.az/axtarish?page=-12",
            AZERTAC_ID,
            "url:https://azertag.az/axtarish?page=-12",
            id="pattern-looks-at-path-only",
        ),
        pytest.param(
            "https://report.az/daxili-siyaset/qerbi-azerbaycan-icmasinda/",
            None,
            "url:https://report.az/daxili-siyaset/qerbi-azerbaycan-icmasinda",
            id="no-pattern",
        ),
        pytest.param(
            "http://www.525.az/news/166139-sosial-media",
            None,
            "url:https://525.az/news/166139-sosial-media",
            id="url-key-ignores-www-and-scheme",
        ),
        pytest.param(
            "https://525.az/news/166139-sosial-media",
            r"/news/\d+",
            "id:/news/166139",
            id="pattern-without-group",
        ),
    ],
)
def test_article_key(url: str, id_pattern: str | None, expected: str) -> None:
    assert article_key(url, id_pattern) == expected


def test_updated_azertac_story_keeps_its_key_and_other_stories_do_not_share_it() -> None:
    original = "https://azertag.az/xeber/hakan_fidan_turkiye_prezidenti_yaxin_vaxtlarda_suriyaya_sefer_edecek-4410981"
    updated = "https://azertag.az/xeber/hakan_fidan_turkiye_prezidenti_yaxin_vaxtlarda_suriyaya_sefer_edecek_yenilenib-4410981"
    other = "https://azertag.az/xeber/istanbul_aeroportunda_yeni_uchus_enme_zolagi_istifadeye_verilecek-4410978"
    assert article_key(original, AZERTAC_ID) == article_key(updated, AZERTAC_ID)
    assert article_key(other, AZERTAC_ID) != article_key(original, AZERTAC_ID)
    assert article_key(original, None) != article_key(updated, None)  # only the id unites them


@pytest.mark.parametrize(
    ("url", "homepage", "expected"),
    [
        ("https://kaz.inform.kz/news/x-fbf80170", "https://www.inform.kz/", True),
        ("https://qz.inform.kz/news/x", "https://www.inform.kz/ru", True),
        ("https://inform.kz/ru/x", "https://www.inform.kz/", True),
        ("http://azertag.az/xeber/x-1", "https://azertag.az/", True),
        ("https://special.azertag.az/en/xeber/1782007", "https://azertag.az/", True),
        ("https://icma.az/news/x-1", "https://525.az/", False),
        ("https://inform.kz.evil.example/ru/x", "https://www.inform.kz/", False),
        ("https://astana.mfa.gov.az/en", "https://www.mfa.gov.az/en/news", True),
        ("https://president.gov.az/", "https://www.mfa.gov.az/", False),
        ("https://AZERTAG.AZ/x", "https://azertag.az", True),
        ("/ru/x", "https://www.inform.kz/", False),
        ("https://www.akorda.kz/ru/x", "https://akorda.kz/", True),
        ("https://www.gov.kz/memleket/entities/mfa", "https://www.gov.kz/", True),
        ("https://www.gov.kz/memleket/entities/mfa", "https://mfa.gov.kz/", False),
        ("https://primeminister.gov.kz/ru", "https://www.gov.kz/", False),
        ("https://www.gov.kz/", "https://gov.kz/", False),  # gov.kz is a suffix, not a site
    ],
)
def test_same_site(url: str, homepage: str, expected: bool) -> None:
    assert same_site(url, homepage) is expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        pytest.param("www.inform.kz", "inform.kz", id="www"),
        pytest.param("kaz.inform.kz", "inform.kz", id="language-subdomain"),
        pytest.param("en.inform.kz", "inform.kz", id="english-subdomain"),
        pytest.param("azertag.az", "azertag.az", id="bare-az"),
        pytest.param("special.azertag.az", "azertag.az", id="az-subdomain"),
        pytest.param("akorda.kz", "akorda.kz", id="bare-kz"),
        pytest.param("www.akorda.kz", "akorda.kz", id="kz-www"),
        pytest.param("www.gov.kz", "www.gov.kz", id="gov-kz-portal"),
        pytest.param("mfa.gov.kz", "mfa.gov.kz", id="gov-kz-ministry"),
        pytest.param("astana.mfa.gov.kz", "mfa.gov.kz", id="gov-kz-ministry-subdomain"),
        pytest.param("gov.kz", "gov.kz", id="bare-suffix-is-itself"),
        pytest.param("astana.mfa.gov.az", "mfa.gov.az", id="gov-az"),
        pytest.param("www.news.pro.az", "news.pro.az", id="pro-az-suffix"),
        pytest.param("news.bbc.co.uk", "bbc.co.uk", id="co-uk"),
        pytest.param("www.stmarys.herts.sch.uk", "stmarys.herts.sch.uk", id="three-part-suffix"),
        pytest.param("WWW.Inform.KZ.", "inform.kz", id="case-and-root-dot"),
        pytest.param("127.0.0.1", "127.0.0.1", id="ipv4"),
        pytest.param("::1", "::1", id="ipv6"),
        pytest.param("localhost", "localhost", id="no-suffix"),
        pytest.param("site.example.test", "example.test", id="unlisted-suffix"),
    ],
)
def test_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected


def _source(**overrides: object) -> Source:
    fields: dict[str, object] = {
        "name": "azertag-az",
        "homepage": "https://azertag.az/",
        "language": "az",
        "timezone": "Asia/Baku",
        "feeds": ["https://azertag.az/rss"],
    }
    fields.update(overrides)
    return Source.model_validate(fields)


@pytest.mark.parametrize(
    ("url", "article_url", "expected"),
    [
        ("https://azertag.az/xeber/naxchivan_seherinde-4411239", None, True),
        ("http://azertag.az/xeber/naxchivan_seherinde-4411239", None, True),
        ("https://azertag.az/xeber/naxchivan_seherinde-4411239", r"/xeber/.+-\d+$", True),
        ("https://azertag.az/bolme/politics", r"/xeber/.+-\d+$", False),
        ("https://azertag.az/files/2026/9/1200x630/4411239_1200x630.jpg", None, False),
        ("https://azertag.az/files/report.PDF", None, False),
        ("https://azertag.az/static/app.js", None, False),
        ("https://azertag.az/", None, False),
        ("https://report.az/xeber/x-1", None, False),
        ("ftp://azertag.az/xeber/x-1", None, False),
        ("not a url", None, False),
    ],
)
def test_is_article_url(url: str, article_url: str | None, expected: bool) -> None:
    assert is_article_url(url, _source(article_url=article_url)) is expected


def test_is_article_url_accepts_sibling_subdomains_of_the_homepage() -> None:
    kazinform = _source(
        name="kazinform-kk",
        homepage="https://www.inform.kz/",
        language="kk",
        timezone="Asia/Almaty",
        feeds=["https://kaz.inform.kz/rss/kz.xml"],
        article_url=r"/news/.+-[0-9a-f]{6,8}$",
    )
    assert is_article_url("https://kaz.inform.kz/news/a-fbf80170/", kazinform)
    assert not is_article_url("https://kaz.inform.kz/lenta/", kazinform)
