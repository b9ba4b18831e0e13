# The siaga service image: one image, the role is the command (api | worker | run).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY detectors ./detectors
COPY service ./service
RUN pip install --no-cache-dir . && useradd --system siaga
USER siaga
EXPOSE 8000
CMD ["siaga", "run"]
