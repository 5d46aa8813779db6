# A slim image that runs `anju run` (the service against an external broker and database).
# Build: docker build -t anju .
# Run:   docker run -e ANJU_SECRET_KEY=... -e ANJU_DATABASE_URL=postgresql+asyncpg://... \
#               -e ANJU_MQTT_URL=mqtt://... -e ANJU_HTTP_HOST=0.0.0.0 -p 8000:8000 anju
FROM python:3.11-slim-bookworm AS build
WORKDIR /app
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
RUN python -m venv /opt/anju && /opt/anju/bin/pip install --upgrade pip && /opt/anju/bin/pip install .

FROM python:3.11-slim-bookworm
RUN useradd --system --home /app --uid 10001 anju
WORKDIR /app
COPY --from=build /opt/anju /opt/anju
# The editable data: device profiles, rule packs, simulator scenarios, migrations.
COPY alembic.ini ./
COPY alembic ./alembic
COPY sensors ./sensors
COPY rules ./rules
COPY simulator ./simulator
ENV PATH=/opt/anju/bin:$PATH \
    ANJU_PROJECT_ROOT=/app \
    ANJU_HTTP_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
USER anju
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
# Migrations first, then the service; both read ANJU_DATABASE_URL.
CMD ["sh", "-c", "anju db upgrade && exec anju run"]
