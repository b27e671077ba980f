# The app image for docker compose: the package, its bundled data, gunicorn.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CONNECTIVITY_HOST=0.0.0.0 CONNECTIVITY_DATA_DIR=/app/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY connectivity ./connectivity
COPY etl ./etl
COPY webmap ./webmap
COPY gapmap ./gapmap
RUN pip install --no-cache-dir .
COPY data ./data
RUN useradd --create-home gapmap
USER gapmap
EXPOSE 5000
CMD ["connectivity", "demo", "--workers", "2"]
