// Audit lines: one JSON log line per staff action that changes something (an outbox replay or
// requeue, a Bull Board retry, add, clean, obliterate, …), with who (the staff user), from where
// (the client address staff auth saw), what and on which target. `audit: true` marks them for a
// log query (`jq 'select(.audit)'`).
import type { Context } from 'hono';
import type { Logger } from 'pino';

export function audit(log: Logger, c: Context, action: string, target: Record<string, string>, extra: Record<string, unknown> = {}): void {
  log.info({ audit: true, user: c.get('staffUser'), client: c.get('staffClient'), action, target, ...extra }, `audit: ${action}`);
}
