# One image for every role; the command picks the role (see docker-compose.yml).
# tsx is a runtime dependency, so TypeScript runs as-is: no build step, no dev dependencies.
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so the layer is reused until package*.json change. The postinstall script
# patches postgres.js (see patches/postgres.mjs), so it comes along.
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY sql ./sql
COPY src ./src

# The code stays root-owned and read-only for the process; tsx caches in /tmp.
USER node

# The app listens on loopback by default; in a container it must take connections from outside.
ENV PORT=8080 HOST=0.0.0.0
EXPOSE 8080

# Exec form with node itself (not npm), so SIGTERM reaches the process and it stops gracefully.
# Default: every role in one process, creating the database and applying migrations first.
# No HEALTHCHECK here: only the api role serves HTTP, so compose declares it for that service.
CMD ["node", "--import", "tsx", "src/main.ts"]
