import * as z from 'zod/mini';
import { schema, wholeNumber } from './zod';
import { consumesNothing, INVENTORY_DEFAULTS, VM_STATES, type InstanceState, type VmState } from '../domain';
import {
  extraSpecsSchema,
  guestTopologySchema,
  imageSchema,
  numaLimitsSchema,
  numaTopologySchema,
  oneNumaForm,
} from './numa-schemas';

// Upper bound for counts: far above any real host (a billion MB is ~950 TB), and low enough that sums
// of many claims stay exact in a double.
export const MAX_COUNT = 1_000_000_000;

const count = /* @__PURE__ */ schema(() => wholeNumber(0, MAX_COUNT));
// DynamoDB stores no magnitude below 1e-130, and a ratio far below Nova's (0.5 to 16) is a mistake: 0.001 x the
// largest inventory still leaves a limit of a million.
export const MIN_RATIO = 0.001;
const ratio = /* @__PURE__ */ schema(() =>
  z.number().check(z.gte(MIN_RATIO, `must be at least ${MIN_RATIO}`), z.lte(1000)),
);
const limit = /* @__PURE__ */ schema(() => z.number().check(z.gte(0), z.lte(MAX_COUNT * 1000)));

export const nodeIdSchema = /* @__PURE__ */ schema(() =>
  z
    .string()
    .check(
      z.regex(
        /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/,
        'must be 1 to 128 letters, digits or . _ @ : -, starting with a letter or digit',
      ),
    ),
);

export const instanceUuidSchema = /* @__PURE__ */ schema(() =>
  z.pipe(
    z
      .string()
      .check(
        z.regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a UUID'),
      ),
    z.transform((s: string) => s.toLowerCase()),
  ),
);

// Names that end up in stats keys (num_proj_<id>, num_os_type_<type>, num_task_<state>).
const label = /* @__PURE__ */ schema(() =>
  z.string().check(z.regex(/^[A-Za-z0-9._:@/-]{1,255}$/, 'must be 1 to 255 letters, digits or . _ : @ / -')),
);
const taskState = /* @__PURE__ */ schema(() =>
  z.string().check(z.regex(/^[a-z0-9_-]{1,64}$/, 'must be 1 to 64 lower-case letters, digits, _ or -')),
);

// Device fields are keys (a device's sort key, its pool's key): printable ASCII only, because DynamoDB stores
// text as UTF-8, where lone surrogates become U+FFFD and two addresses that differ in them become one.
const pciText = (max: number) =>
  z
    .string()
    .check(z.regex(new RegExp(`^[!-~]{1,${max}}$`), `must be 1 to ${max} printable ASCII characters, no spaces`));
const address = /* @__PURE__ */ schema(() => pciText(64));
const pciId = /* @__PURE__ */ schema(() => pciText(16));
const pciName = /* @__PURE__ */ schema(() => pciText(255));

const pciDevice = /* @__PURE__ */ schema(() =>
  z.strictObject({
    address,
    vendorId: pciId,
    productId: pciId,
    numaNode: z._default(z.nullable(wholeNumber(0, 1024)), null),
    deviceType: z._default(z.enum(['type-PCI', 'type-PF', 'type-VF']), 'type-PCI'),
    parentAddress: z.optional(address),
    physicalNetwork: z.optional(pciName),
  }),
);

export const inventorySchema = /* @__PURE__ */ schema(() =>
  z.strictObject({
    vcpus: count,
    memoryMb: count,
    localGb: count,
    cpuAllocationRatio: z._default(ratio, INVENTORY_DEFAULTS.cpuAllocationRatio),
    ramAllocationRatio: z._default(ratio, INVENTORY_DEFAULTS.ramAllocationRatio),
    diskAllocationRatio: z._default(ratio, INVENTORY_DEFAULTS.diskAllocationRatio),
    reservedHostMemoryMb: z._default(count, INVENTORY_DEFAULTS.reservedHostMemoryMb),
    reservedHostDiskMb: z._default(count, INVENTORY_DEFAULTS.reservedHostDiskMb),
    reservedHostCpus: z._default(count, INVENTORY_DEFAULTS.reservedHostCpus),
    pciDevices: z._default(z.array(pciDevice).check(z.maxLength(1024)), []).check(
      z.refine((ds) => new Set(ds.map((d) => d.address)).size === ds.length, {
        message: 'device addresses must be unique',
      }),
    ),
    numaTopology: z.optional(numaTopologySchema),
  }),
);

// Placement's naming rules for traits (standard ones such as HW_CPU_X86_AVX2, and CUSTOM_ ones); rule G1.
const trait = /* @__PURE__ */ schema(() =>
  z.string().check(z.regex(/^[A-Z0-9_]{1,255}$/, 'must be 1 to 255 upper-case letters, digits or _')),
);
export const aggregateIdSchema = /* @__PURE__ */ schema(() =>
  z
    .string()
    .check(
      z.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1 to 128 letters, digits or . _ : -, starting with one'),
    ),
);
export const groupIdSchema = aggregateIdSchema;
export const traitSchema = trait;
const unique = <T extends z.ZodMiniType<string>>(item: T, max: number) =>
  z.array(item).check(
    z.maxLength(max),
    z.refine((xs) => new Set(xs).size === xs.length, { message: 'must not repeat an entry' }),
  );

/** PUT /nodes/{nodeId}: the inventory, and what a scheduler filters on (rule G1). A PUT replaces both lists. */
export const putNodeSchema = /* @__PURE__ */ schema(() =>
  z.extend(inventorySchema, {
    traits: z._default(unique(trait, 256), []),
    aggregates: z._default(unique(aggregateIdSchema, 64), []),
  }),
);

const pciRequest = /* @__PURE__ */ schema(() =>
  z.strictObject({
    count: wholeNumber(1, 64),
    spec: z
      .array(
        z.strictObject({
          vendorId: z.optional(pciId),
          productId: z.optional(pciId),
          deviceType: z.optional(z.enum(['type-PCI', 'type-PF', 'type-VF'])),
          physicalNetwork: z.optional(pciName),
        }),
      )
      .check(z.minLength(1), z.maxLength(16)),
    aliasName: z.optional(pciName),
  }),
);

export const flavor = /* @__PURE__ */ schema(() =>
  z.strictObject({
    vcpus: count,
    memoryMb: count,
    rootGb: count,
    ephemeralGb: z._default(count, 0),
    swapMb: z._default(count, 0),
    extraSpecs: extraSpecsSchema,
  }),
);
export const overhead = /* @__PURE__ */ schema(() =>
  z.strictObject({
    memoryMb: z._default(count, 0),
    diskGb: z._default(count, 0),
    vcpus: z._default(count, 0),
  }),
);
export const limits = /* @__PURE__ */ schema(() =>
  z._default(
    z.strictObject({
      memoryMb: z.optional(z.nullable(limit)),
      diskGb: z.optional(z.nullable(limit)),
      vcpus: z.optional(z.nullable(limit)),
      numaTopology: numaLimitsSchema,
    }),
    {},
  ),
);

// A claim's devices (and the PFs of its VFs) are written in one transaction of at most 100 actions.
export const MAX_DEVICES_PER_CLAIM = 32;
export const MAX_LIVE_DEVICES = MAX_DEVICES_PER_CLAIM / 2;
export const pciRequests = /* @__PURE__ */ schema(() =>
  z._default(z.array(pciRequest).check(z.maxLength(16)), []).check(
    z.refine((rs) => rs.reduce((n, r) => n + r.count, 0) <= MAX_DEVICES_PER_CLAIM, {
      message: `at most ${MAX_DEVICES_PER_CLAIM} devices in one claim`,
    }),
  ),
);

// deleted never consumes; shelved_offloaded may, while it is being unshelved (rule M9).
const claimableStates = /* @__PURE__ */ schema(
  () => VM_STATES.filter((s) => s !== 'deleted') as [VmState, ...VmState[]],
);

/** A claim's fields; the placement schemas (schemas-placement.ts) build on them. */
export const claimFields = /* @__PURE__ */ schema(() => ({
  instanceUuid: instanceUuidSchema,
  flavor,
  volumeBacked: z._default(z.boolean(), false),
  overhead: z._default(overhead, { memoryMb: 0, diskGb: 0, vcpus: 0 }),
  limits,
  pciRequests,
  projectId: z._default(z.nullable(label), null),
  osType: z._default(z.nullable(label), null),
  // A claim starts tracking an instance; one that is deleted or offloaded consumes nothing (rule M9).
  vmState: z._default(z.enum(claimableStates, { message: `must be one of ${claimableStates.join(', ')}` }), 'building'),
  taskState: z._default(z.nullable(taskState), 'scheduling'),
  image: imageSchema,
  numaTopology: guestTopologySchema,
  serverGroup: z.optional(groupIdSchema),
}));

/** Refused in every claim body: a state that consumes nothing cannot start tracking. */
export const claimRefinement = {
  check: (b: Pick<InstanceState, 'vmState' | 'taskState'>) => !consumesNothing(b),
  message: 'shelved_offloaded consumes nothing unless it is being unshelved: taskState must be spawning or unshelving',
  path: ['vmState'],
};

export const claimSchema = /* @__PURE__ */ schema(() =>
  z
    .strictObject(claimFields)
    .check(
      z.refine(oneNumaForm.check, { message: oneNumaForm.message, path: ['numaTopology'] }),
      z.refine(claimRefinement.check, { message: claimRefinement.message, path: claimRefinement.path }),
    ),
);

export const stateChangeSchema = /* @__PURE__ */ schema(() =>
  z
    .strictObject({
      vmState: z.optional(z.enum(VM_STATES, { message: `must be one of ${VM_STATES.join(', ')}` })),
      taskState: z.optional(z.nullable(taskState)),
      projectId: z.optional(z.nullable(label)),
      osType: z.optional(z.nullable(label)),
    })
    .check(
      z.refine((b) => Object.keys(b).length > 0, {
        message: 'give at least one of vmState, taskState, projectId, osType',
      }),
    ),
);

export const migrationIdSchema = /* @__PURE__ */ schema(() =>
  z
    .string()
    .check(
      z.regex(
        /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
        'must be 1 to 128 letters, digits or . _ : -, starting with a letter or digit',
      ),
    ),
);

export type InventoryBody = z.infer<typeof inventorySchema>;
export type PutNodeBody = z.infer<typeof putNodeSchema>;
export type ClaimBody = z.infer<typeof claimSchema>;
export type StateChangeBody = z.infer<typeof stateChangeSchema>;

// The orphans are kept on the node item (docs/audit.md, M10), which every claim rewrites: a bound keeps it small.
export const MAX_ORPHANS = 1000;

export const auditSchema = /* @__PURE__ */ schema(() =>
  z.strictObject({
    inventory: z.optional(inventorySchema),
    instances: z.optional(z.array(instanceUuidSchema).check(z.maxLength(10_000))),
    // The migrations the agent still has in progress on the node (rule L6); without it no hold is found stale.
    migrations: z.optional(z.array(migrationIdSchema).check(z.maxLength(10_000))),
    orphans: z.optional(
      z.array(z.strictObject({ instanceUuid: instanceUuidSchema, memoryMb: count })).check(z.maxLength(MAX_ORPHANS)),
    ),
  }),
);
