FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY libs libs
COPY services services
COPY proto proto
RUN pip install --no-cache-dir .
USER nobody
ENTRYPOINT []
