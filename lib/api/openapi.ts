// The OpenAPI 3.1 document of the HTTP API, generated from the table of operations (lib/operations.ts: routes,
// ids, summaries, errors), the statuses of lib/api/error-status.ts, the zod schemas the handlers validate with
// (request bodies, path parameters, the query) and lib/api/responses.ts. `npm run openapi` writes it to
// openapi.json; the local runner serves it at GET /openapi.json.
import * as z from 'zod';
import type { ErrorCode } from '../errors';
import { OPERATIONS, ROUTES, type Operation, type Route } from '../operations';
import { HTTP_STATUS, INTERNAL_ERROR } from './error-status';
import {
  EXCHANGES,
  PATH_PARAMETERS,
  REQUEST_SCHEMAS,
  RESPONSE_SCHEMAS,
  type RequestName,
  type ResponseName,
} from './openapi-exchanges';

type JsonObject = Record<string, unknown>;

const ref = (name: RequestName | ResponseName) => ({ $ref: `#/components/schemas/${name}` });

// Responses have no defaults or transforms, so their input form is the answer's shape; it also leaves objects
// open (no additionalProperties: false), as the contract lets responses carry more fields than listed.
const JSON_SCHEMA_OPTIONS = { io: 'input', target: 'draft-2020-12', override: dropSafeIntegerBounds } as const;

/** z.number().int() bounds itself to the safe integers: true of every JSON number a client should send anyway. */
function dropSafeIntegerBounds({ jsonSchema }: { jsonSchema: { minimum?: number; maximum?: number } }): void {
  if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
  if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
}

function componentSchemas(): Record<string, JsonObject> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries({ ...REQUEST_SCHEMAS, ...RESPONSE_SCHEMAS })) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { ...JSON_SCHEMA_OPTIONS, uri: (id) => `#/components/schemas/${id}` });
  // Each component is a part of this document, not a document of its own.
  return Object.fromEntries(
    Object.entries(schemas).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema as JsonObject]),
  );
}

function standalone(schema: z.core.$ZodType): JsonObject {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, JSON_SCHEMA_OPTIONS);
  return rest;
}

function pathParameters(path: string): JsonObject[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map(([, name = '']) => {
    const param = PATH_PARAMETERS[name];
    if (!param) throw new Error(`no schema for the path parameter ${name} of ${path}`);
    return { name, in: 'path', required: true, description: param.description, schema: standalone(param.schema) };
  });
}

function queryParameters(query: z.core.$ZodType): JsonObject[] {
  const schema = standalone(query) as { properties?: Record<string, JsonObject>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: schema.required?.includes(name) ?? false,
    schema: s,
  }));
}

function errorResponses(codes: readonly ErrorCode[]): Record<string, JsonObject> {
  const byStatus = new Map<number, ErrorCode[]>();
  // Every route answers to roles (docs/security.md), and every operation reads or writes the store, which may stay
  // busy past the retries.
  for (const code of [...codes, 'Forbidden' as const, 'Unavailable' as const]) {
    const status = HTTP_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, JsonObject> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status)] = {
      description: list.join(', '),
      ...(status === 503
        ? {
            headers: {
              'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } },
            },
          }
        : {}),
      content: {
        'application/json': { schema: { ...ref('Error'), type: 'object', properties: { error: { enum: list } } } },
      },
    };
  }
  out[String(INTERNAL_ERROR.status)] = { $ref: `#/components/responses/${INTERNAL_ERROR.code}` };
  return out;
}

function operationObject(route: Route): JsonObject {
  const { summary, description, errors }: Operation = OPERATIONS[route.id];
  const op = EXCHANGES[route.id];
  const parameters = [...pathParameters(route.path), ...(op.query ? queryParameters(op.query) : [])];
  if (op.prefer) {
    parameters.push({
      name: 'Prefer',
      in: 'header',
      required: false,
      schema: { type: 'string', enum: ['return=minimal'] },
      description: 'return=minimal leaves the node view out of the answer: the claim is then one DynamoDB request.',
    });
  }
  const responses: Record<string, JsonObject> = {};
  for (const ok of op.ok) {
    responses[String(ok.status)] = {
      description: ok.description,
      ...(ok.schema ? { content: { 'application/json': { schema: ref(ok.schema) } } } : {}),
    };
  }
  Object.assign(responses, errorResponses(errors));
  return {
    operationId: route.id,
    summary,
    ...(description ? { description } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(op.body
      ? { requestBody: { required: !op.bodyOptional, content: { 'application/json': { schema: ref(op.body) } } } }
      : {}),
    responses,
  };
}

export interface OpenApiOptions {
  /** The document's version; package.json's by default. */
  version?: string;
}

export function openApiDocument(options: OpenApiOptions = {}): JsonObject {
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const route of ROUTES) (paths[route.path] ??= {})[route.method.toLowerCase()] = operationObject(route);
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'capacity-tracker',
      version: options.version ?? packageVersion(),
      description:
        "A capacity ledger for compute nodes: vCPU, memory, disk and PCI claims following the rules of Nova's " +
        'resource tracker. Memory in MB, disk in GB, vCPUs as integers. Every error is { error, message } and changes nothing. ' +
        'Responses may carry more fields than listed.',
    },
    servers: [{ url: '/', description: 'The API on the origin that serves this document' }],
    security: [{}, { sigv4: [] }],
    paths,
    components: {
      schemas: componentSchemas(),
      responses: {
        [INTERNAL_ERROR.code]: {
          description: `${INTERNAL_ERROR.code}: ${INTERNAL_ERROR.message.replace(/^T/, 't')}`,
          content: {
            'application/json': {
              schema: { ...ref('Error'), type: 'object', properties: { error: { const: INTERNAL_ERROR.code } } },
            },
          },
        },
      },
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          description:
            'A deployed stack authorizes with IAM: requests are signed with AWS SigV4 (service execute-api). The local runner needs none.',
        },
      },
    },
  };
}

function packageVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../package.json') as { version: string }).version;
}

/** The document as written to openapi.json: stable key order, two-space indent, a final newline. */
export function openApiText(options: OpenApiOptions = {}): string {
  return `${JSON.stringify(openApiDocument(options), null, 2)}\n`;
}
