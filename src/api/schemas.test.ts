// Every string any route takes (body, query, path, header) refuses NUL and lone surrogates: the
// guard that a future field built on plain z.string() instead of safeString() cannot pass.
import type { OpenAPIHono } from '@hono/zod-openapi';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createLogger } from '../logger.ts';
import type { OutboxOperations } from '../outbox-admin/operations.ts';
import { createApiApp } from './app.ts';
import type { OrderStore } from './order-store.ts';
import { registerAdminOutboxRoutes } from './routes/admin-outbox.ts';
import { CreateOrderSchema, PizzaSchema, safeString } from './schemas.ts';

type Schema = z.ZodType;
interface StringLeaf {
  where: string;
  schema: Schema;
}

const unused = () => {
  throw new Error('not called: the test only reads the routes');
};

// The app with every route registered; nothing is ever called on the store or the operations.
function appWithEveryRoute(): OpenAPIHono {
  const store = { menu: { entries: unused, find: unused }, place: unused, placeKeyed: unused, find: unused, list: unused } as unknown as OrderStore;
  const ops = { list: unused, replay: unused, requeue: unused } as unknown as OutboxOperations;
  return createApiApp({
    store,
    health: { postgres: async () => {}, redis: async () => {} },
    log: createLogger('silent', 'test'),
    mountAdmin: (app) => registerAdminOutboxRoutes(app, ops, createLogger('silent', 'test')),
  });
}

// Types whose accepted values are fixed or not strings: nothing to check below them.
const NOT_FREE_TEXT = new Set(['number', 'int', 'boolean', 'bigint', 'enum', 'literal', 'null', 'undefined', 'transform', 'date', 'nan']);

// Every string-typed schema reachable from `schema`; a type the walk does not know fails the test,
// so a new construct is taught here rather than skipped.
function stringLeaves(schema: Schema, where: string, out: StringLeaf[] = []): StringLeaf[] {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  const walk = (child: unknown, path: string) => stringLeaves(child as Schema, path, out);
  switch (def.type) {
    case 'string':
      out.push({ where, schema });
      break;
    case 'object':
      for (const [key, child] of Object.entries(def.shape as Record<string, unknown>)) walk(child, `${where}.${key}`);
      break;
    case 'array':
      walk(def.element, `${where}[]`);
      break;
    case 'record':
      walk(def.keyType, `${where}{key}`);
      walk(def.valueType, `${where}{}`);
      break;
    case 'union':
      for (const option of def.options as unknown[]) walk(option, where);
      break;
    case 'pipe':
      walk(def.in, where);
      walk(def.out, where);
      break;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      walk(def.innerType, where);
      break;
    default:
      if (!NOT_FREE_TEXT.has(def.type)) throw new Error(`${where}: the walk does not know zod type "${def.type}"; teach it`);
  }
  return out;
}

interface RouteRequest {
  body?: { content: Record<string, { schema: Schema }> };
  query?: Schema;
  params?: Schema;
  headers?: Schema;
}

function requestStringLeaves(app: OpenAPIHono): StringLeaf[] {
  const leaves: StringLeaf[] = [];
  for (const definition of app.openAPIRegistry.definitions) {
    if (definition.type !== 'route') continue;
    const { method, path, request = {} } = definition.route as { method: string; path: string; request?: RouteRequest };
    const route = `${method.toUpperCase()} ${path}`;
    for (const [type, content] of Object.entries(request.body?.content ?? {})) stringLeaves(content.schema, `${route} body(${type})`, leaves);
    for (const part of ['query', 'params', 'headers'] as const) {
      const schema = request[part];
      if (schema) stringLeaves(schema, `${route} ${part}`, leaves);
    }
  }
  return leaves;
}

describe('request strings', () => {
  const leaves = requestStringLeaves(appWithEveryRoute());

  it('finds the string fields of every route', () => {
    const where = leaves.map((l) => l.where);
    // A sample of what must be in there, so a walk that finds nothing cannot pass.
    expect(where).toEqual(
      expect.arrayContaining([
        'POST /orders body(application/json).customer_name',
        'POST /orders body(application/json).items[].flavor',
        'POST /pizza body(application/json).user_name',
        'POST /orders headers.idempotency-key',
        'GET /orders query.limit',
        'GET /orders query.cursor',
        'GET /orders/{id} params.id',
        'GET /admin/outbox query.limit',
        'POST /admin/outbox/{id}/replay params.id',
      ]),
    );
  });

  it('refuses NUL and lone surrogates in every one of them', () => {
    const takes = (value: string) => leaves.filter((l) => l.schema.safeParse(value).success).map((l) => l.where);
    for (const bad of ['Bob\u0000', '\u0000', 'Bob\udfff', '\ud83d', 'a\udc00b', '1\u0000']) expect(takes(bad), JSON.stringify(bad)).toEqual([]);
  });
});

describe('safeString', () => {
  it('takes every well-formed string without NUL, astral characters and controls included', () => {
    for (const good of ['Bob', '🍕 Pizza', 'Zoë', '\u2028', 'line\nbreak', '\u0001', '\uffff']) expect(safeString().safeParse(good).success).toBe(true);
  });

  it('names what is wrong', () => {
    const messages = (value: string) =>
      safeString()
        .safeParse(value)
        .error?.issues.map((i) => i.message);
    expect(messages('a\u0000')).toEqual(['must not contain the NUL character (U+0000)']);
    expect(messages('a\udfff')).toEqual(['must be well-formed Unicode (it holds a lone surrogate)']);
  });

  it('reports the field in the body schemas', () => {
    const order = { customer_name: 'Bob', address: '1 St', items: [{ flavor: 'F\u0000', size: 'small', quantity: 1, unit_price_cents: 1 }] };
    expect(CreateOrderSchema.safeParse(order).error?.issues.map((i) => i.path)).toEqual([['items', 0, 'flavor']]);
    const pizza = { flavor: 'P', size: 'Large', quantity: 1, price: 1, address: '\udfff', user_name: 'A' };
    expect(PizzaSchema.safeParse(pizza).error?.issues.map((i) => i.path)).toEqual([['address']]);
  });
});
