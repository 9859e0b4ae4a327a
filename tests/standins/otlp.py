"""A local OTLP/HTTP receiver: what an OpenTelemetry collector is to a deployed service.

It speaks the wire format the SDK's exporters send (protobuf `ExportTraceServiceRequest` and
`ExportMetricsServiceRequest` POSTed to /v1/traces and /v1/metrics, gzip or not) and keeps the
spans it receives, flattened, for a test to read. It serves from a thread of its own, so a
test that blocks its event loop (stopping processes, say) does not stall the exporters.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    links: tuple[tuple[str, str, dict[str, Any]], ...]
    """(trace id, span id, attributes) of each link."""
    error: bool


@dataclass
class OtlpReceiver:
    url: str = ""
    keep: bool = True
    """False: count spans without keeping them (a benchmark's hundreds of thousands)."""
    spans: list[ReceivedSpan] = field(default_factory=list)
    span_count: int = 0
    metric_names: set[str] = field(default_factory=set)
    """Names of the metrics pushed over OTLP, from any service."""

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return sorted((s for s in self.spans if s.trace_id == trace_id), key=lambda s: s.start_ns)

    def traces(self, body: bytes) -> bytes:
        message = ExportTraceServiceRequest.FromString(body)
        if not self.keep:
            self.span_count += sum(
                len(scope.spans) for rs in message.resource_spans for scope in rs.scope_spans
            )
            return bytes(ExportTraceServiceResponse().SerializeToString())
        for resource_spans in message.resource_spans:
            service = str(_attributes(resource_spans.resource.attributes).get("service.name"))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.span_count += 1
                    self.spans.append(
                        ReceivedSpan(
                            service=service,
                            name=span.name,
                            kind=KINDS.get(span.kind, str(span.kind)),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                            attributes=_attributes(span.attributes),
                            links=tuple(
                                (
                                    link.trace_id.hex(),
                                    link.span_id.hex(),
                                    _attributes(link.attributes),
                                )
                                for link in span.links
                            ),
                            error=span.status.code == 2,
                        )
                    )
        return bytes(ExportTraceServiceResponse().SerializeToString())

    def metrics(self, body: bytes) -> bytes:
        message = ExportMetricsServiceRequest.FromString(body)
        for resource_metrics in message.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                self.metric_names.update(metric.name for metric in scope_metrics.metrics)
        return bytes(ExportMetricsServiceResponse().SerializeToString())


@contextlib.contextmanager
def otlp_receiver(keep: bool = True) -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver(keep=keep)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            route = {"/v1/traces": receiver.traces, "/v1/metrics": receiver.metrics}
            if self.path not in route:
                self.send_error(404)
                return
            with lock:
                reply = route[self.path](body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def _attributes(values: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in values if isinstance(kv, KeyValue)}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None
