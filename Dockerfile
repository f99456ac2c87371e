# QTC in a container: `qtc run` as a non-root user, its API on 0.0.0.0:8000, data in /data.
#   docker build -t qtc . && docker run -d -p 127.0.0.1:8000:8000 -v qtc-data:/data qtc
# The first stage builds the package and its dependencies into a venv; the second copies only
# that venv, the examples and the default registry.
FROM python:3.11-slim AS build
RUN python -m venv /opt/qtc
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/qtc/bin/pip install --no-cache-dir .

FROM python:3.11-slim
# libseccomp2: the strategy workers' seccomp filter (loaded through pyseccomp)
RUN apt-get update \
    && apt-get install -y --no-install-recommends libseccomp2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin qtc \
    && install -d -o qtc -g qtc -m 0700 /data
COPY --from=build /opt/qtc /opt/qtc
COPY examples /app/examples
COPY deploy/teams.example.yaml /app/deploy/teams.example.yaml

# The API listens on every interface of the container (QTC's own default is 127.0.0.1); the
# flags --api-host, --data-dir and --log-file still override these.
ENV PATH=/opt/qtc/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    QTC_API_HOST=0.0.0.0 \
    QTC_API_PORT=8000 \
    QTC_DATA_DIR=/data \
    QTC_LOG_FILE=/data/logs/qtc-orchestrator.log

USER qtc
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# /healthz answers 200 while the process is up; python, so the image needs no curl
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('QTC_API_PORT', '8000'), timeout=4)"]
# SIGTERM (docker stop) finishes the current minute and flushes: give it time (stop -t 120)
STOPSIGNAL SIGTERM
ENTRYPOINT ["qtc"]
# Alpaca: -e ALPACA_API_KEY -e ALPACA_API_SECRET (without them, the simulated exchange).
# Your teams: -v ./teams:/teams:ro ... qtc run --registry /teams/teams.yaml
CMD ["run", "--registry", "/app/deploy/teams.example.yaml"]
