# One image for every dripr service: `docker run dripr <service>`, where <service> is one of
# scheduler, data_fetcher, intro, home_report, email_creation, email_sender, control_api.
# Dependencies come from infra/requirements.lock (pinned), the project itself with --no-deps.
FROM python:3.11-slim AS build
WORKDIR /src
COPY infra/requirements.lock infra/requirements.lock
RUN pip install --no-cache-dir --prefix=/install -r infra/requirements.lock
COPY pyproject.toml README.md ./
COPY shared shared
COPY services services
COPY infra infra
RUN pip install --no-cache-dir --prefix=/install --no-deps .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 dripr
COPY --from=build /install /usr/local
USER dripr
WORKDIR /home/dripr
ENV PYTHONUNBUFFERED=1 DRIPR_LOG_FORMAT=json DRIPR_API_HOST=0.0.0.0
# SIGTERM stops receiving, drains in-flight work within DRIPR_SHUTDOWN_GRACE_SECONDS (20 s) and
# hands the rest back to SQS: give the container a stop grace period of 30 s or more.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["dripr", "health"]
ENTRYPOINT ["dripr", "run"]
CMD ["scheduler"]
