import { unmarshall } from '@aws-sdk/util-dynamodb';

/**
 * Items inside errors (ConditionalCheckFailed's ALL_OLD) are not translated by the document client,
 * so they arrive as raw attribute values.
 */
export function plain(item: Record<string, unknown>): Record<string, unknown> {
  const raw = Object.values(item).every(
    (v) =>
      v !== null &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      Object.keys(v as object).length === 1 &&
      /^(S|N|B|SS|NS|BS|M|L|NULL|BOOL)$/.test(Object.keys(v as object)[0] ?? ''),
  );
  return raw ? unmarshall(item as never) : item;
}
