// The HTTP contract's routes and error codes, and the worked examples of docs/worked-examples.md as request bodies,
// restated here as test data: the OpenAPI test checks the generated document against them.

/** Every route the contract names, as METHOD and path template. */
export const CONTRACT_ROUTES = [
  'PUT /nodes/{nodeId}',
  'GET /nodes/{nodeId}',
  'GET /nodes',
  'DELETE /nodes/{nodeId}',
  'POST /nodes/{nodeId}/instances',
  'GET /nodes/{nodeId}/instances',
  'GET /nodes/{nodeId}/instances/{instanceUuid}',
  'PATCH /nodes/{nodeId}/instances/{instanceUuid}',
  'DELETE /nodes/{nodeId}/instances/{instanceUuid}',
  'POST /nodes/{nodeId}/move-claims',
  'GET /migrations/{migrationId}',
  'POST /migrations/{migrationId}/status',
  'DELETE /nodes/{nodeId}/move-claims/{migrationId}',
  'POST /nodes/{nodeId}/audit',
];

/** Each error code of the contract, its status, and a route that answers it. */
export const CONTRACT_ERRORS: Array<{ code: string; status: number; route: string }> = [
  { code: 'ValidationError', status: 400, route: 'PUT /nodes/{nodeId}' },
  { code: 'NodeNotFound', status: 404, route: 'GET /nodes/{nodeId}' },
  { code: 'InstanceNotFound', status: 404, route: 'GET /nodes/{nodeId}/instances/{instanceUuid}' },
  { code: 'MigrationNotFound', status: 404, route: 'GET /migrations/{migrationId}' },
  { code: 'InsufficientResources', status: 409, route: 'POST /nodes/{nodeId}/instances' },
  { code: 'InstanceConflict', status: 409, route: 'POST /nodes/{nodeId}/instances' },
  { code: 'InvalidTransition', status: 409, route: 'POST /migrations/{migrationId}/status' },
  { code: 'InvalidMove', status: 409, route: 'POST /nodes/{nodeId}/move-claims' },
  { code: 'NodeInUse', status: 409, route: 'DELETE /nodes/{nodeId}' },
  { code: 'Unavailable', status: 503, route: 'POST /nodes/{nodeId}/instances' },
];

// The worked examples' node and flavors.
export const N0 = {
  vcpus: 4,
  memoryMb: 512,
  localGb: 6,
  cpuAllocationRatio: 16,
  ramAllocationRatio: 1.5,
  diskAllocationRatio: 1,
  reservedHostMemoryMb: 0,
  reservedHostDiskMb: 0,
  reservedHostCpus: 0,
};
export const F1 = { vcpus: 1, memoryMb: 128, rootGb: 1, ephemeralGb: 0, swapMb: 0 };
export const F2 = { vcpus: 2, memoryMb: 256, rootGb: 5, ephemeralGb: 0, swapMb: 0 };
const I1 = '6f1d1a8e-1c2b-4c55-9c1e-000000000001';

/** Request bodies of the worked examples, each with the component schema it must satisfy. */
export const WORKED_REQUESTS: Array<{ example: string; schema: string; body: unknown }> = [
  { example: '1: N0', schema: 'Inventory', body: N0 },
  {
    example: '2: N0 with host reservations',
    schema: 'Inventory',
    body: { ...N0, reservedHostDiskMb: 1024, reservedHostMemoryMb: 512, reservedHostCpus: 1 },
  },
  {
    example: '3: claim I1 = F1',
    schema: 'ClaimRequest',
    body: {
      instanceUuid: I1,
      flavor: F1,
      vmState: 'active',
      taskState: null,
      osType: 'fake-os',
      projectId: 'fake-project',
    },
  },
  { example: '4: shelve I1 off the node', schema: 'StateChange', body: { vmState: 'shelved_offloaded' } },
  ...(['memoryMb', 'diskGb', 'vcpus'] as const).map((k) => ({
    example: `6: F1 with a limit of 0 ${k}`,
    schema: 'ClaimRequest',
    body: { instanceUuid: I1, flavor: F1, limits: { [k]: 0 } },
  })),
  {
    example: '7: the node',
    schema: 'Inventory',
    body: { vcpus: 2, memoryMb: 2048, localGb: 20, ramAllocationRatio: 1, reservedHostMemoryMb: 0 },
  },
  ...[8, 9].map((m) => ({
    example: `7: 2040 MB with ${m} MB of overhead`,
    schema: 'ClaimRequest',
    body: { instanceUuid: I1, flavor: { vcpus: 1, memoryMb: 2040, rootGb: 1 }, overhead: { memoryMb: m } },
  })),
  {
    example: '8 and 9: same-host resize to F2',
    schema: 'MoveClaimRequest',
    body: { migrationId: 'm-8', instanceUuid: I1, moveType: 'resize', sourceNodeId: 'n0', newFlavor: F2 },
  },
  { example: '8: confirmed', schema: 'StatusUpdate', body: { status: 'confirmed' } },
  { example: '9: reverted', schema: 'StatusUpdate', body: { status: 'reverted' } },
  {
    example: '10: a task state that counts toward io_workload',
    schema: 'StateChange',
    body: { taskState: 'resize_migrating' },
  },
];

/** Answers the worked examples give, with the route and status whose documented schema they must satisfy. */
export const WORKED_ANSWERS: Array<{ example: string; route: string; status: number; body: unknown }> = [
  ...(
    [
      ['memoryMb', 'Free memory 0.00 MB < requested 128 MB'],
      ['diskGb', 'Free disk 0.00 GB < requested 1 GB'],
      ['vcpus', 'Free vcpu 0.00 VCPU < requested 1 VCPU'],
    ] as const
  ).map(([k, reason]) => ({
    example: `6: refused at a limit of 0 ${k}`,
    route: 'POST /nodes/{nodeId}/instances',
    status: 409,
    body: { error: 'InsufficientResources', message: `Insufficient compute resources: ${reason}.`, reasons: [reason] },
  })),
  {
    example: '7: refused with 9 MB of overhead',
    route: 'POST /nodes/{nodeId}/instances',
    status: 409,
    body: {
      error: 'InsufficientResources',
      message: 'Insufficient compute resources: Free memory 2048.00 MB < requested 2049 MB.',
      reasons: ['Free memory 2048.00 MB < requested 2049 MB'],
    },
  },
];
