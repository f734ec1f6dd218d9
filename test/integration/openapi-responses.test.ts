// Real answers of every route, from the handlers on DynamoDB Local, checked against the OpenAPI document with its
// schemas sealed: a field a handler answers that lib/api/responses.ts does not list fails here.
import { randomUUID } from 'node:crypto';
import { ROUTES } from '../../lib/operations';
import { openApiDocument } from '../../lib/api/openapi';
import { api, type Reply } from '../support/api';
import { F1, F2, N0 } from '../support/contract';
import { errorsOf, openApiValidator } from '../support/openapi-validator';
import { freshTable } from '../support/table';

const validator = openApiValidator(openApiDocument(), { seal: true });
const seen = new Set<string>();

/** Calls `route` with the path filled in and checks the answer has the status expected and the documented shape. */
async function check(
  route: string,
  path: string,
  status: number,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<Reply> {
  const reply = await api(route.split(' ')[0] ?? '', path, body, headers);
  expect([route, reply.status, reply.status === status ? '' : reply.body]).toEqual([route, status, '']);
  const validate = validator.response(route, status);
  if (validate) expect([route, status, validate(reply.body) ? '' : errorsOf(validate)]).toEqual([route, status, '']);
  else expect(reply.body).toBeUndefined();
  seen.add(route);
  return reply;
}

beforeAll(async () => {
  await freshTable('openapi');
});

const pciInventory = {
  ...N0,
  pciDevices: [
    { address: '0000:81:00.0', vendorId: '8086', productId: '1572', deviceType: 'type-PF' },
    {
      address: '0000:81:02.0',
      vendorId: '8086',
      productId: '154c',
      deviceType: 'type-VF',
      parentAddress: '0000:81:00.0',
      physicalNetwork: 'physnet1',
    },
  ],
};

it('answers every route as the document says', async () => {
  const i1 = randomUUID();
  const i2 = randomUUID();
  await check('PUT /nodes/{nodeId}', '/nodes/oa-0', 201, pciInventory);
  await check('PUT /nodes/{nodeId}', '/nodes/oa-0', 200, pciInventory);
  await check('PUT /nodes/{nodeId}', '/nodes/oa-1', 201, N0);
  await check('GET /nodes', '/nodes', 200);
  await check('GET /nodes/{nodeId}', '/nodes/oa-0', 200);

  const claim = {
    instanceUuid: i1,
    flavor: F1,
    vmState: 'active',
    taskState: null,
    osType: 'linux',
    projectId: 'p1',
    pciRequests: [{ count: 1, spec: [{ deviceType: 'type-VF' }] }],
  };
  await check('POST /nodes/{nodeId}/instances', '/nodes/oa-0/instances', 201, claim);
  await check('POST /nodes/{nodeId}/instances', '/nodes/oa-0/instances', 200, claim);
  await check(
    'POST /nodes/{nodeId}/instances',
    '/nodes/oa-0/instances',
    201,
    { instanceUuid: i2, flavor: F1 },
    { prefer: 'return=minimal' },
  );
  await check('POST /nodes/{nodeId}/instances', '/nodes/oa-0/instances', 409, {
    instanceUuid: randomUUID(),
    flavor: F1,
    limits: { memoryMb: 0 },
  });
  await check('POST /nodes/{nodeId}/instances', '/nodes/oa-0/instances', 409, { instanceUuid: i1, flavor: F2 });
  await check('POST /nodes/{nodeId}/instances', '/nodes/oa-0/instances', 400, { instanceUuid: 'x' });
  await check('POST /nodes/{nodeId}/instances', '/nodes/nowhere/instances', 404, {
    instanceUuid: randomUUID(),
    flavor: F1,
  });
  await check('GET /nodes/{nodeId}/instances', '/nodes/oa-0/instances', 200);
  await check('GET /nodes/{nodeId}/instances/{instanceUuid}', `/nodes/oa-0/instances/${i1}`, 200);
  await check('GET /nodes/{nodeId}/instances/{instanceUuid}', `/nodes/oa-0/instances/${randomUUID()}`, 404);
  await check('PATCH /nodes/{nodeId}/instances/{instanceUuid}', `/nodes/oa-0/instances/${i2}`, 200, {
    taskState: 'spawning',
  });
  await check('DELETE /nodes/{nodeId}', '/nodes/oa-0', 409);

  const move = { migrationId: 'oa-m1', instanceUuid: i1, moveType: 'resize', sourceNodeId: 'oa-0', newFlavor: F2 };
  await check('POST /nodes/{nodeId}/move-claims', '/nodes/oa-1/move-claims', 201, move);
  await check('POST /nodes/{nodeId}/move-claims', '/nodes/oa-1/move-claims', 200, move);
  await check('GET /migrations/{migrationId}', '/migrations/oa-m1', 200);
  await check('GET /migrations/{migrationId}', '/migrations/oa-none', 404);
  await check('POST /migrations/{migrationId}/status', '/migrations/oa-m1/status', 200, {
    status: 'finished',
    sequence: 1,
  });
  await check('POST /migrations/{migrationId}/status', '/migrations/oa-m1/status', 200, {
    status: 'migrating',
    sequence: 2,
  });
  await check('POST /migrations/{migrationId}/status', '/migrations/oa-m1/status', 409, {
    status: 'done',
    sequence: 3,
  });
  await check('DELETE /nodes/{nodeId}/move-claims/{migrationId}', '/nodes/oa-0/move-claims/oa-m1?flavor=old', 204);
  await check('DELETE /nodes/{nodeId}/move-claims/{migrationId}', '/nodes/oa-0/move-claims/oa-m1?flavor=sideways', 400);

  await check('POST /nodes/{nodeId}/audit', '/nodes/oa-0/audit', 200, {
    instances: [i2, randomUUID()],
    orphans: [{ instanceUuid: randomUUID(), memoryMb: 64 }],
  });
  await check('POST /nodes/{nodeId}/audit', '/nodes/oa-1/audit', 200);
  await check('DELETE /nodes/{nodeId}/instances/{instanceUuid}', `/nodes/oa-0/instances/${i2}`, 204);
  await check('PATCH /nodes/{nodeId}/instances/{instanceUuid}', `/nodes/oa-1/instances/${i1}`, 200, {
    vmState: 'deleted',
  });
  await check('DELETE /nodes/{nodeId}', '/nodes/oa-1', 204);
  await check('DELETE /nodes/{nodeId}', '/nodes/oa-1', 404);

  // Placement and server groups (docs/placement.md).
  await check('PUT /server-groups/{groupId}', '/server-groups/oa-g', 201, { policy: 'anti-affinity' });
  await check('PUT /server-groups/{groupId}', '/server-groups/oa-g', 200, { policy: 'anti-affinity' });
  await check('PUT /server-groups/{groupId}', '/server-groups/oa-g', 400, { policy: 'none' });
  await check('PUT /nodes/{nodeId}', '/nodes/oa-2', 201, { ...N0, traits: ['CUSTOM_OA'], aggregates: ['oa'] });
  await check('GET /candidates', '/candidates?vcpus=1&memberOf=oa', 200);
  await check('GET /candidates', '/candidates?vcpus=x', 400);
  await check('POST /candidates', '/candidates', 200, { flavor: F1, required: ['CUSTOM_OA'] });
  const placed = { instanceUuid: randomUUID(), flavor: F1, memberOf: ['oa'], serverGroup: 'oa-g' };
  await check('POST /placements', '/placements', 201, placed);
  await check('POST /placements', '/placements', 200, placed);
  await check('POST /placements', '/placements', 409, { ...placed, instanceUuid: randomUUID() });
  await check('POST /placements', '/placements', 201, {
    instances: [{ instanceUuid: randomUUID(), flavor: F1 }],
    memberOf: ['oa'],
  });
  await check('GET /server-groups/{groupId}', '/server-groups/oa-g', 200);
  await check('GET /server-groups/{groupId}', '/server-groups/oa-none', 404);
  await check('DELETE /server-groups/{groupId}', '/server-groups/oa-g', 409);
  await check('DELETE /nodes/{nodeId}/instances/{instanceUuid}', `/nodes/oa-2/instances/${placed.instanceUuid}`, 204);
  await check('DELETE /server-groups/{groupId}', '/server-groups/oa-g', 204);

  expect([...seen].sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
});
