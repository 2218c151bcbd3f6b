"""OpenTelemetry spans per run: pipeline run → step → job → extract/transform/load phases.

A :class:`Tracing` wraps one ``TracerProvider`` that belongs to a run (or to a pipeline run, which
hands it to its steps); nothing touches the global OpenTelemetry provider. The exporter is chosen
by the standard environment variables:

==============================  ==============================================================
``OTEL_TRACES_EXPORTER``        unset or ``none``: tracing off (the default) · ``console``: spans
                                as JSON on stderr · ``otlp``: OTLP/HTTP (needs the ``otlp`` extra,
                                ``pip install 'sparkjobs[otlp]'``); a comma list enables several
``OTEL_SDK_DISABLED``           ``true``: off whatever the exporter says
``OTEL_SERVICE_NAME``           the ``service.name`` resource attribute (default ``sparkjobs``)
``OTEL_RESOURCE_ATTRIBUTES``    extra resource attributes, ``k=v,k2=v2``
``OTEL_EXPORTER_OTLP_ENDPOINT`` collector base URL (``/v1/traces`` is appended) — or
``OTEL_EXPORTER_OTLP_TRACES_*`` the traces-specific endpoint, headers, timeout, as the SDK reads them
``OTEL_TRACES_SAMPLER``         sampler, read by the SDK
==============================  ==============================================================

Off, :meth:`Tracing.span` returns one shared ``nullcontext``: no span object, no context switch.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

P = ParamSpec("P")
R = TypeVar("R")

TRACER_NAME = "sparkjobs"
_NO_SPAN = contextlib.nullcontext(trace.INVALID_SPAN)
_TRUE = {"1", "true", "yes", "on"}

AttributeValue = str | bool | int | float


class Tracing:
    """A run's tracer. ``Tracing.disabled()`` costs nothing; ``from_environ`` follows ``OTEL_*``."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer(TRACER_NAME) if provider is not None else None

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def disabled(cls) -> Tracing:
        return cls(None)

    @classmethod
    def with_exporter(
        cls, exporter: SpanExporter, *, batch: bool = False, service_name: str = "sparkjobs"
    ) -> Tracing:
        """Tracing into ``exporter`` (synchronously unless ``batch``)."""
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
        return cls(provider)

    @classmethod
    def in_memory(cls) -> tuple[Tracing, InMemorySpanExporter]:
        """For tests: finished spans land in the returned exporter (``get_finished_spans()``)."""
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        return cls.with_exporter(exporter), exporter

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, logger: logging.Logger | None = None
    ) -> Tracing:
        """Tracing as the standard ``OTEL_*`` variables ask (off when they say nothing)."""
        env = os.environ if environ is None else environ
        log = logger or logging.getLogger("sparkjobs.observability.tracing")
        if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
            return cls.disabled()
        names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "none").split(",") if n.strip()]
        exporters: list[SpanExporter] = []
        for name in names:
            if name == "none":
                continue
            exporter = _exporter(name, env, log)
            if exporter is not None:
                exporters.append(exporter)
        if not exporters:
            return cls.disabled()
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        attributes: dict[str, AttributeValue] = {}
        for pair in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
            if "=" in pair:
                key, value = pair.split("=", 1)
                attributes[key.strip()] = value.strip()
        attributes["service.name"] = env.get("OTEL_SERVICE_NAME") or str(
            attributes.get("service.name", "sparkjobs")
        )
        provider = TracerProvider(resource=Resource.create(attributes), shutdown_on_exit=False)
        for exporter in exporters:
            provider.add_span_processor(BatchSpanProcessor(exporter))
        return cls(provider)

    # -- use ------------------------------------------------------------------------------------
    def span(
        self, name: str, attributes: Mapping[str, AttributeValue | None] | None = None
    ) -> contextlib.AbstractContextManager[trace.Span]:
        """A span that is current inside the ``with`` block; records an escaping exception."""
        if self._tracer is None:
            return _NO_SPAN
        attrs = {k: v for k, v in (attributes or {}).items() if v is not None}
        return self._tracer.start_as_current_span(
            name, attributes=attrs, record_exception=True, set_status_on_exception=True
        )

    def bind(self, fn: Callable[P, R]) -> Callable[P, R]:
        """``fn`` that runs under the span current *now* — for work handed to another thread."""
        if self._tracer is None:
            return fn
        captured = otel_context.get_current()

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            token = otel_context.attach(captured)
            try:
                return fn(*args, **kwargs)
            finally:
                otel_context.detach(token)

        return run

    @staticmethod
    def trace_id(span: trace.Span) -> str | None:
        ctx = span.get_span_context()
        return format(ctx.trace_id, "032x") if ctx.is_valid else None

    def flush(self, timeout_ms: int = 10_000) -> None:
        if self.provider is not None:
            self.provider.force_flush(timeout_ms)

    def shutdown(self) -> None:
        """Flush and stop the exporters (their threads); the Tracing is off afterwards."""
        if self.provider is not None:
            self.provider.shutdown()
        self.provider = None
        self._tracer = None


def _exporter(name: str, env: Mapping[str, str], log: logging.Logger) -> SpanExporter | None:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr)  # stdout stays for the command's own output
    if name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning(
                "OTEL_TRACES_EXPORTER=otlp but the OTLP exporter is not installed "
                "(pip install 'sparkjobs[otlp]'); spans are not exported"
            )
            return None
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        if endpoint is None and env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
        return OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    log.warning("OTEL_TRACES_EXPORTER=%s is not supported here (use console or otlp); ignored", name)
    return None
