# syntax=docker/dockerfile:1
#
# One image for every production process (DESIGN.md §8):
#   api (default CMD)  node dist/api/main.js
#   worker             node dist/worker/main.js
#   migrate            node dist/db/migrate-main.js
# docker-compose.yml runs all three from this image.

# Node.js 24, the current LTS (Node 20 is past its end of life); package.json's "engines" and the
# `node` npm package (24.21.0, for machines whose own Node is older) say the same.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---------------------------------------------------------------- build ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# Lock file first so the dependency layer is cached until it changes.
COPY package.json package-lock.json ./
# tsc needs no install scripts, so skip them all here: embedded-postgres (a
# dev-only stand-in for the real database), esbuild and swc would otherwise run
# their postinstall steps for nothing, and the `node` package would download a
# second Node 24 although the image has one. --ignore-scripts is the explicit gate.
RUN npm ci --ignore-scripts

COPY . .
# tsc -p tsconfig.build.json into dist/ (the build also copies db/migrations).
RUN npm run build

# -------------------------------------------------------------- runtime ----
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
# HOST: inside a container the API must listen on all interfaces, not the
# 127.0.0.1 default that suits `npm start` on a laptop.
ENV NODE_ENV=production \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false \
    HOST=0.0.0.0 \
    PORT=3000

# Production dependencies only: no embedded-postgres, jest, tsx, biome.
# The production dependencies with install scripts are the `node` package
# (its preinstall downloads a Node binary: not wanted, the image's own Node 24
# runs everything, so with scripts skipped it installs nothing and links no
# node_modules/.bin/node) and @swc/core (used by the Temporal worker to bundle
# workflow code at start; its postinstall checks its native binding), which is
# then run on its own.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm rebuild @swc/core && npm cache clean --force

COPY --from=build /app/dist ./dist
# db/migrate.ts reads its SQL from dist/db/migrations and dist/db/functions. The build copies them
# there; copying them again from the source keeps the image correct even if
# that build step changes, and is a no-op otherwise.
COPY --from=build /app/db/migrations ./dist/db/migrations
COPY --from=build /app/db/functions ./dist/db/functions

# Everything above is owned by root and only readable by the app user; the
# processes write nothing to local disk (state lives in Postgres and Temporal).
USER node

EXPOSE 3000
CMD ["node", "dist/api/main.js"]
