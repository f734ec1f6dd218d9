// The OpenAPI document: generated from the schemas, it lists every route and error code of the contract,
// the worked examples validate against it, and openapi.json is what the generator writes today.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HTTP_STATUS } from '../../../lib/api/error-status';
import { openApiDocument, openApiText } from '../../../lib/api/openapi';
import { ROUTES } from '../../../lib/operations';
import { CONTRACT_ERRORS, CONTRACT_ROUTES, WORKED_ANSWERS, WORKED_REQUESTS } from '../../support/contract';
import { errorsOf, openApiValidator } from '../../support/openapi-validator';

type Json = Record<string, unknown>;
const doc = openApiDocument();
const paths = doc.paths as Record<string, Record<string, { responses: Record<string, Json> }>>;
const validator = openApiValidator(doc);

const operations = Object.entries(paths).flatMap(([path, methods]) =>
  Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
);

/** The error codes a route's document lists under `status`. */
function codesOf(route: string, status: number): string[] {
  const [method = '', path = ''] = route.split(' ');
  const answer = paths[path]?.[method.toLowerCase()]?.responses[String(status)];
  const schema = (
    answer?.content as Record<string, { schema: { properties?: { error?: { enum?: string[] } } } }> | undefined
  )?.['application/json']?.schema;
  return schema?.properties?.error?.enum ?? [];
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with JSON Schema 2020-12', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.jsonSchemaDialect).toBe('https://json-schema.org/draft/2020-12/schema');
  });

  it('has one operation for each route the runner and the stack serve, and no other', () => {
    expect(operations.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it.each(CONTRACT_ROUTES)('documents %s of the contract', (route) => {
    expect(operations).toContain(route);
  });

  it.each(CONTRACT_ERRORS)('documents $code as $status on $route', ({ code, status, route }) => {
    expect(HTTP_STATUS[code as keyof typeof HTTP_STATUS]).toBe(status);
    expect(codesOf(route, status)).toContain(code);
  });

  // Every route takes input now: GET /nodes its `limit` and `next`, and every route refuses query parameters it does not take.
  it('documents a 400 ValidationError on every route, and a 503 Unavailable on all', () => {
    for (const route of operations) {
      expect([route, codesOf(route, 400)]).toEqual([route, ['ValidationError']]);
      expect([route, codesOf(route, 503)]).toEqual([route, ['Unavailable']]);
    }
  });

  it('resolves every reference and compiles every schema', () => {
    const text = JSON.stringify(doc);
    for (const [, name] of text.matchAll(/"#\/components\/schemas\/(\w+)"/g))
      expect(Object.keys((doc.components as Json).schemas as Json)).toContain(name);
    for (const route of operations) {
      const [method = '', path = ''] = route.split(' ');
      for (const status of Object.keys(paths[path]?.[method.toLowerCase()]?.responses ?? {}))
        validator.response(route, Number(status));
    }
  });

  it.each(WORKED_REQUESTS)('accepts the request of worked example $example as $schema', ({ schema, body }) => {
    const validate = validator.request(schema);
    expect(validate(body) ? '' : errorsOf(validate)).toBe('');
  });

  it.each(WORKED_ANSWERS)('accepts the answer of worked example $example', ({ route, status, body }) => {
    const validate = validator.response(route, status);
    expect(validate?.(body) ? '' : errorsOf(validate!)).toBe('');
  });

  it('refuses what the handlers refuse', () => {
    const claim = validator.request('ClaimRequest');
    const uuid = '6f1d1a8e-1c2b-4c55-9c1e-000000000001';
    expect(claim({ instanceUuid: uuid })).toBe(false); // no flavor
    expect(claim({ instanceUuid: 'not-a-uuid', flavor: { vcpus: 1, memoryMb: 1, rootGb: 1 } })).toBe(false);
    expect(claim({ instanceUuid: uuid, flavor: { vcpus: 1, memoryMb: 1, rootGb: 1 }, colour: 'red' })).toBe(false);
    expect(validator.request('Inventory')({ vcpus: -1, memoryMb: 1, localGb: 1 })).toBe(false);
    expect(validator.request('StatusUpdate')({ status: 'teleported' })).toBe(false);
    // The 409 of a claim is one of its own codes, not any error.
    expect(validator.response('POST /nodes/{nodeId}/instances', 409)?.({ error: 'NodeNotFound', message: 'x' })).toBe(
      false,
    );
  });

  it('shows the defaults the handlers apply, and leaves defaulted fields optional', () => {
    const inventory = (
      (doc.components as Json).schemas as Record<string, { required: string[]; properties: Record<string, Json> }>
    ).Inventory;
    expect(inventory?.required).toEqual(['vcpus', 'memoryMb', 'localGb']);
    expect(inventory?.properties.reservedHostMemoryMb?.default).toBe(512);
    expect(inventory?.properties.cpuAllocationRatio?.default).toBe(16);
  });

  it('is what openapi.json holds: run `npm run openapi` after changing a schema', () => {
    const committed = readFileSync(join(__dirname, '..', '..', '..', 'openapi.json'), 'utf8');
    expect(committed).toBe(openApiText());
  });
});
