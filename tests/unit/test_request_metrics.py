"""The API's request counter: by method, route template (never the ids in the path) and
status, for every answer, refusals included."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI, HTTPException

import api.app
from api.app import RequestMetrics


class _Recorded:
    def __init__(self) -> None:
        self.seen: list[tuple[str, object, dict[str, str]]] = []

    def counter(self, name: str, _description: str) -> _Recorded.Instrument:
        return self.Instrument(self, name)

    duration = counter

    class Instrument:
        def __init__(self, owner: _Recorded, name: str) -> None:
            self.owner, self.name = owner, name

        def add(self, value: int, attrs: dict[str, str]) -> None:
            self.owner.seen.append((self.name, value, attrs))

        def record(self, value: timedelta, attrs: dict[str, str]) -> None:
            self.owner.seen.append((self.name, value, attrs))


async def test_requests_are_counted_by_route_template_and_status(monkeypatch):
    recorded = _Recorded()
    monkeypatch.setattr(api.app.metrics, "counter", recorded.counter)
    monkeypatch.setattr(api.app.metrics, "duration", recorded.duration)
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        if thing_id == 0:
            raise HTTPException(404, "absent")
        return {"id": thing_id}

    app.add_middleware(RequestMetrics)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as h:
        assert (await h.get("/things/41")).json() == {"id": 41}
        assert (await h.get("/things/0")).status_code == 404
        assert (await h.get("/nowhere")).status_code == 404
    counted = [(v, a) for n, v, a in recorded.seen if n == "relais_http_requests"]
    assert counted == [
        (1, {"method": "GET", "route": "/things/{thing_id}", "status": "200"}),
        (1, {"method": "GET", "route": "/things/{thing_id}", "status": "404"}),
        (1, {"method": "GET", "route": "other", "status": "404"}),
    ]
    timed = [v for n, v, _ in recorded.seen if n == "relais_http_request_duration"]
    assert len(timed) == 3 and all(isinstance(v, timedelta) for v in timed)
