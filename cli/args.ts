// The command line as words and options. Options may come anywhere (`nodes --json`, `--json nodes`);
// `--name value` and `--name=value` are the same; `--` ends the options.

export class UsageError extends Error {}

const VALUE_OPTIONS = new Set([
  'endpoint',
  'region',
  'file',
  'flavor',
  'uuid',
  'project',
  'os-type',
  'state',
  'instance',
  'from',
  'type',
  'id',
  'sequence',
  'port',
  'numa',
  'group',
  'required',
  'forbidden',
  'member-of',
  'strategy',
  'limit',
  'policy',
  'max-per-host',
]);
// Options that may be given more than once, each value kept in order.
const LIST_OPTIONS = new Set(['hw']);
const FLAG_OPTIONS = new Set(['json', 'help', 'no-color', 'minimal', 'volume-backed']);
const SHORT: Record<string, string> = { h: 'help', f: 'file', e: 'endpoint' };

export interface Args {
  words: string[];
  options: Map<string, string>;
  lists: Map<string, string[]>;
  flags: Set<string>;
}

export function parseArgs(argv: string[]): Args {
  const words: string[] = [];
  const options = new Map<string, string>();
  const lists = new Map<string, string[]>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      words.push(...argv.slice(i + 1));
      break;
    }
    const long = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
    const short = /^-([a-z])$/.exec(arg);
    if (!long && !short) {
      if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
      words.push(arg);
      continue;
    }
    const name = long ? (long[1] ?? '') : (SHORT[short?.[1] ?? ''] ?? '');
    const inline = long?.[2];
    if (FLAG_OPTIONS.has(name)) {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      flags.add(name);
    } else if (VALUE_OPTIONS.has(name) || LIST_OPTIONS.has(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      if (LIST_OPTIONS.has(name)) lists.set(name, [...(lists.get(name) ?? []), value]);
      else options.set(name, value);
    } else {
      throw new UsageError(`unknown option ${arg}`);
    }
  }
  return { words, options, lists, flags };
}

/** vcpus:memoryMb:rootGb[:ephemeralGb[:swapMb]], e.g. 2:2048:20. */
export function parseFlavor(text: string) {
  const parts = text.split(':');
  const numbers = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (parts.length < 3 || parts.length > 5 || numbers.some((n) => !Number.isSafeInteger(n))) {
    throw new UsageError(
      `--flavor ${text}: give VCPUS:MEMORY_MB:ROOT_GB[:EPHEMERAL_GB[:SWAP_MB]] as whole numbers, e.g. 2:2048:20`,
    );
  }
  const [vcpus = 0, memoryMb = 0, rootGb = 0, ephemeralGb = 0, swapMb = 0] = numbers;
  return { vcpus, memoryMb, rootGb, ephemeralGb, swapMb };
}

export function required(args: Args, name: string, what: string): string {
  const value = args.options.get(name);
  if (value === undefined) throw new UsageError(`give --${name} ${what}`);
  return value;
}

/** The positional words after the command, exactly `names.length` of them. */
export function positionals(words: string[], names: string[], usage: string): string[] {
  if (words.length !== names.length) throw new UsageError(`usage: capacity-tracker ${usage}`);
  return words;
}
