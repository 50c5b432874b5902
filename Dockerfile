# One image for every service: the command picks which one runs, e.g.
#   docker run ... mes node services/ingest/dist/main.js
# Build stage: all dependencies, the TypeScript build and the native SQLite module compiled from
# source. Runtime stage: production dependencies, dist and the shipped configuration only, run as
# the unprivileged `node` user. deploy/README.md describes how the deployment files use it.

FROM node:20-bookworm-slim AS build
# better-sqlite3 is a native module; it is compiled here by node-gyp (no prebuilt binary is fetched),
# which needs python3, make and a C++ compiler, and Node's own headers (shipped in the image).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local
WORKDIR /app

# Manifests first, so a source change does not reinstall every dependency.
COPY package.json package-lock.json ./
COPY contracts/package.json contracts/
COPY platform/package.json platform/
COPY services/ingest/package.json services/ingest/
COPY services/workflow/package.json services/workflow/
COPY services/maintenance/package.json services/maintenance/
COPY services/resources/package.json services/resources/
COPY services/approvals/package.json services/approvals/
COPY services/projections/package.json services/projections/
COPY app/package.json app/
RUN npm ci --no-audit --no-fund

COPY . .
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/.cache \
 && find contracts platform services app -path '*/dist/*' \( -name '*.test.*' -o -path '*/dist/testing/*' \) -delete

# Only what runs: package manifests (workspace links resolve through them), dist, the CLI and the
# example plant configuration (the default MES_CONFIG).
RUN mkdir /out \
 && cp -a --parents package.json node_modules /out \
 && for ws in contracts platform services/ingest services/workflow services/maintenance services/resources services/approvals services/projections app; do \
      cp -a --parents "$ws/package.json" "$ws/dist" /out; \
      if [ -d "$ws/node_modules" ]; then cp -a --parents "$ws/node_modules" /out; fi; \
    done \
 && cp -a --parents services/projections/bin platform/config /out

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HTTP_PORT=3000 \
    DATA_DIR=/app/data
WORKDIR /app
# Code owned by root and read-only to the service; only DATA_DIR is writable.
COPY --from=build /out /app
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# GET /health is 200 only when every dependency of the process answers (CONTRACT §5).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Every service in one process by default; deployments name one service per container.
CMD ["node", "app/dist/main.js"]
