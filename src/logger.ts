// pino JSON logs; pretty-printed when a person is watching a terminal and pino-pretty is installed.
// pino-pretty is a dev dependency: a production install (npm ci --omit=dev) logs JSON even in a
// terminal rather than failing to start its transport.
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';

export type { Logger };

function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

export function createLogger(level: string, role: string): Logger {
  const pretty = process.stdout.isTTY && process.env.LOG_FORMAT !== 'json' && prettyAvailable();
  return pino({
    level,
    base: { role },
    // Never let a query's parameters or a password reach the logs.
    redact: ['err.parameters', 'err.query', 'password', '*.password'],
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
