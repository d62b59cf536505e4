// Connection limits of the API's HTTP server. Node's defaults let a client hold a connection for a
// minute or more without sending a full request (a 60 s headers timeout, checked every 30 s), and
// take connections until the process runs out of files, when Postgres and Redis reconnects fail
// too. Here every connection must send its headers within HTTP_HEADERS_TIMEOUT_MS and its whole
// request within HTTP_REQUEST_TIMEOUT_MS (else 408 and closed), an idle keep-alive connection is
// closed after HTTP_KEEPALIVE_TIMEOUT_MS, and past HTTP_MAX_CONNECTIONS new connections are
// refused at once, so the process keeps its files for its pools.
import { readFileSync } from 'node:fs';
import type { Server, ServerOptions } from 'node:http';
import type { Logger } from 'pino';

export interface ConnectionLimits {
  HTTP_HEADERS_TIMEOUT_MS: number;
  HTTP_REQUEST_TIMEOUT_MS: number;
  HTTP_KEEPALIVE_TIMEOUT_MS: number;
  HTTP_MAX_CONNECTIONS: number;
  HTTP_MAX_HEADER_BYTES: number;
  HTTP_MAX_HEADERS_COUNT: number;
}

// Files the process needs besides its HTTP connections: the Postgres and Redis pools, logs, modules.
const RESERVED_FILES = 256;
const DROP_WARNING_INTERVAL_MS = 60_000;

// How often Node looks for connections past their headers or request timeout: a connection lives
// at most the timeout plus this long (Node's default, 30 s, more than doubles a 10 s timeout). The
// check walks the connection list, which is cheap even at the cap.
export function connectionsCheckingIntervalMs(headersTimeoutMs: number): number {
  return Math.max(100, Math.min(1000, Math.floor(headersTimeoutMs / 4)));
}

// For @hono/node-server's `serverOptions` (given to http.createServer).
export function httpServerOptions(limits: ConnectionLimits): ServerOptions {
  return {
    headersTimeout: limits.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeout: limits.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: limits.HTTP_KEEPALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: connectionsCheckingIntervalMs(limits.HTTP_HEADERS_TIMEOUT_MS),
    // Larger headers are answered 431 Request Header Fields Too Large.
    maxHeaderSize: limits.HTTP_MAX_HEADER_BYTES,
  };
}

// The limits that are properties of the created server rather than options of createServer.
export function applyConnectionLimits(server: Server, limits: ConnectionLimits, log: Logger): void {
  // Header lines past this many are not parsed (the byte cap above bounds them anyway).
  server.maxHeadersCount = limits.HTTP_MAX_HEADERS_COUNT;
  server.maxConnections = limits.HTTP_MAX_CONNECTIONS;
  let dropped = 0;
  let lastWarning = 0;
  server.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now - lastWarning < DROP_WARNING_INTERVAL_MS) return;
    log.warn({ dropped, maxConnections: limits.HTTP_MAX_CONNECTIONS }, 'refusing connections: HTTP_MAX_CONNECTIONS reached');
    lastWarning = now;
    dropped = 0;
  });
  const openFiles = openFilesLimit();
  if (openFiles !== undefined && limits.HTTP_MAX_CONNECTIONS + RESERVED_FILES > openFiles) {
    log.warn(
      { maxConnections: limits.HTTP_MAX_CONNECTIONS, openFilesLimit: openFiles },
      `HTTP_MAX_CONNECTIONS (${limits.HTTP_MAX_CONNECTIONS}) leaves fewer than ${RESERVED_FILES} of the process's ${openFiles} open files for Postgres and Redis: lower it or raise ulimit -n`,
    );
  }
}

// The soft limit on open files (Linux only; undefined elsewhere or when unlimited).
export function openFilesLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const match = /^Max open files\s+(\d+)/m.exec(text);
  return match ? Number(match[1]) : undefined;
}
