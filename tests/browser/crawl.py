"""A bounded crawl of the site as one signed-in reader, with axe-core on every page.

From a start page, follow every same-site link the pages offer. Each distinct URL
pattern (the path with its numbers replaced, plus the names of its query parameters) is
visited at most `per_pattern` times, so 10,000 module pages cost as much as three.
Every page is loaded once and used three ways: its status (>= 400 is a dead end), axe-core
(serious and critical violations of WCAG 2.1 A/AA and best practices), and the width of
the document at 390 px (a phone: no horizontal overflow).

Links that start a download are checked with a plain request of the same browser context
(same cookies) instead of a navigation.
"""

import re
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from axe_playwright_python.sync_playwright import Axe

AXE = Axe()
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
}
BLOCKING_IMPACTS = {"serious", "critical"}
PHONE = {"width": 390, "height": 844}
# Never followed: signing out ends the crawl; the Django admin is not the site's pages.
SKIP_PREFIXES = ("/logout/", "/admin/")
_NUMBER = re.compile(r"\d+")
_LINKS_JS = "els => els.map(e => e.getAttribute('href') === null ? null : e.href)"


@dataclass
class CrawlReport:
    """What a crawl found: every problem names the page it was found on."""

    visited: list = field(default_factory=list)  # (url, status)
    broken: list = field(default_factory=list)  # (url, status, found on)
    violations: list = field(default_factory=list)  # (url, rule, impact, nodes, help)
    overflow: list = field(default_factory=list)  # (url, document width)

    def summary(self) -> str:
        lines = [f"{len(self.visited)} pages visited"]
        lines += [
            f"broken: {url} answered {status} (linked from {src})"
            for url, status, src in self.broken
        ]
        lines += [
            f"axe: {url} {rule} ({impact}) on {nodes}: {hint}"
            for url, rule, impact, nodes, hint in self.violations
        ]
        lines += [f"overflow: {url} is {width}px wide at 390px" for url, width in self.overflow]
        return "\n".join(lines)


def pattern(url: str) -> str:
    """`/modules/12/?page=3&q=x` -> `/modules/#/?page&q`: one pattern for every module."""
    parts = urlsplit(url)
    names = sorted({name for name, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return _NUMBER.sub("#", parts.path) + ("?" + "&".join(names) if names else "")


def _normalise(href: str, origin: str) -> str | None:
    """The same-site URL of a link, without its fragment; None for anything else."""
    if not href:
        return None
    parts = urlsplit(href)
    if parts.scheme not in ("http", "https") or f"{parts.scheme}://{parts.netloc}" != origin:
        return None
    if parts.path.startswith(SKIP_PREFIXES):
        return None
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _links(page, origin: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", _LINKS_JS)
    return [url for url in (_normalise(h, origin) for h in hrefs) if url]


def _axe(page, url: str, report: CrawlReport) -> None:
    results = AXE.run(page, options=AXE_OPTIONS).response
    for rule in results["violations"]:
        if rule["impact"] in BLOCKING_IMPACTS:
            nodes = [" ".join(node["target"][0:1]) for node in rule["nodes"][:3]]
            report.violations.append((url, rule["id"], rule["impact"], nodes, rule["help"]))


def _overflow(page, url: str, report: CrawlReport, viewport: dict) -> None:
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size(viewport)
    if width > PHONE["width"]:
        report.overflow.append((url, width))


def _open(page, url: str):
    """Navigate; for a download, answer the plain response instead (None: not a page)."""
    try:
        return page.goto(url), True
    except Exception as exc:  # Playwright raises when the navigation becomes a download
        if "Download is starting" not in str(exc):
            raise
        return page.request.get(url, max_redirects=0), False


def crawl(page, start: str = "/", *, per_pattern: int = 3, limit: int = 200) -> CrawlReport:
    """Visit what `page`'s signed-in reader is offered from `start`; see the module doc."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
    viewport = page.viewport_size
    report = CrawlReport()
    first = _normalise(origin + start, origin)
    queue, seen, per = deque([(first, "(start)")]), {first}, {}
    while queue and len(report.visited) < limit:
        url, source = queue.popleft()
        response, is_page = _open(page, url)
        status = response.status if response is not None else 0
        report.visited.append((url, status))
        if status >= 400 or response is None:
            report.broken.append((url, status, source))
            continue
        if not is_page or "text/html" not in (response.headers.get("content-type") or ""):
            continue
        _axe(page, url, report)
        _overflow(page, url, report, viewport)
        for link in _links(page, origin):
            key = pattern(link)
            if link in seen or per.get(key, 0) >= per_pattern:
                continue
            seen.add(link)
            per[key] = per.get(key, 0) + 1
            queue.append((link, url))
    return report
