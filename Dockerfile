# The ferroprom image: build with cargo, run on a slim Debian of the same
# release (the binary links glibc dynamically).
#
#   docker build -t REGISTRY/ferroprom:0.1.0 .
#   docker push REGISTRY/ferroprom:0.1.0
#
# Needs BuildKit (Docker 23 and later by default) for the cache mounts,
# which keep crates and build output between builds.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# The whole workspace: cargo reads every member's manifest, and those name
# bench and test targets that must exist.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ferroprom && \
    cp target/release/ferroprom /usr/local/bin/ferroprom

FROM debian:bookworm-slim
# The web UI is embedded in the binary, and TLS roots come with it
# (webpki-roots), so nothing else is installed.
COPY --from=build /usr/local/bin/ferroprom /usr/local/bin/ferroprom
# Data belongs to `nobody`, the user the process runs as (the Kubernetes
# manifests run it as 65534 too, with a read-only root file system).
RUN mkdir -p /data /etc/ferroprom && chown 65534:65534 /data
USER 65534:65534
# Without a prometheus.yml in /etc/ferroprom, the built-in configuration
# (ferroprom scraping itself) is used.
WORKDIR /etc/ferroprom
VOLUME /data
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/ferroprom"]
CMD ["--storage.tsdb.path=/data"]
