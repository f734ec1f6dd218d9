// The IAM actions each Lambda is granted (the `access` of lib/operations.ts, which the CDK stack turns
// into its policy) cover every DynamoDB request its handler sends, and nothing is granted that the
// scenario below does not use. Every handler runs through a realistic scenario on DynamoDB Local while a
// middleware on the store's client records each request's IAM actions under the entry being called.
import { randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handler as planRound } from '../../functions/audit-all';
import { handler as auditSlice } from '../../functions/audit-slice';
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { consume as foldRecords } from '../../functions/fleet-summary';
import { repair } from '../../functions/fleet-summary-repair';
import { handler as consumeStatuses } from '../../functions/migration-status-queue';
import { lambdaEntries, ROUTES, type Access } from '../../lib/operations';
import { FLEET_SUMMARY_FUNCTIONS } from '../../lib/operations-placement';
import { nodeKey } from '../../lib/store/items';
import { runtime } from '../../lib/api/runtime';
import type { Store } from '../../lib/store';
import { rebuildSummary } from '../../lib/store';
import { lambdaContext, sqsRecord } from '../../local/events';
import { api } from '../support/api';
import { injectFaults } from '../support/faults';
import { F1, F2, N0, uuid } from '../support/fixtures';
import { freshTable } from '../support/table';

/** An IAM action as granted: on the table's items, on the node index, or on the fleet summary's items (FLEET#*). */
type Grant = `table:${string}` | `index:${string}` | `summary:${string}`;

// Transactions are authorized item by item (DynamoDB developer guide, "Using IAM with DynamoDB transactions").
const TRANSACT_WRITE_ITEM: Record<string, string> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
};

/** The partition a single-item request or a Query names (the document client's plain values). */
const partitionOf = (input: Record<string, unknown>) => {
  const key = (input.Key ?? input.Item) as Record<string, unknown> | undefined;
  return String(key?.pk ?? (input.ExpressionAttributeValues as Record<string, unknown> | undefined)?.[':pk'] ?? '');
};

/** The IAM actions one request needs. The document client's commands carry the low-level names. */
function grantsOf(commandName: string, input: Record<string, unknown>): Grant[] {
  const operation = commandName.replace(/Command$/, '');
  if (partitionOf(input).startsWith('FLEET#') && input.IndexName === undefined) return [`summary:${operation}`];
  switch (operation) {
    case 'TransactWriteItems':
      return (input.TransactItems as Record<string, unknown>[]).flatMap((item) =>
        Object.keys(item).map((kind): Grant => `table:${TRANSACT_WRITE_ITEM[kind] ?? `TransactWriteItems.${kind}`}`),
      );
    case 'TransactGetItems':
      return ['table:GetItem'];
    case 'Query':
    case 'Scan':
      return [input.IndexName === undefined ? `table:${operation}` : `index:${operation}`];
    default:
      return [`table:${operation}`];
  }
}

const declared = (access: Access): Grant[] => [
  ...access.table.map((a): Grant => `table:${a}`),
  ...(access.nodeIndex ? (['index:Query'] as const) : []),
  ...(access.summary ?? []).map((a): Grant => `summary:${a}`),
];

const used = new Map<string, Set<Grant>>();
let current: string | undefined;
const knownNodes = new Set<string>();

/** Runs one handler invocation as `entry`, as a fresh container would: no device copy kept from before. */
async function as<T>(entry: string, run: () => Promise<T>): Promise<T> {
  for (const nodeId of knownNodes) runtime().store.devices.forget(nodeId);
  current = entry;
  try {
    return await run();
  } finally {
    current = undefined;
  }
}

function entryOf(method: string, path: string): string {
  const segments = path.split('?')[0]!.split('/');
  const route = ROUTES.find((r) => {
    const parts = r.path.split('/');
    return (
      r.method === method &&
      parts.length === segments.length &&
      parts.every((p, i) => p.startsWith('{') || p === segments[i])
    );
  });
  if (!route) throw new Error(`no route for ${method} ${path}`);
  return route.entry;
}

async function call(method: string, path: string, body?: unknown, headers?: Record<string, string>) {
  const nodeId = /^\/nodes\/([^/?]+)/.exec(path)?.[1];
  if (nodeId) knownNodes.add(nodeId);
  return as(entryOf(method, path), () => api(method, path, body, headers));
}

async function expectStatus(reply: Promise<{ status: number; body: unknown }>, status: number) {
  const r = await reply;
  expect({ status: r.status, body: r.body }).toMatchObject({ status });
  return r;
}

let sequence = 0;
function queueBatch(...messages: { migrationId: string; status: string; sequence: number; group: string }[]): SQSEvent {
  return {
    Records: messages.map((m) =>
      sqsRecord({
        messageId: randomUUID(),
        body: JSON.stringify({ migrationId: m.migrationId, status: m.status, sequence: m.sequence }),
        groupId: m.group,
        deduplicationId: randomUUID(),
        sequenceNumber: String(++sequence).padStart(20, '0'),
        sentAt: Date.now(),
        receiveCount: 1,
      }),
    ),
  };
}

const VF = (address: string) => ({
  address,
  vendorId: '8086',
  productId: '154c',
  deviceType: 'type-VF',
  parentAddress: '0000:81:00.0',
});
const DEVICES = [
  { address: '0000:81:00.0', vendorId: '8086', productId: '1572', deviceType: 'type-PF' },
  VF('0000:81:02.0'),
  VF('0000:81:02.1'),
];
const VF_REQUEST = [{ count: 1, spec: [{ vendorId: '8086', deviceType: 'type-VF' }] }];

const minimal = { prefer: 'return=minimal' };
const consume = (event: SQSEvent): Promise<SQSBatchResponse> =>
  as('migration-status-queue', () => consumeStatuses(event, lambdaContext('migration-status-queue')));

/** The test's own client: what it writes is not any handler's. */
let direct: Store;
beforeAll(async () => {
  direct = await freshTable('permissions');
  runtime().store.client.middlewareStack.add(
    (next, context) => async (args) => {
      const entry = current ?? '(no handler)';
      const grants = used.get(entry) ?? new Set<Grant>();
      for (const g of grantsOf(context.commandName ?? 'unknown', args.input as Record<string, unknown>)) grants.add(g);
      used.set(entry, grants);
      return next(args);
    },
    { step: 'initialize', name: 'record-iam-actions' },
  );

  const [pci, a, b, c] = ['perm-pci', 'perm-a', 'perm-b', 'perm-c'];
  // Nodes: one with devices, then an inventory that drops a device and brings a new one.
  await expectStatus(call('PUT', `/nodes/${pci}`, { ...N0, pciDevices: DEVICES }), 201);
  for (const id of [a, b, c]) await expectStatus(call('PUT', `/nodes/${id}`, N0), 201);
  await expectStatus(
    call('PUT', `/nodes/${pci}`, { ...N0, pciDevices: [...DEVICES.slice(0, 2), VF('0000:81:02.2')] }),
    200,
  );
  await expectStatus(call('GET', `/nodes/${pci}`), 200);
  await expectStatus(call('GET', '/nodes'), 200);

  // Claims: with a device and the node view, a retry, a conflict, one that does not fit, a minimal one.
  const withDevice = { instanceUuid: uuid(), flavor: F1, pciRequests: VF_REQUEST, vmState: 'active', taskState: null };
  await expectStatus(call('POST', `/nodes/${pci}/instances`, withDevice), 201);
  await expectStatus(call('POST', `/nodes/${pci}/instances`, withDevice), 200);
  await expectStatus(call('POST', `/nodes/${a}/instances`, withDevice), 409);
  await expectStatus(
    call('POST', `/nodes/${a}/instances`, { instanceUuid: uuid(), flavor: F1, limits: { memoryMb: 0 } }),
    409,
  );
  const onA = uuid();
  await expectStatus(
    call(
      'POST',
      `/nodes/${a}/instances`,
      { instanceUuid: onA, flavor: F1, vmState: 'active', taskState: null },
      minimal,
    ),
    201,
  );
  await expectStatus(call('GET', `/nodes/${a}/instances`), 200);
  await expectStatus(call('GET', `/nodes/${a}/instances/${onA}`), 200);
  // A claim that meets another on its node waits as an item and is committed with the others (rule CU5).
  const waited = uuid();
  const contended = injectFaults(runtime().store, {
    command: 'TransactWriteItemsCommand',
    fault: 'conflict',
    times: 1,
  });
  await expectStatus(call('POST', `/nodes/${a}/instances`, { instanceUuid: waited, flavor: F1 }, minimal), 201);
  expect(contended.state.injected).toBe(1);
  contended.remove();
  await expectStatus(call('DELETE', `/nodes/${a}/instances/${waited}`), 204);

  // State changes: one that keeps the claim, one that releases it (and its device); a release by DELETE.
  await expectStatus(call('PATCH', `/nodes/${a}/instances/${onA}`, { taskState: 'spawning' }), 200);
  await expectStatus(
    call('PATCH', `/nodes/${pci}/instances/${withDevice.instanceUuid}`, { vmState: 'shelved_offloaded' }),
    200,
  );
  const second = { ...withDevice, instanceUuid: uuid() };
  await expectStatus(call('POST', `/nodes/${pci}/instances`, second, minimal), 201);
  await expectStatus(call('DELETE', `/nodes/${pci}/instances/${second.instanceUuid}`), 204);

  // A resize from a to b, confirmed through HTTP and the queue.
  const m1 = `perm-m1-${uuid()}`;
  await expectStatus(
    call('POST', `/nodes/${b}/move-claims`, {
      migrationId: m1,
      moveType: 'resize',
      instanceUuid: onA,
      sourceNodeId: a,
      newFlavor: F2,
    }),
    201,
  );
  await expectStatus(
    call('POST', `/nodes/${b}/move-claims`, {
      migrationId: m1,
      moveType: 'resize',
      instanceUuid: onA,
      sourceNodeId: a,
      newFlavor: F2,
    }),
    200,
  );
  await expectStatus(call('GET', `/migrations/${m1}`), 200);
  await expectStatus(call('POST', `/migrations/${m1}/status`, { status: 'finished', sequence: 1 }), 200);
  const confirmed = await consume(
    queueBatch(
      { migrationId: m1, status: 'confirmed', sequence: 2, group: onA },
      { migrationId: m1, status: 'confirmed', sequence: 2, group: onA },
    ),
  );
  expect(confirmed.batchItemFailures).toEqual([]);

  // A migration from b to c: one hold dropped by hand, then the instance released while it moves
  // (which ends the move first), and a state change of another moving instance to deleted.
  const m2 = `perm-m2-${uuid()}`;
  await expectStatus(
    call(
      'POST',
      `/nodes/${c}/move-claims`,
      { migrationId: m2, moveType: 'migration', instanceUuid: onA, sourceNodeId: b },
      minimal,
    ),
    201,
  );
  await expectStatus(call('DELETE', `/nodes/${c}/move-claims/${m2}?flavor=new`), 204);
  await expectStatus(call('DELETE', `/nodes/${b}/instances/${onA}`), 204);
  const third = uuid();
  await expectStatus(call('POST', `/nodes/${b}/instances`, { instanceUuid: third, flavor: F1 }, minimal), 201);
  const m3 = `perm-m3-${uuid()}`;
  await expectStatus(
    call(
      'POST',
      `/nodes/${c}/move-claims`,
      { migrationId: m3, moveType: 'migration', instanceUuid: third, sourceNodeId: b },
      minimal,
    ),
    201,
  );
  await expectStatus(call('PATCH', `/nodes/${b}/instances/${third}`, { vmState: 'deleted' }), 200);

  // Moves that take devices on the destination, and give them back on the side that goes: confirmed
  // through the queue, reverted over HTTP, a hold dropped by hand, a move ended by a release.
  const pci2 = 'perm-pci2';
  await expectStatus(call('PUT', `/nodes/${pci2}`, { ...N0, pciDevices: DEVICES }), 201);
  const mover = uuid();
  await expectStatus(
    call(
      'POST',
      `/nodes/${pci}/instances`,
      { instanceUuid: mover, flavor: F1, pciRequests: VF_REQUEST, vmState: 'active', taskState: null },
      minimal,
    ),
    201,
  );
  const move = (migrationId: string, from: string, to: string, moveType: string, flavor?: object) =>
    call(
      'POST',
      `/nodes/${to}/move-claims`,
      {
        migrationId,
        moveType,
        instanceUuid: mover,
        sourceNodeId: from,
        ...(flavor ? { newFlavor: flavor } : {}),
        pciRequests: VF_REQUEST,
      },
      minimal,
    );
  const m4 = `perm-m4-${uuid()}`;
  await expectStatus(move(m4, pci, pci2, 'resize', F2), 201);
  await expectStatus(call('POST', `/migrations/${m4}/status`, { status: 'finished', sequence: 1 }), 200);
  expect(
    (await consume(queueBatch({ migrationId: m4, status: 'confirmed', sequence: 2, group: mover }))).batchItemFailures,
  ).toEqual([]);
  const m5 = `perm-m5-${uuid()}`;
  await expectStatus(move(m5, pci2, pci, 'resize', F1), 201);
  expect(
    (await consume(queueBatch({ migrationId: m5, status: 'finished', sequence: 1, group: mover }))).batchItemFailures,
  ).toEqual([]);
  await expectStatus(call('POST', `/migrations/${m5}/status`, { status: 'reverted', sequence: 2 }), 200);
  const m6 = `perm-m6-${uuid()}`;
  await expectStatus(move(m6, pci2, pci, 'migration'), 201);
  await expectStatus(call('DELETE', `/nodes/${pci}/move-claims/${m6}?flavor=new`), 204);
  await expectStatus(call('DELETE', `/nodes/${pci2}/instances/${mover}`), 204);

  // The audit: a new inventory without one device, an orphan; the orphan is then claimed, and the
  // scheduled round repairs the node (the orphan persists, but a tracked one is not counted twice).
  const orphan = uuid();
  await expectStatus(
    call('POST', `/nodes/${pci2}/audit`, {
      inventory: { ...N0, pciDevices: DEVICES.slice(0, 2) },
      orphans: [{ instanceUuid: orphan, memoryMb: 64 }],
    }),
    200,
  );
  await expectStatus(call('POST', `/nodes/${pci2}/instances`, { instanceUuid: orphan, flavor: F1 }, minimal), 201);
  const plan = await as('audit-all', () => planRound({}, lambdaContext('audit-all')));
  const repaired: string[] = [];
  for (const slice of plan.slices) {
    const result = await as('audit-slice', () =>
      auditSlice({ round: plan.round, slice }, lambdaContext('audit-slice')),
    );
    repaired.push(...result.repaired);
  }
  expect(repaired).toEqual([pci2]);
  await expectStatus(call('DELETE', `/nodes/${pci2}/instances/${orphan}`), 204);

  // Deletes: refused while in use, then a node with devices, then a plain one.
  const last = uuid();
  await expectStatus(call('POST', `/nodes/${pci}/instances`, { instanceUuid: last, flavor: F1 }, minimal), 201);
  await expectStatus(call('DELETE', `/nodes/${pci}`), 409);
  await expectStatus(call('DELETE', `/nodes/${pci}/instances/${last}`), 204);
  await expectStatus(call('DELETE', `/nodes/${pci}`), 204);
  await expectStatus(call('DELETE', `/nodes/${a}`), 204);
  // A node registered again over what a delete that stopped halfway left removes it first.
  const d = 'perm-d';
  await expectStatus(call('PUT', `/nodes/${d}`, { ...N0, pciDevices: DEVICES }), 201);
  await direct.doc.send(new DeleteCommand({ TableName: direct.tableName, Key: nodeKey(d) }));
  await expectStatus(call('PUT', `/nodes/${d}`, N0), 201);
});

test('placement and server groups: every entry through its routes', async () => {
  // Every call reads the fleet as a fresh container would.
  process.env.FLEET_VIEW_TTL_MS = '0';
  const node = `perm-place-${uuid()}`;
  await expectStatus(call('PUT', `/nodes/${node}`, { ...N0, traits: ['CUSTOM_P'], aggregates: [node] }), 201);
  const group = `perm-g-${uuid().slice(0, 8)}`;
  const groupPath = `/server-groups/${group}`;
  await expectStatus(
    as('put-server-group', () => api('PUT', groupPath, { policy: 'anti-affinity' })),
    201,
  );
  // Both candidates routes, from the full read here and from the summary once it is whole.
  const candidates = async () => {
    await expectStatus(
      as('get-candidates', () => api('GET', `/candidates?vcpus=1&memberOf=${node}`)),
      200,
    );
    await expectStatus(
      as('post-candidates', () => api('POST', '/candidates', { flavor: F1, serverGroup: group })),
      200,
    );
  };
  await candidates();
  const placed = { instanceUuid: uuid(), flavor: F1, memberOf: [node], serverGroup: group };
  await expectStatus(
    as('create-placement', () => api('POST', '/placements', placed)),
    201,
  );
  await expectStatus(
    as('create-placement', () => api('POST', '/placements', placed)),
    200,
  );
  // Once the summary is whole (its scheduled repair, outside this table), the fleet view comes from it (rule G12).
  await as('(the summary repair)', () => rebuildSummary(runtime().store));
  await candidates();
  // A member's move claim reads its group and the destination's host item (rule G9).
  const other = `perm-place-${uuid()}`;
  await expectStatus(call('PUT', `/nodes/${other}`, N0), 201);
  const move = { migrationId: `perm-gm-${uuid()}`, instanceUuid: placed.instanceUuid, sourceNodeId: node };
  await expectStatus(call('POST', `/nodes/${other}/move-claims`, { ...move, moveType: 'migration' }), 201);
  await expectStatus(call('POST', `/migrations/${move.migrationId}/status`, { status: 'reverted' }), 200);
  await expectStatus(call('DELETE', `/nodes/${other}`), 204);
  const gang = { instances: [{ instanceUuid: uuid(), flavor: F1 }], memberOf: [node] };
  await expectStatus(
    as('create-placement', () => api('POST', '/placements', gang)),
    201,
  );
  await expectStatus(
    as('get-server-group', () => api('GET', groupPath)),
    200,
  );
  await expectStatus(call('DELETE', `/nodes/${node}/instances/${placed.instanceUuid}`), 204);
  await expectStatus(call('DELETE', `/nodes/${node}/instances/${gang.instances[0]!.instanceUuid}`), 204);
  await expectStatus(
    as('delete-server-group', () => api('DELETE', groupPath)),
    204,
  );
});

test("the fleet summary's consumer folds a node's stream records, its repair mends the summary", async () => {
  const node = `perm-fleet-${uuid()}`;
  await expectStatus(call('PUT', `/nodes/${node}`, N0), 201);
  const image = await as('(reading the node item)', async () => {
    const { tableName, doc } = runtime().store;
    return (await doc.send(new GetCommand({ TableName: tableName, Key: nodeKey(node), ConsistentRead: true }))).Item!;
  });
  // A node that is not there (its entry is one the repair removes), and the real node's deletion (the repair puts
  // its entry back).
  const ghost = `perm-ghost-${uuid()}`;
  const record = (nodeId: string, now?: Record<string, unknown>) => ({
    dynamodb: { Keys: marshall(nodeKey(nodeId)), NewImage: now && marshall(now), OldImage: marshall(image) },
  });
  const records = [record(ghost, { ...image, ...nodeKey(ghost), nodeId: ghost }), record(node)];
  const folded = await as('fleet-summary', () => foldRecords({ Records: records } as never));
  expect(folded.batchItemFailures).toEqual([]);
  expect((await as('fleet-summary-repair', () => repair())).writes).toBeGreaterThan(2);
});

test('no DynamoDB request is sent outside a handler of the scenario', () => {
  expect(used.get('(no handler)')).toBeUndefined();
});

const entries = [...lambdaEntries(), ...Object.values(FLEET_SUMMARY_FUNCTIONS)];
describe.each(entries.map(({ entry, access }) => [entry, access] as const))('%s', (entry, access) => {
  test('sends only requests its declared access allows', () => {
    const sent = [...(used.get(entry) ?? [])].sort();
    expect(sent.filter((g) => !declared(access).includes(g))).toEqual([]);
  });

  test('is granted nothing the scenario does not use', () => {
    const sent = used.get(entry) ?? new Set<Grant>();
    expect(
      declared(access)
        .filter((g) => !sent.has(g))
        .sort(),
    ).toEqual([]);
  });
});
