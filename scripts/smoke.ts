// Post-deployment smoke test: through the deployed API, signed with SigV4, register a node, claim an
// instance on it and release it, check the node's usage is back where it started, delete the node.
// API_URL (or the first argument) is the stack's ApiUrl output. Exits non-zero on the first failure.
// It calls as the agent of its node (the environment's credentials; SMOKE_NODE_ID names the node, as the agent
// role's session does) and deletes as an operator (OPERATOR_AWS_* credentials, when given): docs/security.md.
import { randomUUID } from 'node:crypto';
import { createApiClient, type ApiResponse } from '../lib/client/api-client';

const INVENTORY = { vcpus: 4, memoryMb: 4096, localGb: 40, reservedHostMemoryMb: 0 };
const FLAVOR = { vcpus: 1, memoryMb: 512, rootGb: 5, ephemeralGb: 0, swapMb: 0 };

function expectStatus(step: string, response: ApiResponse, ...statuses: number[]): Record<string, unknown> {
  if (!statuses.includes(response.status)) {
    throw new Error(
      `${step}: expected ${statuses.join(' or ')}, got ${response.status} ${JSON.stringify(response.body)}`,
    );
  }
  console.log(`ok  ${step} (${response.status})`);
  return (response.body ?? {}) as Record<string, unknown>;
}

const usage = (node: Record<string, unknown>) => ({
  vcpusUsed: node.vcpusUsed,
  memoryMbUsed: node.memoryMbUsed,
  localGbUsed: node.localGbUsed,
});

/** The operator's session, from OPERATOR_AWS_ACCESS_KEY_ID and its two companions; the default chain without them. */
function operatorCredentials() {
  const { OPERATOR_AWS_ACCESS_KEY_ID: accessKeyId, OPERATOR_AWS_SECRET_ACCESS_KEY: secretAccessKey } = process.env;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return { accessKeyId, secretAccessKey, sessionToken: process.env.OPERATOR_AWS_SESSION_TOKEN };
}

async function main(): Promise<void> {
  const endpoint = process.argv[2] ?? process.env.API_URL;
  if (!endpoint) throw new Error('usage: tsx scripts/smoke.ts <api-url> (or API_URL=...)');
  const api = createApiClient({ endpoint });
  const operator = createApiClient({ endpoint, credentials: operatorCredentials() });
  const nodeId = process.env.SMOKE_NODE_ID || `smoke-${randomUUID().slice(0, 8)}`;
  const instanceUuid = randomUUID();
  let registered = false;
  try {
    // 200 when a failed run could not delete the node it registered.
    const before = expectStatus('PUT node', await api.request('PUT', `/nodes/${nodeId}`, INVENTORY), 201, 200);
    registered = true;
    const claim = expectStatus(
      'claim',
      await api.request('POST', `/nodes/${nodeId}/instances`, {
        instanceUuid,
        flavor: FLAVOR,
        vmState: 'active',
        taskState: null,
      }),
      201,
    );
    const held = usage((claim.node ?? {}) as Record<string, unknown>);
    if (held.vcpusUsed !== Number(before.vcpusUsed) + FLAVOR.vcpus)
      throw new Error(`claim: node shows ${JSON.stringify(held)} after claiming ${JSON.stringify(FLAVOR)}`);
    expectStatus('release', await api.request('DELETE', `/nodes/${nodeId}/instances/${instanceUuid}`), 204);
    const after = expectStatus('GET node', await api.request('GET', `/nodes/${nodeId}`), 200);
    if (JSON.stringify(usage(after)) !== JSON.stringify(usage(before))) {
      throw new Error(
        `usage not back to baseline: before ${JSON.stringify(usage(before))}, after ${JSON.stringify(usage(after))}`,
      );
    }
    console.log('ok  usage back to baseline');
  } catch (error) {
    // Leave nothing behind if it can be helped; the first failure is the one to report.
    if (registered)
      await api
        .request('DELETE', `/nodes/${nodeId}/instances/${instanceUuid}`)
        .then(() => operator.request('DELETE', `/nodes/${nodeId}`))
        .catch(() => undefined);
    throw error;
  }
  expectStatus('DELETE node', await operator.request('DELETE', `/nodes/${nodeId}`), 204);
  console.log(`smoke test passed against ${api.endpoint.href}`);
}

main().catch((error: unknown) => {
  console.error(`smoke test FAILED: ${(error as Error).message}`);
  process.exit(1);
});
