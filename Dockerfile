# Container image of cloudquota_exporter: a static Go binary on distroless,
# running as a non-root user.
#
#   docker build -t cloudquota_exporter \
#     --build-arg VERSION="$(cat VERSION)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg BRANCH="$(git rev-parse --abbrev-ref HEAD)" \
#     --build-arg BUILD_USER="$(id -un)@$(hostname)" \
#     --build-arg BUILD_DATE="$(date -u +%Y%m%d-%H:%M:%S)" \
#     .
#
# Every --build-arg is optional. Needs BuildKit (the default builder since
# Docker 23; buildah/podman work too), which sets BUILDPLATFORM: multi-platform
# builds (docker buildx build --platform linux/amd64,linux/arm64 ...) then
# cross-compile on the build machine's own platform, since the binary is pure Go.
#
# .ci/check-examples.sh checks this file statically and replays the builder
# stage's COPY and RUN lines outside Docker; keep them plain.

# ---- builder ------------------------------------------------------------
# The tag names the Go release of go.mod's "go" line, the lowest Go that the
# dependencies accept (.ci/check-examples.sh insists on the two being equal).
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS builder

WORKDIR /src

# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download

# Then the source (.dockerignore keeps everything else out of the context).
COPY *.go VERSION ./
COPY collector/ collector/
COPY config/ config/
COPY internal/ internal/

# Set by BuildKit/buildx for the platform being built; empty (the builder's
# own platform) otherwise.
ARG TARGETOS
ARG TARGETARCH
# Build information, shown by --version, logged at start-up and exported
# as cloudquota_exporter_build_info. An empty value is filled in by the
# binary itself (internal/buildinfo): the version from the VERSION file, the
# rest "unknown" (the build context has no .git).
ARG VERSION=
ARG REVISION=
ARG BRANCH=
ARG BUILD_USER=docker
ARG BUILD_DATE=

RUN CGO_ENABLED=0 GOOS="$TARGETOS" GOARCH="$TARGETARCH" go build -trimpath \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=${BRANCH} \
        -X github.com/prometheus/common/version.BuildUser=${BUILD_USER} \
        -X github.com/prometheus/common/version.BuildDate=${BUILD_DATE}" \
      -o /out/cloudquota_exporter .

# ---- runtime ------------------------------------------------------------
# Distroless static: CA certificates (the clouds' APIs are HTTPS), tzdata,
# /etc/passwd with the nonroot user (65532); no shell and no package manager.
FROM gcr.io/distroless/static-debian12:nonroot

ARG VERSION=
ARG REVISION=
LABEL org.opencontainers.image.title="cloudquota_exporter" \
      org.opencontainers.image.description="Prometheus exporter for cloud quotas: Tencent Cloud SMH, Huawei Cloud Workspace and Huawei Cloud Trace Service" \
      org.opencontainers.image.source="https://github.com/cloudquota/cloudquota_exporter" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

COPY --from=builder /out/cloudquota_exporter /bin/cloudquota_exporter

EXPOSE 9784
USER 65532:65532

# No HEALTHCHECK: the image has no shell and no curl. Probe
# http://<container>:9784/-/healthy (liveness) and /-/ready (readiness) from
# the orchestrator, e.g. Kubernetes httpGet probes.
ENTRYPOINT ["/bin/cloudquota_exporter"]
# Mount the configuration (and the secret files it names) here, read-only.
# Arguments given to "docker run IMAGE ..." replace this CMD, e.g. --demo.
CMD ["--config.file=/etc/cloudquota_exporter/cloudquota.yml"]
