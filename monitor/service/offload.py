"""The CPU side of an article page, off the event loop: extraction, sketch, tags and the
full-text index's row in worker processes, each page under a time limit and a memory limit.

On the loop, a page of 100,000 nested tags held the whole process for minutes: no fetch, no
lease renewal, no bot reply. Here `analyse_page` does what the pipeline does between fetch and
store (extract the page; sketch and tag what it found) in a pool of worker processes (pebble's:
it kills and replaces a worker whose page overran its time, which `concurrent.futures` cannot),
and `Offload.analyse` awaits the result without blocking the loop. A page over a limit comes back
as `Refused` with its reason ("analysis took over 20 s", "extraction needed over 512 MB"), a
value like any other expected failure of a site; the pool carries on with the other pages.

Choices, measured in bench/README.md ("Analysis off the event loop"):
- Workers come from the 'forkserver': a clean process, started once, that has imported this
  module (trafilatura, selectolax, the tagger) and forks each worker from itself. A fork of the
  monitor itself could inherit a lock held by one of its threads (the store's, logging's, the
  pool's own) and its memory peak; 'spawn' is as safe but imports everything again for each
  worker, and again each time a timed-out worker is replaced.
- The rules (topics.yaml compiled: ~0.5 MB pickled, ~16 ms to pickle and unpickle, more than
  extracting a page) go to each worker once, when it starts, keyed by a digest of their content;
  when the operator reloads different rules, a new pool starts with them and the old one finishes
  its pages. A request carries only what one page needs: its HTML, URL, the source's article
  rules (a few hundred bytes), time zone and language.
- A worker's memory cap (RLIMIT_AS) counts from what the worker holds once started and warmed
  up, so the libraries' own address space (~370 MB with numpy's threads on 2 cores, more on
  more) does not eat the page's. A worker that reaches its cap leaves the pool (`watch_memory`).
- `workers=0` ("inline") runs the same `analyse_page` in this process, on one thread of its own
  so the loop still answers between the interpreter's switches; no limit applies there. For
  tests, and for machines where a pool is not worth its memory.

Blocking database calls need no helper here: the pipeline runs them on threads of its own
(`monitor.service.pipeline._db`).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import resource
import signal
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pebble import ProcessExpired, ProcessPool

from monitor.config.rules import Rules
from monitor.config.settings import Settings
from monitor.config.sources import ArticleRules
from monitor.core.records import ExtractedArticle
from monitor.dedupe.sketch import Sketch, sketch
from monitor.extract.article import extract_article
from monitor.store.fulltext import index_params
from monitor.tag.tagger import Tagging, tag
from monitor.text.normalise import content_hash

log = logging.getLogger(__name__)

StartMethod = Literal["forkserver", "spawn", "fork"]
MB = 1024 * 1024
WORKER_START_TIMEOUT = 120.0  # seconds for a new pool's first worker to answer
# What a MemoryError's traceback says was running: the first of these frames below analyse_page.
STAGES = {
    extract_article.__name__: "extraction",
    sketch.__name__: "sketching",
    tag.__name__: "tagging",
    index_params.__name__: "indexing",
}
# A worker that reached its memory cap exits with the code of the stage that took it there.
MEMORY_EXIT = {"analysis": 90, "extraction": 91, "sketching": 92, "tagging": 93, "indexing": 94}
OVER_MEMORY = {code: stage for stage, code in MEMORY_EXIT.items()}
# The share of the cap that counts as reaching it: an allocation refused at the cap never shows
# in the peak, which stays below the cap by that allocation's size.
NEAR_CAP = 0.95
# A short article each worker analyses before its memory is measured, so that what every page
# needs anyway (datasketch and numpy, imported on the first sketch) is in the worker's baseline:
# imported under the cap, scipy failed to map its libraries, or ground on for minutes.
WARM_UP_HTML = """<html><head><title>Warm-up</title></head><body><article>
<h1>Qazaxıstan və Azərbaycan nəqliyyat nazirləri görüşüb</h1>
<p>Bakıda keçirilən görüşdə tərəflər Orta Dəhliz üzrə yükdaşımaların həcmini müzakirə ediblər.</p>
<p>Nazirlər Aktau və Ələt limanları arasında bərə xəttinin gücünün artırılmasını razılaşdırıblar.</p>
<p>Növbəti iclasın gələn il Astanada keçirilməsi barədə qərar qəbul olunub, deyə məlumatda qeyd edilir.</p>
<p>Görüşdə rəqəmsal platformanın sınaq mərhələsi və gömrük prosedurlarının sadələşdirilməsi də müzakirə olunub.</p>
</article></body></html>"""


@dataclass(frozen=True)
class AnalyseRequest:
    """One fetched article page and what of its source reading it needs (not the whole source:
    a `Source` pickles at ~17 µs and 0.8 KB, its article rules at ~5 µs and 0.2-0.7 KB)."""

    html: str  # page.text
    url: str  # page.final_url
    article: ArticleRules  # source.article
    zone: ZoneInfo  # source.zone
    language: str  # source.language: the fallback of the extracted language, as in the record
    # The record's title when the page has none (build_record: the candidate's title, else the
    # URL); tagging reads the record's title, so it must read the same.
    fallback_title: str
    sqlite: bool = True  # which full-text index the archive keeps: FTS5 rows, else a tsvector


@dataclass(frozen=True)
class Analysis:
    """What the pipeline stores of a page, computed off the loop. `sketch` is that of the text in
    the record's language (None: too short to judge); `tagging` that of `title` and the text;
    `index` the full-text index's row of `title` and the text (`fulltext.index_params`, the
    article's id left out: it has none yet)."""

    extracted: ExtractedArticle
    title: str  # the title tagging read: extracted.title or the request's fallback_title
    sketch: Sketch | None
    tagging: Tagging
    index: dict[str, Any]
    content_hash: str  # of `title` and the text (`normalise.content_hash`), as the record's


@dataclass(frozen=True)
class Refused:
    """A page the workers gave up on, and why, in words for the source's report."""

    url: str
    reason: str  # "analysis took over 20 s", "extraction needed over 512 MB", ...
    kind: Literal["timeout", "memory", "crashed"]


def unwatched(stage: str) -> None:
    """The inline mode's watch: no limit to check."""


def analyse_page(
    request: AnalyseRequest, rules: Rules, watch: Callable[[str], None] = unwatched
) -> Analysis:
    """Extract the page, then sketch and tag what it holds (pure). The one code path of both
    modes: a worker process runs it under limits, inline mode on a thread of this process.
    `watch` hears the name of each stage as it ends: a worker checks its memory there."""
    extracted = extract_article(
        request.html,
        request.url,
        rules=request.article,
        zone=request.zone,
        language=request.language,
    )
    watch("extraction")
    found = sketch(extracted.text, extracted.lang or request.language)
    watch("sketching")
    title = extracted.title or request.fallback_title
    tagging = tag(title, extracted.text, rules)
    watch("tagging")
    lang = extracted.lang or request.language
    [index] = index_params([(0, title, extracted.text, lang)], sqlite=request.sqlite)
    del index["id"]
    watch("indexing")
    hashed = content_hash(title, extracted.text)  # normalising a long text is no work for the loop
    return Analysis(
        extracted=extracted,
        title=title,
        sketch=found,
        tagging=tagging,
        index=index,
        content_hash=hashed,
    )


class Offload:
    """Runs `analyse_page` off the event loop: in a pool of `workers` processes, each page within
    `timeout` seconds and `memory_mb` MB beyond a worker's start-up memory; `workers=0` inline.

        async with Offload.from_settings(settings) as offload:
            result = await offload.analyse(request, deps.rules)   # Analysis | Refused

    The rules are passed with each call (the pipeline holds the current ones; a reload replaces
    them) but reach the workers only when their content changes."""

    def __init__(
        self,
        *,
        workers: int,
        timeout: float,
        memory_mb: int,
        start_method: StartMethod = "forkserver",
    ) -> None:
        self.workers = workers
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.start_method = start_method
        self._pool: ProcessPool | None = None  # the pool of the current rules
        self._pools: list[ProcessPool] = []  # every pool started and not yet retired
        self._starting: asyncio.Future[ProcessPool] | None = None
        self._rules: Rules | None = None
        self._digest = ""
        self._switching = asyncio.Lock()
        self._retiring: set[asyncio.Future[None]] = set()
        self._thread: ThreadPoolExecutor | None = None
        self._open = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Offload:
        workers = settings.analysis_workers
        return cls(
            workers=usable_cpus() if workers is None else workers,
            timeout=settings.analysis_timeout,
            memory_mb=settings.analysis_memory_mb,
        )

    @property
    def inline(self) -> bool:
        return self.workers == 0

    async def __aenter__(self) -> Offload:
        self._open = True
        if self.inline:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._open = False
        if self._thread is not None:
            self._thread.shutdown(wait=False, cancel_futures=True)
            self._thread = None
        if self._starting is not None:  # a start whose caller was cancelled still ends here
            await asyncio.wait({self._starting})
        for pool in list(self._pools):
            self._retire(pool)
        self._pool, self._rules = None, None
        await asyncio.gather(*self._retiring)

    async def analyse(self, request: AnalyseRequest, rules: Rules) -> Analysis | Refused:
        """The page's analysis, or why the workers refused it. A bug in the analysis propagates."""
        if not self._open:  # a pool started now would never be stopped
            raise RuntimeError("Offload used outside `async with`")
        if self._thread is not None:  # inline
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread, analyse_page, request, rules)
        pool, digest = await self._pool_for(rules)
        future = pool.schedule(analyse_in_worker, args=(request, digest), timeout=self.timeout)
        try:
            return await asyncio.wrap_future(future)
        except TimeoutError:  # pebble killed the worker and starts another
            return Refused(request.url, f"analysis took over {self.timeout:g} s", "timeout")
        except ProcessExpired as exc:
            stage = OVER_MEMORY.get(exc.exitcode)
            if stage:  # the worker reached its cap and left (`watch_memory`)
                reason = f"{stage} needed over {self.memory_mb} MB"
                return Refused(request.url, reason, "memory")
            reason = f"analysis worker died (exit code {exc.exitcode})"  # a library crashed
            return Refused(request.url, reason, "crashed")

    async def _pool_for(self, rules: Rules) -> tuple[ProcessPool, str]:
        """The pool whose workers hold these rules; a new one (and the old one retired) when
        their content changed. Started on a thread: the first start waits for the forkserver."""
        if rules is self._rules and self._pool is not None:
            return self._pool, self._digest
        async with self._switching:  # pages that came meanwhile wait for one new pool
            pool, digest = self._pool, self._digest
            if rules is not self._rules or pool is None:
                digest = rules.digest  # the content: identical rules keep their workers
                if pool is None or digest != self._digest:
                    # shielded: a caller cancelled meanwhile must not lose the pool's workers
                    self._starting = asyncio.ensure_future(
                        asyncio.to_thread(self._start_pool, rules, digest)
                    )
                    started = await asyncio.shield(self._starting)
                    if pool is not None:  # after the start: pages with the old rules use it
                        self._retire(pool)
                    pool = started
                self._pool, self._rules, self._digest = pool, rules, digest
            return pool, digest

    def _start_pool(self, rules: Rules, digest: str) -> ProcessPool:
        context = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":  # once per process; a running server keeps its own
            # datasketch too (the sketch module's deferred import): a replaced worker is then
            # ready in 0.05 s instead of 0.7 s
            context.set_forkserver_preload([__name__, "datasketch"])
        blob = pickle.dumps(without_memo(rules), protocol=pickle.HIGHEST_PROTOCOL)
        pool = ProcessPool(
            max_workers=self.workers,
            initializer=start_worker,
            initargs=(digest, blob, self.memory_mb),
            context=context,
        )
        try:
            pool.schedule(worker_ready).result(timeout=WORKER_START_TIMEOUT)
        except BaseException:  # a worker that cannot start would be started again and again
            pool.stop()
            pool.join()
            raise
        log.debug(
            "started %d analysis workers (%s) with rules %s",
            self.workers,
            self.start_method,
            digest,
        )
        self._pools.append(pool)
        return pool

    def _retire(self, pool: ProcessPool) -> None:
        """Let the pool finish the pages it holds, then end its workers, off the loop."""
        self._pools.remove(pool)
        pool.close()
        retiring = asyncio.ensure_future(asyncio.to_thread(pool.join))
        self._retiring.add(retiring)
        retiring.add_done_callback(self._retiring.discard)


def usable_cpus() -> int:
    """CPUs this process may run on (a container's cpuset, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def without_memo(rules: Rules) -> Rules:
    """The rules with an empty word memo: the parent's can hold 200,000 words a worker does not
    need pickled (the memo refills as the worker tags)."""
    clone = rules.model_copy()
    clone._matcher = replace(rules.matcher, memo={})
    return clone


# --- inside a worker process --------------------------------------------------------------------


@dataclass(frozen=True)
class _Worker:
    digest: str
    rules: Rules
    near_cap: int  # bytes of address space that count as the cap reached (0: no cap)
    start_peak: int  # the peak address space when the cap was set


# A worker's rules and cap, set once by `start_worker` when the process starts. The one module
# global holding state in the package: a pool's task function has no other way to find what its
# process was given, and sending the rules with every page would cost more than the page.
_worker: _Worker | None = None


def start_worker(digest: str, blob: bytes, memory_mb: int) -> None:
    """Pool initializer: take the rules, warm up, then cap the address space at what the worker
    holds now plus `memory_mb`."""
    global _worker
    # Die at once when pebble ends an overrun page: its own handler runs only between bytecodes,
    # so a worker deep in the HTML parser's C code lingered until SIGKILL, 3 s later.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    rules: Rules = pickle.loads(blob)
    if analyse_page(WARM_UP, rules).sketch is None:
        raise RuntimeError("the warm-up page is too short to be sketched")
    size, near_cap = address_space("VmSize"), 0
    if size:  # no /proc (not Linux): left uncapped rather than capped at a guess
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = size + memory_mb * MB
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        near_cap = size + int(memory_mb * MB * NEAR_CAP)
    _worker = _Worker(digest, rules, near_cap, address_space("VmPeak"))


def worker_ready() -> bool:
    return _worker is not None


def analyse_in_worker(request: AnalyseRequest, digest: str) -> Analysis:
    """The pool's task: `analyse_page` with the rules this worker was started with."""
    if _worker is None or _worker.digest != digest:
        held = _worker.digest if _worker else None
        raise RuntimeError(f"this worker holds rules {held}, the page needs {digest}")
    try:
        return analyse_page(request, _worker.rules, watch_memory)
    except MemoryError as exc:
        os._exit(MEMORY_EXIT[stage_of(exc)])


def watch_memory(stage: str) -> None:
    """Leave the pool, naming the stage in the exit code, when the stage took the worker to its
    cap. The cap shows in the peak, not always as an error: the extractor reads a MemoryError
    as a page it cannot parse (its `except Exception`) and returns an empty article. The worker
    goes, not just the page, because a peak never comes down and a heap that filled up stays
    fragmented: the next page gets a fresh worker."""
    if _worker is not None and _worker.near_cap:
        peak = address_space("VmPeak")
        if peak >= _worker.near_cap and peak > _worker.start_peak:
            os._exit(MEMORY_EXIT[stage])


def stage_of(exc: BaseException) -> str:
    """The stage a MemoryError happened in, from its traceback (the first stage's frame)."""
    names = (frame.f_code.co_name for frame, _ in traceback.walk_tb(exc.__traceback__))
    return next((STAGES[name] for name in names if name in STAGES), "analysis")


def address_space(field: str) -> int:
    """VmSize (now) or VmPeak (highest yet) of this process in bytes; 0 where /proc is absent."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


WARM_UP = AnalyseRequest(
    html=WARM_UP_HTML,
    url="https://example.invalid/warm-up",
    article=ArticleRules(),
    zone=ZoneInfo("UTC"),
    language="az",
    fallback_title="Warm-up",
)
