# qwen-chat image. Targets:
#   runtime (default)   builds the jar with CUDA kernels and a jlinked JRE inside a CUDA devel image
#   runtime-prebuilt    packs a jar and JRE prepared on the host (deploy/docker/prepare-prebuilt.sh),
#                       for machines that reach no registry; docs/deployment.md
# Base images are build arguments so a mirror or a locally imported base can stand in.
# The prebuilt stages come first: the classic builder stops at --target and never pulls the CUDA image.

ARG RUNTIME_BASE=ubuntu:24.04
ARG BUILD_BASE=nvidia/cuda:13.0.1-devel-ubuntu24.04
ARG APP_UID=10001

# ---------------------------------------------------------------------------------------------
# What both runtime targets share: a non-root user, the volumes' mount points, the settings.
FROM ${RUNTIME_BASE} AS runtime-base
ARG APP_UID
# useradd is not in every minimal base; the passwd and group lines are all a user needs.
RUN set -eu; \
    echo "qwen:x:${APP_UID}:${APP_UID}:qwen-chat:/home/qwen:/usr/sbin/nologin" >> /etc/passwd; \
    echo "qwen:x:${APP_UID}:" >> /etc/group; \
    mkdir -p /home/qwen /data /cache /models /opt/qwen-chat; \
    chown -R ${APP_UID}:${APP_UID} /home/qwen /data /cache; \
    chmod 1777 /tmp
COPY deploy/docker/healthcheck.sh /opt/qwen-chat/healthcheck.sh
ENV JAVA_HOME=/opt/java \
    PATH=/opt/java/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/home/qwen \
    QWEN_DATA_DIR=/data \
    QWEN_MODEL_CACHE=/cache/hub \
    QWEN_CHAT_DEMO_DIR=/cache/demo-v1 \
    SERVER_PORT=8080 \
    JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=75 -Djava.io.tmpdir=/tmp" \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
# /models: a mounted checkpoint (read-only; set QWEN_MODEL_DIR=/models); /data: presets;
# /cache: hub downloads (QWEN_MODEL=...) and the demo checkpoint.
VOLUME ["/data", "/cache"]
WORKDIR /opt/qwen-chat
EXPOSE 8080
# Long start period: a 7B model loads for minutes and a download can take far longer.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30m --retries=3 CMD ["/opt/qwen-chat/healthcheck.sh"]
# JCuda's JNI and the CUDA engine's foreign-function call into the driver are restricted methods.
ENTRYPOINT ["java", "--enable-native-access=ALL-UNNAMED", "org.springframework.boot.loader.launch.JarLauncher"]

# ---------------------------------------------------------------------------------------------
# Runtime from a jar and a JRE prepared on the host: target/docker/{jre,app/...}.
FROM runtime-base AS runtime-prebuilt
ARG APP_UID
COPY target/docker/jre /opt/java
COPY target/docker/app/dependencies/ ./
COPY target/docker/app/spring-boot-loader/ ./
COPY target/docker/app/snapshot-dependencies/ ./
COPY target/docker/app/application/ ./
USER ${APP_UID}:${APP_UID}

# ---------------------------------------------------------------------------------------------
# Build: the jar with kernels (nvcc), its layers, and a JRE holding only the modules jdeps finds.
FROM ${BUILD_BASE} AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-21-jdk-headless ca-certificates binutils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so editing sources reuses the cached Maven repository layer.
COPY mvnw pom.xml ./
COPY .mvn .mvn
RUN ./mvnw -B -ntp -q dependency:go-offline || true
COPY src src
COPY frontend frontend
COPY deploy/docker deploy/docker
RUN ./mvnw -B -ntp -q -DskipTests package \
 && grep -q available=true target/classes/kernels/kernels.properties \
    || { echo "the jar has no CUDA kernels:"; cat target/classes/kernels/kernels.properties; exit 1; }
RUN deploy/docker/prepare-prebuilt.sh target/qwen-chat.jar target/docker

# ---------------------------------------------------------------------------------------------
# The default target: the build stage's jar and JRE on the small runtime base.
FROM runtime-base AS runtime
ARG APP_UID
COPY --from=build /src/target/docker/jre /opt/java
COPY --from=build /src/target/docker/app/dependencies/ ./
COPY --from=build /src/target/docker/app/spring-boot-loader/ ./
COPY --from=build /src/target/docker/app/snapshot-dependencies/ ./
COPY --from=build /src/target/docker/app/application/ ./
USER ${APP_UID}:${APP_UID}
