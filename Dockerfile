# One image for every dripr service: `docker run dripr <service>`, where <service> is one of
# scheduler, data_fetcher, intro, home_report, email_creation, email_sender, control_api.
# Dependencies come from infra/requirements.lock (pinned and hashed), the project itself with
# --no-deps, all into a virtual environment at /opt/dripr. BASE is any image with Python 3.11 and
# its venv module: python:3.11-slim by default, or a Debian root file system of our own where no
# registry can be reached (infra/image/build.sh; ../shared/recipes in the project's notes).
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
RUN python3 -m venv /opt/dripr
ENV PATH=/opt/dripr/bin:$PATH PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY infra/requirements.lock infra/requirements.lock
RUN pip install --require-hashes --no-deps -r infra/requirements.lock
COPY pyproject.toml README.md ./
COPY shared shared
COPY services services
COPY infra infra
RUN pip install --no-deps .

FROM ${BASE}
RUN useradd --create-home --uid 10001 dripr
COPY --from=build /opt/dripr /opt/dripr
USER dripr
WORKDIR /home/dripr
ENV PATH=/opt/dripr/bin:$PATH PYTHONUNBUFFERED=1 DRIPR_LOG_FORMAT=json DRIPR_API_HOST=0.0.0.0
# SIGTERM stops receiving, drains in-flight work within DRIPR_SHUTDOWN_GRACE_SECONDS (20 s) and
# hands the rest back to SQS: give the container a stop grace period of 30 s or more.
STOPSIGNAL SIGTERM
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["dripr", "probe", "livez"]
ENTRYPOINT ["dripr", "run"]
CMD ["scheduler"]
