"""Prometheus metrics: the Temporal runtime of the process exports its SDK metrics (workflow
and activity task latencies, pollers, slots, failures) and Relais' own counters, created on
its metric meter, on one address; the API's `/metrics` serves them."""

from __future__ import annotations

import logging

from temporalio.common import MetricMeter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from relais.settings import Settings

_runtime: Runtime | None = None


def install_runtime(settings: Settings) -> Runtime | None:
    """Once per process, before its first Temporal client: the default runtime exports to
    `settings.metrics_address`, and with JSON logs (a deployment) the SDK core's own log
    lines go through Python's logging too, so they come out as JSON like every other line.
    Otherwise nothing changes (tests, a bare worker)."""
    global _runtime
    if (settings.metrics_address or settings.json_logs) and _runtime is None:
        metrics = (
            PrometheusConfig(
                bind_address=settings.metrics_address,
                counters_total_suffix=True,
                durations_as_seconds=True,
            )
            if settings.metrics_address
            else None
        )
        forwarded = LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
            forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
        )
        _runtime = Runtime(
            telemetry=TelemetryConfig(
                metrics=metrics,
                logging=forwarded if settings.json_logs else LoggingConfig.default,
            )
        )
        Runtime.set_default(_runtime, error_if_already_set=False)
        _instruments.clear()
    return _runtime


def meter() -> MetricMeter:
    """Where Relais' own counters live: the exporting runtime's meter, or a no-op one."""
    return _runtime.metric_meter if _runtime else MetricMeter.noop


_instruments: dict[tuple[str, str], object] = {}


def counter(name: str, description: str):
    """A counter of Relais' own (`relais_*`), made once per process."""
    key = ("counter", name)
    if key not in _instruments:
        _instruments[key] = meter().create_counter(name, description)
    return _instruments[key]


def duration(name: str, description: str):
    key = ("duration", name)
    if key not in _instruments:
        _instruments[key] = meter().create_histogram_timedelta(name, description)
    return _instruments[key]
