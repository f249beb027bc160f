# wampd, the wampkit router, as a container image: a static binary on an
# empty image, run as an unprivileged user.
#
#   docker build -t wampd --build-arg VERSION="$(git describe --tags --always --dirty)" .
#   docker run --rm -p 8080:8080 -p 8081:8081 wampd
#   docker run --rm -p 8080:8080 -v "$PWD/wampd.yaml:/etc/wampd/wampd.yaml:ro" wampd \
#       -config /etc/wampd/wampd.yaml -ws 0.0.0.0:8080 -admin 0.0.0.0:8082
#   docker kill --signal=HUP <container>     # reload the configuration
#
# The health check asks the admin listener on port 8082: arguments that
# replace the default ones below should keep -admin 0.0.0.0:8082 (or
# admin.address in the file), or the container reports unhealthy.
#
# cmd/wampd/package_test.go runs the RUN lines of the build stage and
# checks the settings of the final stage; keep both stages simple.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# wampd is a module of its own (cmd/wampd) that needs the root module and
# the cluster module; a workspace of just these three builds it from this
# source tree (the repository's go.work also names modules that
# .dockerignore leaves out).
ENV GOWORK=/tmp/wampd.work CGO_ENABLED=0
COPY go.mod go.sum ./
COPY cluster/go.mod cluster/go.sum ./cluster/
COPY cmd/wampd/go.mod cmd/wampd/go.sum ./cmd/wampd/
RUN rm -f "$GOWORK" && go work init . ./cluster ./cmd/wampd && \
	go work edit \
		-replace "github.com/wampkit/wampkit@v0.0.0-00010101000000-000000000000=$PWD" \
		-replace "github.com/wampkit/wampkit/cluster@v0.0.0-00010101000000-000000000000=$PWD/cluster" && \
	go mod download
COPY . .
# The version wampd reports (-version, the log, wampd_build_info). Empty
# means the build info's, "(devel)" without .git in the build context.
ARG VERSION=
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/wampd ./cmd/wampd

FROM scratch
COPY --from=build /out/wampd /wampd
# Any user but root; 65532 is "nonroot" in distroless images.
USER 65532:65532
# WebSocket (ws://host:8080/ws and /healthz), RawSocket, admin (/metrics,
# /healthz). Bind the admin port to a trusted network only.
EXPOSE 8080 8081 8082
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
	CMD ["/wampd", "-healthcheck", "http://127.0.0.1:8082/healthz"]
ENTRYPOINT ["/wampd"]
CMD ["-ws", "0.0.0.0:8080", "-rawsocket", "0.0.0.0:8081", "-admin", "0.0.0.0:8082"]
