// The capacity page (web/) and the OpenAPI document as the local runner and `capacity-tracker page` serve
// them: the same plain files a deployment uploads beside the API.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface WebFile {
  body: Buffer;
  contentType: string;
}

const WEB_DIR = join(__dirname, '..', 'web');

const PAGE_FILES: Record<string, { file: string; contentType: string }> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/api.js': { file: 'api.js', contentType: 'text/javascript; charset=utf-8' },
  '/rows.js': { file: 'rows.js', contentType: 'text/javascript; charset=utf-8' },
  '/numa.js': { file: 'numa.js', contentType: 'text/javascript; charset=utf-8' },
  '/detail.js': { file: 'detail.js', contentType: 'text/javascript; charset=utf-8' },
  '/app.js': { file: 'app.js', contentType: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', contentType: 'text/css; charset=utf-8' },
};

let openApi: Buffer | undefined;

/** The file served at `path`, or undefined when the path is not one of them (the API's routes take it then). */
export async function webFile(path: string): Promise<WebFile | undefined> {
  if (path === '/openapi.json') {
    // Generated rather than read from openapi.json, so that it follows the schemas even before `npm run openapi`.
    if (!openApi) {
      // require, not import(): the CLI's `page` serves this file too, and its tsx hook compiles what CommonJS loads.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { openApiText } = require('../lib/api/openapi') as typeof import('../lib/api/openapi');
      openApi = Buffer.from(openApiText());
    }
    return { body: openApi, contentType: 'application/json' };
  }
  const entry = PAGE_FILES[path];
  if (!entry) return undefined;
  // Read on every request, so that an edit of the page shows on reload.
  return { body: await readFile(join(WEB_DIR, entry.file)), contentType: entry.contentType };
}
