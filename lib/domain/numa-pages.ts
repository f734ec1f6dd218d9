// Memory and page pools of one host cell for one guest cell (rule F4a, with NU2 and NU3). Pure.
import type { HostCell, PageSizeRequest } from './numa-types';
import { smallestPageKb } from './numa-usage';

/** Pages of one size not used nor reserved (rule H3); a size the cell lacks has none. */
export function freePages(cell: Pick<HostCell, 'mempages' | 'pagesUsed'>, sizeKb: number): number {
  const pool = cell.mempages.find((p) => p.sizeKb === sizeKb);
  return pool ? pool.total - (cell.pagesUsed[String(sizeKb)] ?? 0) - pool.reserved : 0;
}

/** The pages of `sizeKb` that `memoryMb` takes, or null when the size does not divide it. */
export function pagesFor(memoryMb: number, sizeKb: number): number | null {
  const kib = memoryMb * 1024;
  return kib % sizeKb === 0 ? kib / sizeKb : null;
}

/** Whether the memory fits whole pages of the size, counting free pages (useFree) or all of them. */
function fitsPages(cell: HostCell, memoryMb: number, sizeKb: number, useFree: boolean): boolean {
  const pool = cell.mempages.find((p) => p.sizeKb === sizeKb);
  const pages = pagesFor(memoryMb, sizeKb);
  if (!pool || pages === null) return false;
  return pages <= (useFree ? freePages(cell, sizeKb) : pool.total);
}

/**
 * The page size chosen for a guest cell's requested size on this host cell, or null if none fits: `small`
 * the smallest size, `large` every size but the smallest and `any` every size, largest first, a number
 * only itself. Chosen here, per pair, and never written back into the request (rule NU2).
 */
export function choosePageSize(cell: HostCell, memoryMb: number, request: PageSizeRequest): number | null {
  const sizes = cell.mempages.map((p) => p.sizeKb).sort((a, b) => b - a);
  const candidates =
    request === 'small'
      ? sizes.slice(-1)
      : request === 'large'
        ? sizes.slice(0, -1)
        : request === 'any'
          ? sizes
          : sizes.filter((s) => s === request);
  return candidates.find((s) => fitsPages(cell, memoryMb, s, true)) ?? null;
}

/**
 * Rule F4a. The page size the guest cell takes on this host cell (null: none asked, its memory goes to
 * the smallest size), or `false` when its memory does not fit. A pinned cell without a requested size
 * needs free pages of the smallest size (rule NU3: Nova counts all pages, used or not, and lets a pinned
 * guest overcommit them); a shared one may overcommit them, as in Nova.
 */
export function memoryFit(
  cell: HostCell,
  memoryMb: number,
  request: PageSizeRequest | undefined,
  pinned: boolean,
): number | null | false {
  if (request !== undefined) return choosePageSize(cell, memoryMb, request) ?? false;
  const smallest = smallestPageKb(cell);
  if (smallest === null) return memoryMb <= cell.memoryMb ? null : false;
  return fitsPages(cell, memoryMb, smallest, pinned) ? null : false;
}
