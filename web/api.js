// The capacity page's reads of the API: GET as JSON with a timeout, an error answer as an Error with its message,
// and GET /nodes's pages joined. Apart from app.js so that the state, the refresh loop and the events read without
// the HTTP plumbing. The API is the one ?api=URL names, or this page's origin. Loaded before app.js (index.html).
'use strict';

(() => {
  const TIMEOUT_MS = 10_000;
  const base = apiBase(new URLSearchParams(location.search).get('api'));

  function apiBase(given) {
    const url = new URL(given || '/', location.href);
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    return url;
  }

  async function getJson(path) {
    const res = await fetch(new URL(path, base), {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await res.text();
    let body;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw new Error(`HTTP ${res.status}, and the answer is not JSON`);
    }
    if (!res.ok) throw new Error(body && body.message ? `${body.error}: ${body.message}` : `HTTP ${res.status}`);
    return body;
  }

  /** GET /nodes answers a page at a time: every page, in nodeId order. */
  async function everyNode() {
    const all = [];
    let next;
    do {
      const body = await getJson(next ? `nodes?next=${encodeURIComponent(next)}` : 'nodes');
      all.push(...body.nodes);
      next = body.next;
    } while (next);
    return all;
  }

  window.capacityApi = { base, getJson, everyNode };
})();
