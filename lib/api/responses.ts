// What the handlers answer, as zod schemas, so that the OpenAPI document describes responses from the same
// kind of source as requests. Nothing parses responses with these at run time: a test runs every route and
// checks the real answers against them (test/integration/openapi-responses.test.ts), sealed so that a field
// a handler adds without being listed here fails it.
import * as z from 'zod';
import { MOVE_TYPES, STATUSES, VM_STATES } from '../domain';

// MB of memory, GB of disk (fractional when swap is not a whole GB) or vCPUs.
const amount = z.number();

const amounts = z.object({ memoryMb: amount, diskGb: amount, vcpus: amount });

export const pciPoolSchema = z.object({
  vendorId: z.string(),
  productId: z.string(),
  numaNode: z.number().int().nullable(),
  deviceType: z.enum(['type-PCI', 'type-PF', 'type-VF']),
  physicalNetwork: z.string().optional(),
  count: z.number().int().meta({ description: 'devices in the pool' }),
  free: z.number().int().meta({ description: 'devices a claim could take now' }),
});

const cpus = z.array(z.number().int());

export const numaCellViewSchema = z.object({
  id: z.number().int(),
  cpuset: cpus.meta({ description: 'host CPUs for shared vCPUs' }),
  pcpuset: cpus.meta({ description: 'host CPUs that dedicated vCPUs may be pinned to' }),
  memoryMb: z.number().int(),
  siblings: z.array(cpus),
  cpuUsage: z.number().int().meta({ description: 'shared vCPUs placed on the cell' }),
  memoryUsageMb: z.number().int(),
  pinnedCpus: cpus,
  mempages: z.array(
    z.object({ sizeKb: z.number().int(), total: z.number().int(), reserved: z.number().int(), used: z.number().int() }),
  ),
  unknownPinnedCpus: cpus
    .optional()
    .meta({ description: 'pinned CPUs the inventory no longer reports: pinned until their claims are released' }),
  reported: z
    .literal(false)
    .optional()
    .meta({ description: 'present when the inventory no longer reports the cell but it still holds usage' }),
});

export const fittedTopologySchema = z
  .object({
    cells: z.array(
      z.object({
        id: z.number().int().meta({ description: 'the host cell' }),
        memoryMb: z.number().int(),
        pagesizeKb: z.number().int().nullable(),
        cpuset: cpus.meta({ description: 'shared guest vCPUs' }),
        pcpuset: cpus.meta({ description: 'dedicated guest vCPUs' }),
        cpuPinning: z.record(z.string(), z.number().int()).meta({ description: 'guest vCPU -> host CPU' }),
        cpusetReserved: cpus.meta({ description: 'host CPUs for emulator threads' }),
      }),
    ),
    cpuThreadPolicy: z.enum(['prefer', 'isolate', 'require']).optional(),
    emulatorThreadsPolicy: z.enum(['share', 'isolate']).optional(),
  })
  .nullable();

export const nodeViewSchema = z.object({
  nodeId: z.string(),
  vcpus: z.number().int(),
  memoryMb: z.number().int(),
  localGb: z.number().int(),
  cpuAllocationRatio: z.number(),
  ramAllocationRatio: z.number(),
  diskAllocationRatio: z.number(),
  reservedHostMemoryMb: z.number().int(),
  reservedHostDiskMb: z.number().int(),
  reservedHostCpus: z.number().int(),
  vcpusUsed: amount.meta({ description: 'claims plus reservedHostCpus' }),
  memoryMbUsed: amount.meta({ description: 'claims plus reservedHostMemoryMb' }),
  localGbUsed: amount.meta({ description: 'claims plus reservedHostDiskMb / 1024' }),
  freeRamMb: amount.meta({
    description: 'memoryMb - memoryMbUsed, ratios ignored; negative when inventory shrank below usage',
  }),
  freeDiskGb: amount.meta({ description: 'localGb - localGbUsed, ratios ignored; may be negative' }),
  runningVms: z.number().int(),
  currentWorkload: z.number().int(),
  limits: z
    .object({ vcpus: z.number(), memoryMb: z.number(), diskGb: z.number() })
    .meta({ description: 'inventory x allocation ratio: what claims are tested against' }),
  stats: z.record(z.string(), z.number().int()).meta({
    description: 'num_instances, num_vm_<state>, num_task_<state>, num_os_type_<type>, num_proj_<id>, io_workload',
  }),
  pciDevicePools: z.array(pciPoolSchema),
  generation: z.number().int(),
  traits: z.array(z.string()).meta({ description: 'as the last PUT gave them (rule G1)' }),
  aggregates: z.array(z.string()),
  numaTopology: z.object({ cells: z.array(numaCellViewSchema) }).optional(),
});

export const nodeListSchema = z.object({
  nodes: z.array(nodeViewSchema),
  /** Present when more nodes may follow: pass it as `next` for the page after this one. */
  next: z.string().optional(),
});

const flavor = z.object({
  vcpus: z.number().int(),
  memoryMb: z.number().int(),
  rootGb: z.number().int(),
  ephemeralGb: z.number().int(),
  swapMb: z.number().int(),
  extraSpecs: z.record(z.string(), z.string()).optional(),
});

export const instanceRecordSchema = z.object({
  nodeId: z.string(),
  instanceUuid: z.string(),
  memoryMb: amount,
  diskGb: amount,
  vcpus: amount,
  pciDevices: z.array(z.string()).meta({ description: 'addresses of the devices the claim took' }),
  flavor,
  volumeBacked: z.boolean(),
  overhead: amounts,
  vmState: z.enum(VM_STATES),
  taskState: z.string().nullable(),
  osType: z.string().nullable(),
  projectId: z.string().nullable(),
  version: z.number().int(),
  migrationId: z.string().optional().meta({ description: 'the move in progress, if any' }),
  serverGroup: z.string().optional().meta({ description: 'the server group it is a member of' }),
  numaTopology: fittedTopologySchema.optional().meta({
    description: 'the fitted NUMA topology; null on a node without a topology; absent when the claim asked for none',
  }),
});

export const claimResponseSchema = instanceRecordSchema.extend({
  node: nodeViewSchema.optional().meta({ description: 'left out with Prefer: return=minimal' }),
});

const holdSchema = amounts.extend({ migrationId: z.string(), instanceUuid: z.string(), role: z.enum(['new', 'old']) });

export const instanceListSchema = z.object({
  instances: z.array(instanceRecordSchema),
  holds: z.array(holdSchema).meta({ description: "moves' holds on the node: new on a destination, old on a source" }),
});

export const stateChangeResponseSchema = instanceRecordSchema.extend({
  tracked: z.boolean().meta({ description: 'false once the instance released its resources' }),
});

export const migrationSchema = z.object({
  migrationId: z.string(),
  instanceUuid: z.string(),
  moveType: z.enum(MOVE_TYPES),
  sourceNodeId: z.string(),
  destNodeId: z.string(),
  oldFlavor: flavor,
  newFlavor: flavor,
  status: z.enum(STATUSES),
  sequence: z.number().int(),
  oldUsage: amounts,
  newUsage: amounts,
});

export const statusResponseSchema = migrationSchema.extend({
  applied: z
    .boolean()
    .meta({ description: 'false when the status was stale, repeated or out of order and changed nothing' }),
});

export const moveClaimResponseSchema = z.object({
  migration: migrationSchema,
  claim: amounts.extend({
    nodeId: z.string(),
    instanceUuid: z.string(),
    pciDevices: z.array(z.string()),
    numaTopology: fittedTopologySchema.optional(),
    node: nodeViewSchema.optional(),
  }),
});

const cellFigures = z.object({
  cpuUsage: z.number(),
  memoryUsageMb: z.number(),
  pinnedCpus: cpus,
  pagesUsed: z.record(z.string(), z.number()),
});

export const auditResponseSchema = z.object({
  node: nodeViewSchema,
  drift: z
    .object({ memoryMbUsed: amount, localGbUsed: amount, vcpusUsed: amount })
    .meta({ description: 'after - before' }),
  unknownInstances: z.array(z.string()).meta({ description: 'running on the host but not tracked' }),
  missingInstances: z.array(z.string()).meta({ description: 'tracked but not running on the host' }),
  numa: z
    .object({
      drift: z.array(z.object({ cellId: z.number().int(), before: cellFigures, after: cellFigures })),
      problems: z.array(z.string()).meta({ description: 'pins shared by two holders or outside the inventory' }),
    })
    .optional()
    .meta({ description: 'the NUMA cells the audit rewrote; present on a node with cells' }),
  releasedHolds: z
    .array(amounts.extend({ migrationId: z.string(), instanceUuid: z.string(), role: z.enum(['new', 'old']) }))
    .meta({ description: 'move holds of migrations the agent no longer runs, older than the fresh age, released' }),
});

export const errorSchema = z.object({
  error: z.string().meta({ description: 'the error code' }),
  message: z.string().meta({ description: 'one sentence for a person' }),
  issues: z
    .array(z.object({ path: z.string(), message: z.string() }))
    .optional()
    .meta({ description: 'ValidationError only' }),
  reasons: z
    .array(z.string())
    .optional()
    .meta({ description: 'InsufficientResources only: each resource that did not fit' }),
  refusals: z
    .record(z.string(), z.number().int())
    .optional()
    .meta({ description: 'NoValidHost only: nodes left out per resource class or filter (rule G6)' }),
  attempts: z.number().int().optional().meta({ description: 'NoValidHost only: claims tried' }),
});
