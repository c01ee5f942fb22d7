# syntax=docker/dockerfile:1
# Tollbooth's image: Node 24, the production dependencies, the sources as JavaScript (dist/: their
# types stripped by scripts/build.ts, line for line), the launcher and the default config and catalog.
#   docker build -t tollbooth:0.1.0 .
#   docker run -p 4000:4000 -p 4001:4001 -v "$PWD/my-config:/etc/tollbooth:ro" tollbooth:0.1.0
# Kubernetes probes /healthz and /readyz on the ops port, so the image has no HEALTHCHECK.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev leaves out TypeScript, the SDKs the tests drive and the `node` devDependency (the
# image brings its own Node 24). No dependency needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# Node's own type stripper, no dependency needed: src/x.ts → dist/x.js.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json ./
COPY scripts/build.ts ./scripts/
COPY src ./src
RUN node --disable-warning=ExperimentalWarning scripts/build.ts

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system --gid 10001 tollbooth \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tollbooth
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config ./config
# The files above stay root-owned: the process can read its code, never change it. It writes only
# to the ledger directory and /tmp, which Kubernetes mounts (the root filesystem is read-only).
USER 10001:10001
EXPOSE 4000 4001
# bin/tollbooth runs dist/cli.js with Tollbooth's memory settings (V8's young generation, malloc
# arenas: see the script); a NODE_OPTIONS or MALLOC_ARENA_MAX of yours wins.
ENTRYPOINT ["/app/bin/tollbooth"]
CMD ["serve", "--config", "/etc/tollbooth/tollbooth.yaml"]
