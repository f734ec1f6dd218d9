// Validates JSON against the generated OpenAPI document with Ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses):
// request bodies against a component schema, answers against what the document says a route answers.
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';

type Json = Record<string, unknown>;
const DOC_ID = 'openapi.json';

/** Every object schema among the components closed to fields it does not list (records keep their own rule). */
function sealed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sealed);
  if (value === null || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value))
    out[k] =
      k === 'properties' ? Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, sealed(s)])) : sealed(v);
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined)
    out.additionalProperties = false;
  return out;
}

export interface OpenApiValidator {
  request(schemaName: string): ValidateFunction;
  /** The schema of `status` for `route` ('METHOD /path'); undefined when the route documents no body for it. */
  response(route: string, status: number): ValidateFunction | undefined;
}

/**
 * `seal` closes the component schemas, so that a field an answer carries but the document does not list
 * fails: the document keeps up with the handlers instead of trailing them.
 */
export function openApiValidator(doc: Json, { seal = false } = {}): OpenApiValidator {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  const components = doc.components as Json;
  ajv.addVocabulary(['components']);
  ajv.addSchema({ $id: DOC_ID, components: { schemas: seal ? sealed(components.schemas) : components.schemas } });
  const absolute = (schema: unknown) =>
    JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', `"${DOC_ID}#/components/`)) as Json;
  const paths = doc.paths as Record<string, Record<string, { responses: Record<string, Json> }>>;
  return {
    request: (name) => ajv.compile({ $ref: `${DOC_ID}#/components/schemas/${name}` }),
    response(route, status) {
      const [method = '', path = ''] = route.split(' ');
      let answer = paths[path]?.[method.toLowerCase()]?.responses[String(status)];
      if (!answer) throw new Error(`${route} documents no ${status}`);
      const shared = /^#\/components\/responses\/(\w+)$/.exec(String(answer.$ref ?? ''))?.[1];
      if (shared) answer = (components.responses as Record<string, Json>)[shared] as Json;
      const schema = (answer.content as Record<string, { schema: Json }> | undefined)?.['application/json']?.schema;
      return schema ? ajv.compile(absolute(schema)) : undefined;
    },
  };
}

export function errorsOf(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`)
    .join('; ');
}
