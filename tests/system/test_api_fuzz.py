"""Schemathesis against the running stack's OpenAPI (bounded examples): whatever a client
sends, within the schema or not, the answer is never a 5xx, and input outside the schema
starts no workflow. Dates are drawn from the whole calendar (year 1 to 9999, any offset) as
well as the sensible range; a run also turns the bodies' strings into other scripts' digits
and control characters; every body route gets a body past the size limit; and the API
process's memory is watched while 100 MB bodies come in."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from datetime import UTC, date, datetime, timedelta, timezone

import psutil
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from temporalio.client import Client

from tests.system.conftest import DevStack

pytestmark = pytest.mark.system

NETWORK = "Entreprendre au Nord de Marseille"
EXAMPLES = 10

# Instants and days from the whole calendar, the edges that overflowed once moved to UTC
# among them, beside sensible ones.
EXTREME_INSTANTS = [
    "9999-12-31T20:00:00-12:00",
    "9999-12-31T23:59:59+00:00",
    "0001-01-01T00:00:00+14:00",
    "2100-12-31T20:00:00-12:00",
    "1999-12-31T23:59:59+00:00",
    "2026-12-31T18:00:00",  # no time zone
]
_offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
INSTANTS = st.one_of(
    st.sampled_from(EXTREME_INSTANTS),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_offsets
    ).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda d: d.replace(tzinfo=UTC).isoformat()
    ),
)
DAYS = st.one_of(
    st.sampled_from(["9999-12-31", "0001-01-01", "1999-12-31", "2101-01-01"]),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
    st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 1, 1)).map(date.isoformat),
)
schemathesis.openapi.format("date-time", INSTANTS)
schemathesis.openapi.format("date", DAYS)

# What a body's strings are turned into: digits of other scripts, control characters.
TRICKS = {
    "fullwidth digits": lambda v: v.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    "arabic-indic digits": lambda v: v.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
    "CR/LF": lambda v: v[:1] + "\r\nBcc: x@evil.example\r\n" + v[1:],
    "NUL": lambda v: v + "\x00",
    "tab and separators": lambda v: "\t" + v + "\u2028\x85",
    "digits to fullwidth 0": lambda v: "０" * max(len(v), 5),
}


def _tricked(value, trick):
    if isinstance(value, str):
        return trick(value)
    if isinstance(value, list):
        return [_tricked(v, trick) for v in value]
    if isinstance(value, dict):
        return {k: _tricked(v, trick) for k, v in value.items()}
    return value


def _with_trick(pair):
    case, name = pair
    if isinstance(case.body, dict | list):
        case.body = _tricked(case.body, TRICKS[name])
    if case.query:
        case.query = _tricked(case.query, TRICKS[name])
    return case


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    s = DevStack(tmp_path_factory.mktemp("fuzz") / "relais-home")
    s.start()
    yield s
    s.ctrl_c()


def _fuzz(stack: DevStack, strategies) -> tuple[int, int, list[str]]:
    """Every operation of the OpenAPI, a bounded number of generated requests each, as the
    network's staff (who see everything) and as a member (who sees its own)."""
    tokens = stack.tokens()
    auths = [
        {"Authorization": f"Bearer {tokens[f'staff:{NETWORK}']}"},
        {"Authorization": f"Bearer {tokens['member:Logistique des Arnavaux']}"},
    ]
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json")
    failures: list[str] = []
    operations = calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=strategies(operation))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case):
            nonlocal calls
            for headers in auths:
                calls += 1
                response = case.call(base_url=stack.url, headers=headers, timeout=30)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{case.as_curl_command()}"
                    )

        try:
            check()
        except Unsatisfiable:  # no parameter to get wrong (GET /health, /api/me…)
            continue
    return operations, calls, failures


async def _workflow_count(stack: DevStack) -> int:
    """Workflows the stack's Temporal server knows, once the count is stable (the demo's
    processes start in the background)."""
    client = await Client.connect(f"127.0.0.1:{stack.env['RELAIS_DEV_TEMPORAL_PORT']}")
    last, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 3:
        n = (await client.count_workflows()).count
        if n != last:
            last, stable_since = n, time.monotonic()
        await asyncio.sleep(0.5)
    return last


def test_invalid_input_starts_no_workflow(fuzzed):
    """Requests outside the schema (negative examples only) are refused before anything
    starts: the Temporal server counts the same workflows before and after."""
    before = asyncio.run(_workflow_count(fuzzed))
    operations, calls, failures = _fuzz(fuzzed, lambda op: op.as_strategy(GenerationMode.NEGATIVE))
    assert asyncio.run(_workflow_count(fuzzed)) == before
    assert operations > 40 and calls > operations
    assert not failures, "\n".join(failures[:20])


def test_no_server_error_on_any_route(fuzzed):
    """Valid and invalid bodies, odd path and query values: never a 5xx."""
    operations, calls, failures = _fuzz(
        fuzzed,
        lambda op: (
            op.as_strategy(GenerationMode.POSITIVE) | op.as_strategy(GenerationMode.NEGATIVE)
        ),
    )
    assert operations > 40 and calls > operations * EXAMPLES
    assert not failures, "\n".join(failures[:20])


def test_other_scripts_digits_and_control_characters_never_make_a_5xx(fuzzed):
    """Valid bodies whose every string is turned into other scripts' digits, CR/LF, NUL,
    tabs or Unicode separators: refused or taken, never a 5xx, never a hang (30 s a call)."""
    operations, calls, failures = _fuzz(
        fuzzed,
        lambda op: st.tuples(
            op.as_strategy(GenerationMode.POSITIVE), st.sampled_from(sorted(TRICKS))
        ).map(_with_trick),
    )
    assert operations > 40 and calls > operations
    assert not failures, "\n".join(failures[:20])


def test_a_body_past_the_limit_is_a_413_on_every_route(fuzzed):
    """Every operation that takes a body, sent 300 KB of it (the limit is 256 KB): 413 in
    French, before authentication (no token here)."""
    import httpx

    schema = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")
    refused = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.body:
            continue
        path = operation.path.replace("{", "").replace("}", "")  # any value will do
        r = httpx.request(
            operation.method.upper(),
            fuzzed.url + path,
            content=b'{"x": "' + b"a" * (300 * 1024) + b'"}',
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert r.status_code == 413, (operation.method, operation.path, r.status_code)
        assert r.json()["detail"].startswith("Requête trop volumineuse")
        refused += 1
    assert refused > 20


def _post_100_mb(
    url: str, path: str, content_type: str, chunked: bool, head: bytes = b""
) -> tuple[int, int]:
    """POST 100 MB as a raw client would, Content-Length declared or chunked: the status
    line received and the bytes this side managed to send before the server answered and
    closed (they include what the kernels buffered, not only what the app read)."""
    host, port = url.removeprefix("http://").split(":")
    size = 100 * 1024 * 1024
    chunk = b"a" * (256 * 1024)
    sock = socket.create_connection((host, int(port)), timeout=30)
    framing = b"Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}".encode()
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n".encode()
        + framing
        + b"\r\n\r\n"
    )
    answer = bytearray()

    def read() -> None:
        try:
            while data := sock.recv(65536):
                answer.extend(data)
        except OSError:
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = 0
    try:
        if head:
            sock.sendall((b"%x\r\n" % len(head) + head + b"\r\n") if chunked else head)
            sent += len(head)
        while sent < size and not answer:
            piece = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") if chunked else chunk
            sock.sendall(piece)
            sent += len(chunk)
    except OSError:
        pass  # the server closed the connection: the rest is never read
    reader.join(30)
    sock.close()
    status = int(bytes(answer).split(b" ", 2)[1]) if answer else 0
    return status, sent


def test_100_mb_bodies_do_not_grow_the_api_process(fuzzed):
    """Four unauthenticated 100 MB JSON posts at once and a 100 MB multipart post to the
    sign-in page (the probe's case: 143 MB → 811 MB, 504 MB still held after): each is a
    413, and the `relais dev` process (API, worker and all) grows by less than 30 MB."""
    proc = psutil.Process(fuzzed.proc.pid)
    before = proc.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    results: list[tuple[int, int]] = []
    part = b'--x\r\nContent-Disposition: form-data; name="token"; filename="t"\r\n\r\n'
    posts = [
        ("/api/organisations", "application/json", chunked, b'{"name": "')
        for chunked in (False, True) * 2
    ] + [("/connexion", "multipart/form-data; boundary=x", c, part) for c in (False, True)]
    threads = [
        threading.Thread(target=lambda a=a: results.append(_post_100_mb(fuzzed.url, *a)))
        for a in posts
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    done.set()
    sampler.join()
    grown = (peak - before) / 2**20
    print(
        f"\nRSS {before / 2**20:.0f} MB, peak +{grown:.1f} MB; sent before refusal (MB):",
        [round(sent / 2**20, 1) for _, sent in results],
    )
    assert [status for status, _ in results] == [413] * len(posts)
    assert grown < 30
