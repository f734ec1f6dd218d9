// `npm run openapi`: writes the OpenAPI document generated from the zod schemas to openapi.json, a plain file
// to publish beside the API (a test fails while the committed file differs from what this writes).
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { openApiText } from '../lib/api/openapi';

const target = join(__dirname, '..', 'openapi.json');
writeFileSync(target, openApiText());
console.log(`Wrote ${relative(process.cwd(), target) || target}.`);
