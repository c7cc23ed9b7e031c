# The shipper's image: `docker build -t <registry>/kubearmor-elasticstack-logging/shipper:0.1.0 .`
# Node 22 LTS, Debian slim; the bundle (dist/kubearmor-shipper.js) and production dependencies only.

# 1. Build: every dependency, then the bundle (`npm ci` runs `prepare`: AssemblyScript compiles
#    the line scan to dist/json-object-scan.wasm and the gzip encoder to dist/gzip-deflate.wasm,
#    esbuild bundles the rest).
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/build.mjs scripts/
COPY daemon/src daemon/src
COPY daemon/assembly daemon/assembly
COPY dashboards dashboards
COPY tsconfig.json ./
RUN npm ci --no-audit --no-fund

# 2. Production dependencies alone (no TypeScript, esbuild, Biome, test tools).
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. The image.
FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# glibc's malloc raises its mmap threshold to the size of any mapped block freed (over 128 KiB):
# zlib's 256 KiB pieces and the other buffers then come from a heap that grows with the bytes read
# and does not shrink (on Node 22 a peak of 116 MiB over the bench's corpus, 109 over the 5 GB
# backlog). A fixed threshold keeps such pieces in the heap, reused, and maps, and returns when
# freed, every block over 512 KiB: 108-110 and 99 MiB, at no CPU cost measured (mallopt(3)).
ENV MALLOC_MMAP_THRESHOLD_=524288
COPY --from=deps /app/node_modules node_modules
COPY --from=build /src/dist dist
COPY package.json ./
# Non-root by default (the setup Job runs so); the DaemonSet runs it as root only because the
# runtime's log files are root-only (see deployments/shipper/daemonset.yaml).
USER node
# Exec form: node is PID 1 and gets SIGTERM itself; the shipper handles SIGTERM/SIGINT (stop
# reading, finish in-flight batches, save checkpoints) and starts no child processes to reap.
# The heap caps keep V8 from growing its heap far past the live set (~12 MB while shipping;
# records in flight are outside the heap): the old generation at 96 MB, the young one's halves at
# 4 MB (what a line allocates dies young; larger halves only hold more garbage between
# scavenges). Peak RSS on a 5 GB backlog 101 MB instead of 124 MB with the old cap alone, for ~4 %
# CPU (`npm run bench` runs the shipper with these same flags).
ENTRYPOINT ["node", "--max-old-space-size=96", "--max-semi-space-size=4", "/app/dist/kubearmor-shipper.js"]
CMD ["run"]
