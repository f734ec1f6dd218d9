// Rule NU10: a claim that lost a race for a cell chooses its cores from another start, so that racing claims
// spread over the free cores; without a spread the choice is Nova's (rule F5), and any spread is a valid fit.
import { fitNumaTopology, type HostCell, type NumaRequest } from '../../../lib/domain';

const cell = (pinnedCpus: number[] = []): HostCell => ({
  id: 0,
  cpuset: [0, 4],
  pcpuset: [1, 2, 3, 5, 6, 7],
  memoryMb: 8192,
  siblings: [
    [0, 4],
    [1, 5],
    [2, 6],
    [3, 7],
  ],
  mempages: [{ sizeKb: 4, total: 2097152, reserved: 0 }],
  cpuUsage: 0,
  memoryUsageMb: 0,
  pinnedCpus,
  pagesUsed: {},
});
const ded2: NumaRequest = { cells: [{ id: 0, cpuset: [], pcpuset: [0, 1], memoryMb: 1024 }], cpuPolicy: 'dedicated' };
const pinning = (host: HostCell, spread?: number) =>
  fitNumaTopology({ cells: [host] }, ded2, { limits: null, ...(spread === undefined ? {} : { spread }) })?.cells[0]
    ?.cpuPinning;

test('no spread, or a spread of a whole turn, is Nova’s choice: the first free sibling pair (example E5)', () => {
  expect(pinning(cell())).toEqual({ 0: 1, 1: 5 });
  expect(pinning(cell(), 0)).toEqual({ 0: 1, 1: 5 });
  expect(pinning(cell(), 4)).toEqual({ 0: 1, 1: 5 });
});

test('a spread starts at another core, still on one sibling pair', () => {
  expect(pinning(cell(), 2)).toEqual({ 0: 2, 1: 6 });
  expect(pinning(cell(), 3)).toEqual({ 0: 3, 1: 7 });
});

test('whatever the spread, the pins are free dedicated CPUs, each once', () => {
  const host = cell([1, 5, 3]);
  for (let spread = 0; spread < 64; spread++) {
    const pins = Object.values(pinning(host, spread) ?? {});
    expect(pins).toHaveLength(2);
    expect(new Set(pins).size).toBe(2);
    for (const p of pins) expect([2, 6, 7]).toContain(p);
  }
});
