# dispatch_exporter container image: a static binary on scratch, non-root.
#   docker build -t dispatch_exporter .
#   docker run --rm -p 9847:9847 dispatch_exporter --demo
# Build arguments VERSION, REVISION, BRANCH and BUILD_DATE end up in
# --version and dispatch_exporter_build_info (make docker sets them); an
# empty VERSION means the VERSION file's, which the binary embeds.

ARG GO_IMAGE=golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY . .
ARG VERSION=
ARG REVISION=unknown
ARG BRANCH=unknown
ARG BUILD_DATE=unknown
ARG BUILD_USER=docker
RUN CGO_ENABLED=0 go build -trimpath -o /out/dispatch_exporter \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=${BRANCH} \
        -X github.com/prometheus/common/version.BuildUser=${BUILD_USER} \
        -X github.com/prometheus/common/version.BuildDate=${BUILD_DATE}" \
      . \
 && /out/dispatch_exporter --version

FROM scratch
ARG VERSION=
ARG REVISION=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="dispatch_exporter" \
      org.opencontainers.image.description="Prometheus exporter for a dispatch daemon's poll loop: wedged, stuck, stopped." \
      org.opencontainers.image.source="https://github.com/stoneforge/dispatch_exporter" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${BUILD_DATE}"
# CA roots for https targets: the builder's Debian bundle.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/dispatch_exporter /bin/dispatch_exporter
USER 65534:65534
EXPOSE 9847
ENTRYPOINT ["/bin/dispatch_exporter"]
