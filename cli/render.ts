// Plain-text rendering: usage bars in Unicode blocks, aligned tables, numbers, and colour only when asked
// (the caller turns it on for a terminal).

export interface Style {
  color: boolean;
}

const ANSI = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
export type Tone = keyof typeof ANSI;

export function paint(style: Style, tone: Tone | undefined, text: string): string {
  return style.color && tone ? `\x1b[${ANSI[tone]}m${text}\x1b[0m` : text;
}

// eslint-disable-next-line no-control-regex
const visibleLength = (s: string) => [...s.replace(/\x1b\[[0-9;]*m/g, '')].length;

export const fmt = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: 2 }) : '-');

export interface Usage {
  total: number;
  reserved: number;
  used: number;
  limit: number;
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** `cells` characters of width `fraction * cells`, whole blocks then the eighth that rounds the rest. */
function blocks(fraction: number, cells: number): string {
  // Any use at all shows as at least an eighth: a bar that reads empty would say the node is idle.
  const eighths = Math.max(fraction > 0 ? 1 : 0, Math.round(Math.min(Math.max(fraction, 0), 1) * cells * 8));
  const full = Math.floor(eighths / 8);
  return '█'.repeat(full) + (EIGHTHS[eighths % 8] ?? '');
}

/**
 * A bar over the largest of total, limit and used: used in blocks, then free physical room as '░', then
 * the room the allocation ratio adds up to the limit as '·'. Coloured by how much of the limit is used.
 */
export function bar(style: Style, u: Usage, cells = 10): string {
  const scale = Math.max(u.total, u.limit, u.used, 1e-9);
  const used = blocks(Math.max(u.used, 0) / scale, cells);
  const physical = Math.round((Math.max(u.total, 0) / scale) * cells);
  const usedCells = [...used].length;
  const free = '░'.repeat(Math.max(0, physical - usedCells));
  const room = '·'.repeat(Math.max(0, cells - usedCells - free.length));
  const share = u.limit > 0 ? u.used / u.limit : u.used > 0 ? Infinity : 0;
  const tone: Tone = share > 1 || share >= 0.9 ? 'red' : share >= 0.7 ? 'yellow' : 'green';
  return paint(style, tone, used) + free + paint(style, 'dim', room);
}

export interface Column {
  title: string;
  align?: 'left' | 'right';
}

/** Columns padded to their widest cell; the last column is not padded on the right. */
export function table(columns: Column[], rows: string[][], indent = ''): string {
  const widths = columns.map((c, i) => Math.max(visibleLength(c.title), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((cell, i) => {
        const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(cell)));
        if (columns[i]?.align === 'right') return pad + cell;
        return i === cells.length - 1 ? cell : cell + pad;
      })
      .join('  ');
  return [line(columns.map((c) => c.title)), ...rows.map(line)].join('\n');
}
