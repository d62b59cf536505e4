// Request and response schemas: the single source of truth for validation and for the OpenAPI document.
// Every object is strict (unknown keys are an error, at every depth) and money is integer cents.
// Every string a request carries (body, query, header) is built on safeString(); a unit test walks
// every route's request schemas and fails on a string that takes NUL or a lone surrogate.
import { z } from '@hono/zod-openapi';
import { ORDER_STATUSES } from '../db/orders.ts';
import { dollarsToCents } from './money.ts';

// The caps that keep an order, and so one page of GET /orders, small. With them the worst-case
// page (MAX_PAGE_SIZE orders of MAX_ITEMS_PER_ORDER items, every string at its cap and made of
// characters JSON escapes to six bytes) stays under LIST_RESPONSE_MAX_BYTES;
// test/bounded-responses.test.ts measures it through the real API.
export const MAX_ITEMS_PER_ORDER = 20;
export const MAX_PAGE_SIZE = 50;
export const DEFAULT_PAGE_SIZE = 20;
export const TEXT_CAPS = { customer_name: 200, address: 500, flavor: 100 } as const;
export const LIST_RESPONSE_MAX_BYTES = 1_000_000;

// Lone surrogates are UTF-16 halves without their pair: not Unicode at all. With the u flag a
// well-formed pair is one code point, so \p{Cs} matches only a lone half (String#isWellFormed,
// which TypeScript's ES2023 lib does not declare).
const LONE_SURROGATE = /\p{Cs}/u;

// A string Postgres can store as sent: it refuses NUL in text (22021) and jsonb (22P05), refuses a
// lone surrogate in jsonb (22P02), and the driver's UTF-8 encoding stores one in text as U+FFFD,
// changed. Both are refused here, as a 400 naming the field, before any of that.
export function safeString() {
  return z
    .string()
    .refine((v) => !v.includes('\u0000'), 'must not contain the NUL character (U+0000)')
    .refine((v) => !LONE_SURROGATE.test(v), 'must be well-formed Unicode (it holds a lone surrogate)');
}

const text = (max: number) => safeString().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
const quantity = z.number().int('must be a whole number').min(1, 'must be at least 1').max(100, 'must be at most 100');

const unitPriceCents = z.number().int('must be whole cents').min(1, 'must be at least 1 cent').max(1_000_000, 'must be at most 1000000 cents');

// An item as stored and answered: at the menu's price.
export const OrderItemSchema = z
  .strictObject({
    flavor: text(TEXT_CAPS.flavor).openapi({ example: 'Pepperoni' }),
    size: z.enum(['small', 'medium', 'large']),
    quantity,
    unit_price_cents: unitPriceCents.openapi({ example: 1999 }),
  })
  .openapi('OrderItem');

// An item as a client orders it: a menu entry (flavor in any case, and size) and a quantity. The
// price comes from the menu; a client that states one must state the menu's (else 422).
export const OrderItemRequestSchema = z
  .strictObject({
    flavor: text(TEXT_CAPS.flavor).openapi({ example: 'Pepperoni', description: 'A flavor on the menu (GET /menu), in any case.' }),
    size: z.enum(['small', 'medium', 'large']),
    quantity,
    unit_price_cents: unitPriceCents.optional().openapi({ example: 1999, description: "Optional; when given, must equal the menu's price (else 422)." }),
  })
  .openapi('OrderItemRequest');

export const CreateOrderSchema = z
  .strictObject({
    customer_name: text(TEXT_CAPS.customer_name).openapi({ example: 'Alice' }),
    address: text(TEXT_CAPS.address).openapi({ example: '123 Main St' }),
    items: z.array(OrderItemRequestSchema).min(1, 'must hold at least one item').max(MAX_ITEMS_PER_ORDER, `must hold at most ${MAX_ITEMS_PER_ORDER} items`),
  })
  .openapi('CreateOrder');
export type CreateOrderInput = z.output<typeof CreateOrderSchema>;

// The original pizza example's body, exactly: nothing more, nothing less. `price` is the price of
// one pizza in dollars with at most two decimals.
export const PizzaSchema = z
  .strictObject({
    flavor: text(TEXT_CAPS.flavor),
    size: z.enum(['Small', 'Medium', 'Large']),
    quantity,
    price: z
      .number()
      .positive('must be more than 0')
      .max(10_000, 'must be at most 10000')
      .refine((v) => dollarsToCents(v) !== undefined, 'must have at most two decimals'),
    address: text(TEXT_CAPS.address),
    user_name: text(TEXT_CAPS.customer_name),
  })
  .openapi('Pizza', {
    example: { flavor: 'Pepperoni', size: 'Large', quantity: 2, price: 19.99, address: '123 Main St', user_name: 'Alice' },
  });
export type PizzaInput = z.output<typeof PizzaSchema>;

export function pizzaToOrder(p: PizzaInput): CreateOrderInput {
  return {
    customer_name: p.user_name,
    address: p.address,
    items: [{ flavor: p.flavor, size: p.size.toLowerCase() as 'small' | 'medium' | 'large', quantity: p.quantity, unit_price_cents: dollarsToCents(p.price)! }],
  };
}

export const OrderStatusSchema = z.enum(ORDER_STATUSES).openapi('OrderStatus');

const timestamp = z.string().openapi({ format: 'date-time' });

export const OrderSchema = z
  .object({
    id: z.uuid(),
    customer_name: z.string(),
    address: z.string(),
    items: z.array(OrderItemSchema),
    total_cents: z.number().int(),
    status: OrderStatusSchema,
    created_at: timestamp,
    updated_at: timestamp,
    payment: z.object({ id: z.uuid(), charge_id: z.uuid(), amount_cents: z.number().int(), created_at: timestamp }).nullable(),
    delivery: z.object({ id: z.uuid(), courier: z.string(), dispatched_at: timestamp }).nullable(),
    invoice: z.object({ id: z.uuid(), number: z.string(), amount_cents: z.number().int(), created_at: timestamp }).nullable(),
    access_token: z.string().optional().openapi({
      description:
        'Only in the 201 of an order placed without a customer token: the one credential that reads this order (GET /orders/{id} with Authorization: Bearer <access_token>). Shown once; it is not stored, only its hash.',
    }),
  })
  .openapi('Order');

export const OrderPageSchema = z
  .object({ orders: z.array(OrderSchema.omit({ payment: true, delivery: true, invoice: true, access_token: true })), next_cursor: z.string().nullable() })
  .openapi('OrderPage');

export const OrderIdParamSchema = z.strictObject({
  id: z.uuid('must be a UUID').openapi({ param: { name: 'id', in: 'path' }, example: '0b5c6f9e-2f55-4c36-9a59-0f2b8c1f7f3e' }),
});

export const ListOrdersQuerySchema = z.strictObject({
  status: OrderStatusSchema.optional().openapi({ param: { name: 'status', in: 'query' } }),
  limit: safeString()
    .regex(/^\d{1,3}$/, `must be a whole number from 1 to ${MAX_PAGE_SIZE}`)
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be at least 1').max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`))
    .optional()
    .openapi({
      param: { name: 'limit', in: 'query' },
      description: `Orders per page: 1 to ${MAX_PAGE_SIZE}, ${DEFAULT_PAGE_SIZE} when left out.`,
      example: String(DEFAULT_PAGE_SIZE),
    }),
  cursor: z
    .uuid('must be the next_cursor of a previous page')
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' } }),
});

export const IdempotencyHeadersSchema = z.object({
  'idempotency-key': safeString()
    .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters')
    .optional()
    .openapi({
      param: { name: 'idempotency-key', in: 'header' },
      description: 'Makes the request safe to retry: the same key and body replay the first response.',
      example: 'order-2026-11-23-alice-1',
    }),
});

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

// --- customers (POST /users, /users/login) and the menu ---

// Deliberately simple: something@domain.tld, no spaces; the address is stored lower-cased.
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 128;
// The most common choices that pass the length rule; NIST SP 800-63B asks for a check against
// known-bad passwords rather than composition rules.
const COMMON_PASSWORDS = new Set([
  '1234567890',
  '12345678910',
  '123456789012',
  '0123456789',
  '1q2w3e4r5t',
  'qwertyuiop',
  'password12',
  'password123',
  'password1234',
  'iloveyou123',
  'qwerty12345',
  'abcdefghij',
  'letmein123',
  'welcome123',
  'pepperoni1',
  'pizzapizza',
]);

const email = safeString()
  .trim()
  .max(254, 'must be at most 254 characters')
  .regex(EMAIL, 'must be an email address like alice@example.com')
  .transform((v) => v.toLowerCase())
  .openapi({ example: 'alice@example.com' });

const newPassword = safeString()
  .min(PASSWORD_MIN, `must be at least ${PASSWORD_MIN} characters`)
  .max(PASSWORD_MAX, `must be at most ${PASSWORD_MAX} characters`)
  .refine((v) => new Set(v).size > 1, 'must not be one character repeated')
  .refine((v) => !COMMON_PASSWORDS.has(v.toLowerCase()), 'is one of the most common passwords; choose another')
  .openapi({ example: 'correct horse battery staple' });

export const NewUserSchema = z.strictObject({ email, password: newPassword }).openapi('NewUser');
export const LoginSchema = z
  .strictObject({ email, password: safeString().min(1, 'must not be empty').max(PASSWORD_MAX, `must be at most ${PASSWORD_MAX} characters`) })
  .openapi('Login');
export const CreatedUserSchema = z.object({ id: z.uuid(), email: z.string(), created_at: timestamp }).openapi('CreatedUser');
export const TokenSchema = z
  .object({
    access_token: z.string().openapi({ description: 'Send as Authorization: Bearer <access_token>.' }),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int().openapi({ description: 'Seconds until the token expires.' }),
    expires_at: timestamp,
  })
  .openapi('Token');

export const MenuSchema = z.object({ items: z.array(z.object({ flavor: z.string(), size: z.enum(['small', 'medium', 'large']), price_cents: z.number().int() })) }).openapi('Menu');
