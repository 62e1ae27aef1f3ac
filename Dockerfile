# Build stage has a C compiler for the MEXC frame reader (libs/arb/venues/mexc/_wire.pyx) and the L2 book's
# level updates (libs/arb/venues/common/_book.pyx); the runtime stage is slim and gets only the built wheel and
# its dependencies.
FROM python:3.11 AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY libs libs
COPY services services
COPY proto proto
RUN pip wheel --no-cache-dir --wheel-dir /wheels . \
    && python -m zipfile -l /wheels/arb_engine-*.whl | grep -q '_wire.*\.so' \
    && python -m zipfile -l /wheels/arb_engine-*.whl | grep -q '_book.*\.so'

FROM python:3.11-slim
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER nobody
ENTRYPOINT []
