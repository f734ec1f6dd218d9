// A small client for the HTTP API, used by the CLI and the deployed stack's smoke test. Local endpoints are
// called as they are; anything else is an API Gateway HTTP API behind IAM authorization, so each request is
// signed with SigV4 using the usual AWS credential chain (env, profile, SSO, instance role).
import { Sha256 } from '@aws-crypto/sha256-js';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';

export interface ApiClientOptions {
  endpoint: string;
  /** Region of a deployed API; read from the endpoint's host name when left out, then from AWS_REGION. */
  region?: string;
  /** Sign even a local-looking endpoint (or never sign, with false). Default: sign unless the host is local. */
  sign?: boolean;
  /** What to sign with; the SDK's default chain (the environment, a profile, a role) when left out. */
  credentials?: ConstructorParameters<typeof SignatureV4>[0]['credentials'];
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or undefined for an empty one. */
  body: unknown;
}

export interface ApiClient {
  readonly endpoint: URL;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1', '0.0.0.0']);

export function isLocalEndpoint(endpoint: URL): boolean {
  return LOCAL_HOSTS.has(endpoint.hostname) || endpoint.hostname.endsWith('.localhost');
}

function regionOf(endpoint: URL, given?: string): string {
  if (given) return given;
  // <api-id>.execute-api.<region>.amazonaws.com
  const match = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(endpoint.hostname);
  return match?.[1] ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const endpoint = new URL(options.endpoint.endsWith('/') ? options.endpoint : `${options.endpoint}/`);
  const shouldSign = options.sign ?? !isLocalEndpoint(endpoint);
  const signer = shouldSign
    ? new SignatureV4({
        service: 'execute-api',
        region: regionOf(endpoint, options.region),
        credentials: options.credentials ?? defaultProvider(),
        sha256: Sha256,
      })
    : undefined;

  return {
    endpoint,
    async request(method, path, body, extraHeaders = {}) {
      const url = new URL(path.replace(/^\//, ''), endpoint);
      const text = body === undefined ? undefined : JSON.stringify(body);
      let headers: Record<string, string> = { host: url.host, accept: 'application/json', ...extraHeaders };
      if (text !== undefined) headers['content-type'] = 'application/json';
      if (signer) {
        const query: Record<string, string> = {};
        url.searchParams.forEach((value, key) => (query[key] = value));
        const signed = await signer.sign({
          method,
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port ? Number(url.port) : undefined,
          path: url.pathname,
          query,
          headers,
          body: text,
        });
        headers = signed.headers;
      }
      // fetch sets Host itself and refuses to be told.
      const { host: _host, ...sendHeaders } = headers;
      const response = await fetch(url, { method, headers: sendHeaders, body: text });
      const raw = await response.text();
      let parsed: unknown;
      if (raw !== '') {
        try {
          parsed = JSON.parse(raw);
        } catch {
          parsed = raw;
        }
      }
      return { status: response.status, headers: response.headers, body: parsed };
    },
  };
}
