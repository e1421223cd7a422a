# tipoff: slim Python, non-root, data on a volume, `tipoff run` as the entrypoint.
#   docker build -t tipoff .
#   docker run -v tipoff-data:/data -e TIPOFF_TELEGRAM_TOKEN tipoff            # config/tipoff.toml
#   docker run -v tipoff-data:/data -v $PWD/my.toml:/config.toml tipoff --config /config.toml
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TIPOFF_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install . && useradd --system --uid 10001 --home-dir /app tipoff \
    && mkdir -p /data && chown tipoff /data
COPY config ./config

USER tipoff
VOLUME ["/data"]
ENTRYPOINT ["tipoff", "run"]
CMD ["--config", "/app/config/tipoff.toml"]
