# One image for the migrate, worker and api services of docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY relais relais
COPY domain domain
COPY store store
COPY workflows workflows
COPY activities activities
COPY worker worker
COPY api api
RUN pip install --no-cache-dir . && useradd --system relais
USER relais
ENV RELAIS_API_HOST=0.0.0.0
CMD ["relais", "api"]
