// The three scalar resources a claim takes, in Nova's reporting order (memory, disk, vcpu; rule C7).
export interface Amounts {
  memoryMb: number;
  diskGb: number;
  vcpus: number;
}

export const RESOURCES = ['memoryMb', 'diskGb', 'vcpus'] as const;
export type Resource = (typeof RESOURCES)[number];

export const ZERO: Amounts = { memoryMb: 0, diskGb: 0, vcpus: 0 };

export function scale(a: Amounts, sign: number): Amounts {
  return { memoryMb: sign * a.memoryMb, diskGb: sign * a.diskGb, vcpus: sign * a.vcpus };
}

export function add(a: Amounts, b: Amounts): Amounts {
  return { memoryMb: a.memoryMb + b.memoryMb, diskGb: a.diskGb + b.diskGb, vcpus: a.vcpus + b.vcpus };
}
