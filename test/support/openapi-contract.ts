// A response checked against the OpenAPI document the API serves: its status is documented for the
// operation, its body is what the documented content type and schema say (ajv, JSON Schema 2020-12,
// the dialect of OpenAPI 3.1, with formats), and each documented header is there when required and
// matches its schema when present.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: its plugin is the module's `default`, however it is imported.
const addFormats = addFormatsModule.default;

interface HeaderDoc {
  required?: boolean;
  schema?: { type?: string };
}
interface ResponseDoc {
  headers?: Record<string, HeaderDoc>;
  content?: Record<string, { schema?: unknown }>;
}
export interface OperationDoc {
  operationId: string;
  method: string;
  path: string;
  responses: Record<string, ResponseDoc>;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, Omit<OperationDoc, 'method' | 'path'>>>;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const DOC_ID = 'openapi.json';
// The document's own keys (and `example` in schemas), which JSON Schema does not know.
const NOT_SCHEMA_KEYWORDS = ['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags', 'externalDocs', 'example'];

export function operationsOf(doc: OpenApiDocument): Map<string, OperationDoc> {
  const operations = new Map<string, OperationDoc>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (METHODS.has(method)) operations.set(operation.operationId, { ...operation, method: method.toUpperCase(), path });
    }
  }
  return operations;
}

const pointer = (...parts: string[]) => `${DOC_ID}#/${parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;

export interface Verdict {
  // Every way the response differs from what the document says; [] when none.
  problems: string[];
  // Documented headers that are optional and absent from this response.
  absent: string[];
}

// Checks responses of the document's operations.
export function contractChecker(doc: OpenApiDocument) {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  ajv.addVocabulary(NOT_SCHEMA_KEYWORDS);
  ajv.addSchema(doc, DOC_ID);
  const operations = operationsOf(doc);

  const validate = (ref: string, value: unknown): string[] => {
    const check = ajv.getSchema(ref);
    if (!check) return [`no schema at ${ref}`];
    return check(value) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`);
  };

  return async function verdict(operationId: string, res: Response): Promise<Verdict> {
    const problems: string[] = [];
    const absent: string[] = [];
    const done = (...more: string[]) => ({ problems: [...problems, ...more], absent });
    const operation = operations.get(operationId);
    if (!operation) return done(`no operation ${operationId} in the document`);
    const status = String(res.status);
    const documented = operation.responses[status];
    const text = await res.text();
    if (!documented) return done(`status ${status} is not documented (body: ${text.slice(0, 200)})`);
    const at = ['paths', operation.path, operation.method.toLowerCase(), 'responses', status];

    for (const [name, header] of Object.entries(documented.headers ?? {})) {
      const value = res.headers.get(name);
      if (value === null) {
        if (header.required) problems.push(`header ${name} is required and missing`);
        else absent.push(name);
        continue;
      }
      // Header values are text: a number schema is checked against the number the text is.
      const numeric = header.schema?.type === 'integer' || header.schema?.type === 'number';
      for (const p of validate(pointer(...at, 'headers', name, 'schema'), numeric && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value)) {
        problems.push(`header ${name}: ${JSON.stringify(value)} ${p}`);
      }
    }

    const mediaTypes = Object.keys(documented.content ?? {});
    if (mediaTypes.length === 0) return text === '' ? done() : done(`a body where none is documented: ${text.slice(0, 200)}`);
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!mediaTypes.includes(mediaType)) return done(`content type ${mediaType || '(none)'} is not one of ${mediaTypes.join(', ')}`);
    if (!/[/+]json$/.test(mediaType) || !documented.content?.[mediaType]?.schema) return done();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return done(`a ${mediaType} body that is not JSON: ${text.slice(0, 200)}`);
    }
    return done(...validate(pointer(...at, 'content', mediaType, 'schema'), body).map((p) => `body ${p}: ${text.slice(0, 300)}`));
  };
}
