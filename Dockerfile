# cvpipe's image: a build stage that compiles and runs the unit tests, and a runtime stage with
# only the libraries the binaries link, the binaries, the default config and the sample.
#   docker build -t cvpipe .
#   docker run --rm -v "$PWD/out:/out" cvpipe                  # the sample into ./out/default.mp4
#   docker run --rm -v "$PWD/my:/etc/cvpipe" -v "$PWD/out:/out" cvpipe /etc/cvpipe/my.yaml
# Shared memory is a memfd, not /dev/shm: Docker's default 64 MiB /dev/shm is enough.

FROM debian:bookworm-slim AS build
# python3-onnx writes the unit tests' tiny ONNX models (tests/dnn/make_models.py).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libopencv-dev libspdlog-dev libyaml-cpp-dev libconcurrentqueue-dev \
      libgtest-dev libavformat-dev libavcodec-dev libswscale-dev libcpp-httplib-dev opencv-data opencv-doc \
      python3-onnx \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release >/dev/null \
 && cmake --build /build -j"$(nproc)" \
 && ctest --test-dir /build -L unit --output-on-failure -j"$(nproc)"
# The Debian packages of the libraries the binary and its modules link (the modules' first links,
# which name only their own libraries, not their whole closure), opencv-data (haar_faces's default
# cascade) and curl (the health check): the runtime stage installs those only.
RUN multiarch="$(gcc -print-multiarch)" \
 && for lib in $(readelf -d /build/cvpipe /build/cvpipe-av-unordered.so /build/cvpipe-io-unordered.so | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u); do \
      dpkg -S "/usr/lib/$multiarch/$lib" 2>/dev/null || dpkg -S "/lib/$multiarch/$lib"; \
    done | cut -d: -f1 | { cat; echo opencv-data; echo curl; } | sort -u > /build/runtime-packages \
 && cat /build/runtime-packages

FROM debian:bookworm-slim
COPY --from=build /build/runtime-packages /tmp/runtime-packages
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(cat /tmp/runtime-packages) \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/* /tmp/runtime-packages \
 && useradd --system --uid 10001 --gid video --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin cvpipe \
 && install -d -o cvpipe -g video /out
COPY --from=build /build/cvpipe /usr/local/bin/cvpipe
COPY --from=build /build/cvpipe-av.so /build/cvpipe-io.so /usr/local/lib/cvpipe/
COPY config/container.yaml /etc/cvpipe/default.yaml
COPY samples/mandelbrot-640x360.mp4 /usr/share/cvpipe/samples/
USER cvpipe:video
WORKDIR /out
VOLUME ["/etc/cvpipe", "/out"]
# The default config listens on 8080 (http.listen); /healthz answers while the daemon's loops turn.
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/cvpipe", "run"]
CMD ["/etc/cvpipe/default.yaml"]
