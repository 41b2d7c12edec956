# tally in a container: `docker compose up --build` (docker-compose.yml) runs it
# beside a Kafka broker. Two stages on the same Debian release as the dev machines,
# so the shared libraries the build links are the ones the image ships.

FROM debian:bookworm-slim AS build
WORKDIR /src
# The package lists live in scripts/setup (--list build|runtime); copied alone first
# so the apt layer stays cached while the sources change.
COPY scripts/setup scripts/setup
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(scripts/setup --list build) \
 && rm -rf /var/lib/apt/lists/*
COPY . .
# The generic target: the image runs on any x86-64 or ARM64 host (simdjson picks
# its SIMD kernel at run time). TALLY_ARCH (a -march value, empty by default) is an
# opt-in for hosts known in advance, e.g. --build-arg TALLY_ARCH=native.
ARG TALLY_ARCH=
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTALLY_TESTS=OFF \
      -DTALLY_ARCH=${TALLY_ARCH} \
 && ninja -C /build tally \
 && strip /build/tally

FROM debian:bookworm-slim
COPY scripts/setup /tmp/setup
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(/tmp/setup --list runtime) \
 && rm -rf /var/lib/apt/lists/* /tmp/setup \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home tally \
 && mkdir /data && chown tally:tally /data
COPY --from=build /build/tally /usr/local/bin/tally
USER tally
# The store (RocksDB) is the only state; a named volume keeps it across containers.
VOLUME /data
# Listen on all interfaces: inside a container loopback is unreachable from outside.
ENV TALLY_DATA_DIR=/data TALLY_LISTEN=0.0.0.0:8080
EXPOSE 8080
# Liveness only (/healthz); /readyz says whether it is consuming.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["tally"]
CMD ["serve"]
