// RFC 9457 problem details: every error the API returns has this shape and the
// application/problem+json content type. Bodies never carry SQL, stack traces or parameters.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';

export interface FieldError {
  path: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
}

// Thrown by a route for an answer other than success; the app's error handler turns it into a
// problem response, so handlers return only their documented success bodies.
export class ProblemError extends Error {
  override name = 'ProblemError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly title: string,
    readonly detail?: string,
    readonly headers: Record<string, string> = {},
    // Field by field, as a 400 from validation has them (a 422 naming the item it refuses).
    readonly errors?: FieldError[],
  ) {
    super(detail ?? title);
  }
}

export function problem(c: Context, status: ContentfulStatusCode, title: string, detail?: string, errors?: FieldError[]): Response {
  const body: Problem = { type: 'about:blank', title, status, ...(detail ? { detail } : {}), ...(errors ? { errors } : {}) };
  return c.body(JSON.stringify(body), status, { 'content-type': 'application/problem+json' });
}

// `items[0].quantity`, `body` for the root.
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `${out ? '.' : ''}${String(key)}`;
  return out || '(root)';
}

export function fieldErrors(error: ZodError): FieldError[] {
  return error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    // An unknown key is reported at its own path, so the client sees exactly what to remove.
    if (keys.length > 0) return { path: keys.map((k) => formatPath([...issue.path, k])).join(', '), message: 'unknown field' };
    return { path: formatPath(issue.path), message: issue.message };
  });
}
