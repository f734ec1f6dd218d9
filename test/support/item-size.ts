// DynamoDB's item-size rules and the capacity units they give, for marshalled items (`{ S: 'x' }`, as the SDK
// sends them). Pure: the bench's unit meter and the tests share it. AWS bills by these sizes, not by what
// DynamoDB Local reports (Local's ConsumedCapacity ignores item size).
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type MarshalledItem = Record<string, AttributeValue>;

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/** A number's size: 1 byte per two significant digits (leading and trailing zeros trimmed), plus 1. */
export function numberSize(text: string): number {
  const digits = text.replace(/^[-+]/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(digits.length / 2) + 1;
}

const base64Bytes = (b: Uint8Array | string) => (typeof b === 'string' ? Buffer.from(b, 'base64').length : b.length);

/** The size of one value, its name not included. */
export function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return utf8(v.S);
  if (v.N !== undefined) return numberSize(v.N);
  if (v.B !== undefined) return base64Bytes(v.B);
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS !== undefined) return v.SS.reduce((n, s) => n + utf8(s), 0);
  if (v.NS !== undefined) return v.NS.reduce((n, s) => n + numberSize(s), 0);
  if (v.BS !== undefined) return v.BS.reduce((n, b) => n + base64Bytes(b), 0);
  // A list or a map costs 3 bytes, and each element 1 more.
  if (v.L !== undefined) return 3 + v.L.reduce((n, e) => n + valueSize(e) + 1, 0);
  if (v.M !== undefined) return 3 + Object.entries(v.M).reduce((n, [k, e]) => n + utf8(k) + valueSize(e) + 1, 0);
  throw new Error(`no size rule for ${JSON.stringify(v)}`);
}

/** An item's size in bytes: every attribute's name plus its value. */
export function itemSize(item: MarshalledItem | undefined): number {
  if (!item) return 0;
  return Object.entries(item).reduce((n, [name, v]) => n + utf8(name) + valueSize(v), 0);
}

/** Write units of one item written: 1 per started KB (of the larger image), twice that in a transaction, at least 1. */
export function writeUnits(bytes: number, transactional: boolean): number {
  return Math.max(1, Math.ceil(bytes / 1024)) * (transactional ? 2 : 1);
}

export type ReadKind = 'eventual' | 'strong' | 'transactional';

/** Read units of `bytes` read at once: 1 per started 4 KB strongly consistent, half that eventually, twice in a transaction. */
export function readUnits(bytes: number, kind: ReadKind): number {
  const blocks = Math.max(1, Math.ceil(bytes / 4096));
  return kind === 'eventual' ? blocks / 2 : kind === 'strong' ? blocks : 2 * blocks;
}
