# One image for the migrate, worker and api services of docker-compose.yml. It runs as an
# unprivileged user; `relais health` is its healthcheck (the API's readiness; compose
# checks the worker with `relais health --worker`).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY relais relais
COPY domain domain
COPY store store
COPY workflows workflows
COPY activities activities
COPY worker worker
COPY api api
RUN pip install . && useradd --system --uid 10001 --no-create-home relais
USER relais
ENV RELAIS_API_HOST=0.0.0.0
HEALTHCHECK --interval=10s --timeout=10s --start-period=30s --retries=3 CMD ["relais", "health"]
CMD ["relais", "api"]
