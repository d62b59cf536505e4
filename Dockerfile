# One image for every role; the command picks the role (see docker-compose.yml).
# Two stages: the build stage installs the dev dependencies and compiles src/ into dist/; the image
# itself holds only the production dependencies, the compiled JavaScript and the migrations, and
# runs plain node (no TypeScript, no loader at run time).
FROM node:20-bookworm-slim AS build
WORKDIR /app
# The postinstall script patches postgres.js (see patches/postgres.mjs), so it comes along.
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so the layer is reused until package*.json change.
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# dist/db/migrate.js finds the migrations at ../../sql/, as src/db/migrate.ts does.
COPY sql ./sql
COPY --from=build /app/dist ./dist

# The code stays root-owned and read-only for the process.
USER node

# The app listens on loopback by default; in a container it must take connections from outside.
ENV PORT=8080 HOST=0.0.0.0
EXPOSE 8080

# Exec form with node itself (not npm), so SIGTERM reaches the process and it stops gracefully.
# Default: every role in one process, creating the database and applying migrations first.
# No HEALTHCHECK here: only the api role serves HTTP, so compose declares it for that service.
CMD ["node", "dist/main.js"]
