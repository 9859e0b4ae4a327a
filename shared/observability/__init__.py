"""What operators watch dripr through: metrics, traces, liveness and readiness.

One cross-cutting layer, used by the runtime, the adapters and the services alike, and
importing none of them: `metrics` holds every instrument (the same names in every service),
`tracing` sets up OpenTelemetry from the standard `OTEL_*` variables, `propagation` carries a
trace across SNS/SQS message attributes and outbox rows, `liveness` records that each loop is
still going round, and `probes` serves all of it over HTTP.
"""
