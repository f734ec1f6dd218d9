// The NUMA fields of requests (docs/numa.md, rules H1, R3): a node's topology, a claim's guest request and its limits.
import * as z from 'zod/mini';
import { schema, wholeNumber } from './zod';

// Bounds far above real hosts (Linux builds for at most 1,024 NUMA nodes and 8,192 CPUs), low enough that a
// topology fits in one cell item per cell and a claim's cell writes in one transaction.
export const MAX_CELLS = 64;
export const MAX_CPU_ID = 8191;
const MAX_CELL_CPUS = 1024;
const MAX_MEMORY_MB = 1_000_000_000;

const cpuId = /* @__PURE__ */ schema(() => wholeNumber(0, MAX_CPU_ID));
const cpuSet = /* @__PURE__ */ schema(() =>
  z.array(cpuId).check(
    z.maxLength(MAX_CELL_CPUS),
    z.refine((ids) => new Set(ids).size === ids.length, { message: 'CPU ids must not repeat' }),
  ),
);
const memoryMb = /* @__PURE__ */ schema(() => wholeNumber(0, MAX_MEMORY_MB));
// 4 KiB to 16 GiB, powers of two: the page sizes hardware has.
const pageSizeKb = /* @__PURE__ */ schema(() =>
  wholeNumber(4, 16 * 1024 * 1024).check(
    z.refine((n) => (n & (n - 1)) === 0, { message: 'must be a power of two (KiB)' }),
  ),
);
const pages = /* @__PURE__ */ schema(() => wholeNumber(0, 1_000_000_000_000));

const mempage = /* @__PURE__ */ schema(() =>
  z
    .strictObject({ sizeKb: pageSizeKb, total: pages, reserved: z._default(pages, 0) })
    .check(z.refine((p) => p.reserved <= p.total, { message: 'reserved must not exceed total', path: ['reserved'] })),
);

const hostCell = /* @__PURE__ */ schema(() =>
  z
    .strictObject({
      id: wholeNumber(0, 1023),
      cpuset: cpuSet,
      pcpuset: cpuSet,
      memoryMb,
      siblings: z._default(z.array(cpuSet.check(z.minLength(1))).check(z.maxLength(MAX_CELL_CPUS)), []),
      mempages: z._default(z.array(mempage).check(z.maxLength(8)), []).check(
        z.refine((ps) => new Set(ps.map((p) => p.sizeKb)).size === ps.length, {
          message: 'page sizes must not repeat',
        }),
      ),
    })
    .check(
      z.superRefine((cell, ctx) => {
        const cpus = new Set([...cell.cpuset, ...cell.pcpuset]);
        const outside = cell.siblings.flat().filter((c) => !cpus.has(c));
        if (outside.length) {
          ctx.addIssue({
            code: 'custom',
            path: ['siblings'],
            message: `siblings name CPUs ${outside.join(', ')} that are in neither cpuset nor pcpuset`,
          });
        }
        const seen = new Set<number>();
        const twice = cell.siblings.flat().filter((c) => seen.size === seen.add(c).size);
        if (twice.length) {
          ctx.addIssue({ code: 'custom', path: ['siblings'], message: `CPU ${twice[0]} is in two sibling sets` });
        }
      }),
    ),
);

export const numaTopologySchema = /* @__PURE__ */ schema(() =>
  z.strictObject({ cells: z.array(hostCell).check(z.minLength(1), z.maxLength(MAX_CELLS)) }).check(
    z.superRefine((t, ctx) => {
      const ids = t.cells.map((c) => c.id);
      if (new Set(ids).size !== ids.length)
        ctx.addIssue({ code: 'custom', path: ['cells'], message: 'cell ids must be unique' });
      const owner = new Map<number, number>();
      for (const c of t.cells) {
        for (const cpu of new Set([...c.cpuset, ...c.pcpuset])) {
          const other = owner.get(cpu);
          if (other !== undefined) {
            ctx.addIssue({ code: 'custom', path: ['cells'], message: `CPU ${cpu} is in cells ${other} and ${c.id}` });
            return;
          }
          owner.set(cpu, c.id);
        }
      }
    }),
  ),
);

// Nova's hw: keys and image properties: short strings; their meaning is checked where the request is built.
const properties = /* @__PURE__ */ schema(() =>
  z.record(z.string().check(z.minLength(1), z.maxLength(255)), z.string().check(z.maxLength(255))).check(
    z.refine((p) => Object.keys(p).length <= 64, {
      message: 'at most 64 properties',
    }),
  ),
);
export const extraSpecsSchema = /* @__PURE__ */ schema(() => z.optional(properties));
export const imageSchema = /* @__PURE__ */ schema(() =>
  z.optional(z.strictObject({ properties: z._default(properties, {}) })),
);

const guestCpus = /* @__PURE__ */ schema(() =>
  z.array(wholeNumber(0, MAX_CPU_ID)).check(
    z.maxLength(MAX_CELL_CPUS),
    z.refine((ids) => new Set(ids).size === ids.length, { message: 'CPU ids must not repeat' }),
  ),
);

const guestCell = /* @__PURE__ */ schema(() =>
  z.strictObject({
    id: wholeNumber(0, MAX_CELLS - 1),
    cpuset: guestCpus,
    pcpuset: z._default(guestCpus, []),
    memoryMb,
    pagesizeKb: z.optional(z.union([pageSizeKb, z.enum(['small', 'large', 'any'])])),
    cpuPolicy: z.optional(z.enum(['shared', 'dedicated', 'mixed'])),
    cpuThreadPolicy: z.optional(z.enum(['prefer', 'isolate', 'require'])),
  }),
);

export const guestTopologySchema = /* @__PURE__ */ schema(() =>
  z.optional(
    z.strictObject({
      cells: z.array(guestCell).check(z.minLength(1), z.maxLength(MAX_CELLS)),
      emulatorThreadsPolicy: z.optional(z.enum(['share', 'isolate'])),
    }),
  ),
);

// The same bounds as the node's ratios.
const ratio = /* @__PURE__ */ schema(() => z.number().check(z.gte(0.001), z.lte(1000)));
export const numaLimitsSchema = /* @__PURE__ */ schema(() =>
  z.optional(z.nullable(z.strictObject({ cpuAllocationRatio: ratio, ramAllocationRatio: ratio }))),
);

/** A claim carries its guest's NUMA request in one form only. */
export const oneNumaForm = {
  check: (b: { flavor?: { extraSpecs?: object }; image?: object; numaTopology?: object }) =>
    b.numaTopology === undefined || (b.flavor?.extraSpecs === undefined && b.image === undefined),
  message: 'give the NUMA request either as numaTopology or as flavor.extraSpecs and image.properties, not both',
};
