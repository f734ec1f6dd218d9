// The fleet summary's repair (rule G12), every few minutes on a schedule: seeds the summary after a deployment
// (a stream shows only changes) and puts right whatever the stream's consumer could not fold (its failure queue),
// writing only the entries that differ from the node items. Until its first run has written the marker, the
// candidates read every node instead.
import { logger } from '../lib/api/logger';
import { count } from '../lib/api/metrics';
import { observed } from '../lib/api/observed';
import { runtime } from '../lib/api/runtime';
import { rebuildSummary } from '../lib/store';

export async function repair(): Promise<{ writes: number }> {
  const writes = await rebuildSummary(runtime().store);
  count('FleetSummaryRepairs', writes - 1);
  logger.info('fleet summary repaired', { writes });
  return { writes };
}

export const handler = observed<unknown, { writes: number }>(() => repair());
