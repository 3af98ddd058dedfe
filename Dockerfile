# The cxloop manager image, for those who build with a container daemon or
# BuildKit. `make image` builds the same image without one (hack/image):
# the static manager on an empty base, run as UID 65532, with /tmp as the
# only place meant to be written (the Deployment mounts an emptyDir there
# and sets readOnlyRootFilesystem). TestDockerfileMatchesTheImage in
# hack/image keeps the two alike.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=v0.3.0 -t registry.example.com/cxloop-manager:v0.3.0 --push .
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO_ENABLED=0: a static binary (the SQLite driver is pure Go) that needs
# no loader or libc from the base; CA roots are compiled in.
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X github.com/cxloop/cxloop/internal/version.Version=${VERSION}" \
      -o /out/manager ./cmd/manager \
 && mkdir -m 1777 /out/tmp

FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="cxloop-manager" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/cxloop/cxloop"
COPY hack/image/rootfs/etc/ /etc/
COPY --from=build /out/tmp /tmp
COPY --from=build /out/manager /manager
ENV HOME=/tmp
USER 65532:65532
ENTRYPOINT ["/manager"]
