# The run-manager image that the generated CronJobs run (platform.config.ts: runManager.image).
#
#   docker build -t 111122223333.dkr.ecr.us-east-1.amazonaws.com/dagops-run-manager:0.1.0 .
#   docker push 111122223333.dkr.ecr.us-east-1.amazonaws.com/dagops-run-manager:0.1.0
#
# Three stages: compile the TypeScript run manager, install production dependencies only
# (package.json "dependencies": the Kubernetes client and the YAML parser), and copy both into a
# distroless Node.js 24 image that runs as the unprivileged user 65532, the uid every dagops pod
# runs as. Node.js 20 reached end of life on 2026-04-30; 24 is an LTS line supported until
# 2028-04-30. The program is compiled to ES2022 and also runs on Node.js 20, which is what the
# build machines have (the tests run it there). Base images are pinned to exact versions; pin
# them by digest as well in your registry (docker buildx imagetools inspect <image>), which this
# repository cannot do offline.

ARG NODE_IMAGE=node:24.11.1-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${NODE_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.run-manager.json ./
COPY src/contract src/contract
COPY src/kube src/kube
COPY src/cli src/cli
COPY src/runner src/runner
RUN npx tsc -p tsconfig.run-manager.json

FROM ${NODE_IMAGE} AS deps
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${RUNTIME_IMAGE}
WORKDIR /app
COPY --from=deps /build/package.json ./
COPY --from=deps /build/node_modules node_modules
COPY --from=build /build/dist ./
USER 65532:65532
ENV NODE_ENV=production
# V8 sized for the pod (256 MiB on Fargate): old space 128 MiB and 4 MiB semi-spaces make it
# collect before the kernel would kill the pod. src/bench/bench-run-manager.ts runs with these flags.
ENTRYPOINT ["/nodejs/bin/node", "--max-old-space-size=128", "--max-semi-space-size=4", "runner/main.js"]
