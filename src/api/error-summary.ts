// What a log line may say about an error: enough to find its cause, nothing of the request's data.
// postgres.js errors carry the statement (`query`), its `parameters` and `where`, which can quote a
// parameter (a jsonb value that failed to parse); none of those is ever copied here. Only named
// fields are: the error's name, code, constraint, schema/table/column and a truncated message.
// Logged under `error`, not `err`: pino's err serializer would take this for an Error and rename
// its type. The stack only when asked for (the caller passes `log.isLevelEnabled('debug')`).

export const MAX_LOGGED_MESSAGE = 200;

export interface ErrorSummary {
  type: string;
  message: string;
  code?: string;
  constraint?: string;
  schema?: string;
  table?: string;
  column?: string;
  cause?: ErrorSummary;
  stack?: string;
}

type Fields = Record<string, unknown>;

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function truncate(message: string): string {
  return message.length > MAX_LOGGED_MESSAGE ? `${message.slice(0, MAX_LOGGED_MESSAGE)}…` : message;
}

export function errorSummary(err: unknown, withStack = false, depth = 0): ErrorSummary {
  if (!(err instanceof Error)) return { type: typeof err, message: truncate(String(err)) };
  const fields = err as unknown as Fields;
  const summary: ErrorSummary = { type: err.name, message: truncate(err.message) };
  const named: Array<[keyof ErrorSummary, unknown]> = [
    ['code', fields.code],
    ['constraint', fields.constraint_name],
    ['schema', fields.schema_name],
    ['table', fields.table_name],
    ['column', fields.column_name],
  ];
  for (const [key, value] of named) {
    const v = typeof value === 'number' ? String(value) : text(value);
    if (v !== undefined) (summary as unknown as Fields)[key] = v;
  }
  // One level of cause is enough to see what a wrapper wraps (a Redis error under our own).
  if (err.cause !== undefined && depth === 0) summary.cause = errorSummary(err.cause, false, depth + 1);
  if (withStack && err.stack) summary.stack = err.stack;
  return summary;
}
