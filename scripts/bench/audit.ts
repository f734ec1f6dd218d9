// The audit: how its cost grows with the number of instances a node holds.
import { randomUUID } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { checkAndDrop } from './checks';
import { openTable } from './counting';
import { auditHandler, claimEvent, claimHandler, httpEvent, invoke } from './handlers';
import { registerNodes } from './loads';
import { drive, measure, type Measured } from './measure';
import { ROOMY_NODE } from './settings';
import { nodeKey } from './store';

export interface AuditFigures {
  instances: number;
  /** An audit that finds nothing to repair: the read alone. */
  clean: Measured;
  /** An audit after the node item was corrupted on purpose: the read and the conditional write. */
  repair: Measured;
  repairedOk: boolean;
}

export async function auditRuns(sizes: number[]): Promise<AuditFigures[]> {
  const out: AuditFigures[] = [];
  for (const n of sizes) {
    const store = await openTable(`audit-${n}`);
    const nodeId = `audit-node-${n}`;
    await registerNodes([nodeId], ROOMY_NODE);
    const { statuses } = await drive(`audit: ${n} claims`, n, 16, () => invoke(claimHandler, 'claim-instance', claimEvent(nodeId, randomUUID(), true)));
    if (statuses['201'] !== n) throw new Error(`audit set-up answered ${JSON.stringify(statuses)}`);
    const audit = () => invoke(auditHandler, 'audit-node', httpEvent('POST', '/nodes/{nodeId}/audit', { nodeId }, {}));
    const clean = await measure(`audit, ${n} instances, nothing to repair`, 1, store.tableName, 5, 1, audit);
    await store.doc.send(new UpdateCommand({
      TableName: store.tableName, Key: nodeKey(nodeId),
      UpdateExpression: 'SET vcpusUsed = :v', ExpressionAttributeValues: { ':v': -1 },
    }));
    const repair = await measure(`audit, ${n} instances, repairing`, 1, store.tableName, 1, 1, audit);
    const check = await checkAndDrop(store, [nodeId], { records: n });
    out.push({ instances: n, clean, repair, repairedOk: check.ok });
  }
  return out;
}
