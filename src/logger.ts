// pino JSON logs; pretty-printed when a person is watching a terminal.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, role: string): Logger {
  const pretty = process.stdout.isTTY && process.env.LOG_FORMAT !== 'json';
  return pino({
    level,
    base: { role },
    // Never let a query's parameters or a password reach the logs.
    redact: ['err.parameters', 'err.query', 'password', '*.password'],
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
