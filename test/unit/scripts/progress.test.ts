import { progressLine } from '../../../scripts/progress';

test('a progress line tells how far, how fast and how long still', () => {
  expect(progressLine('soak', 2500, 10000, 10)).toBe('soak: 2500/10000 (25%, 250/s, ETA 30s)');
  expect(progressLine('bench', 100, 100_000, 1)).toBe('bench: 100/100000 (0%, 100/s, ETA 16m39s)');
  expect(progressLine('bench', 10, 1_000_000, 1)).toBe('bench: 10/1000000 (0%, 10/s, ETA 27h46m)');
});

test('before anything is done the ETA is unknown', () => {
  expect(progressLine('soak', 0, 10, 0)).toBe('soak: 0/10 (0%, 0/s, ETA ?)');
});
