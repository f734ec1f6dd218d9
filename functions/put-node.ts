import { httpHandler, json, parse, parseBody, pathParam } from '../lib/api/http';
import { nodeIdSchema, putNodeSchema } from '../lib/api/schemas';
import { runtime } from '../lib/api/runtime';
import { nodeView } from '../lib/domain';
import { OPERATIONS } from '../lib/operations';
import { putNode } from '../lib/store';

export const handler = httpHandler(OPERATIONS.putNode, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const { pciDevices, numaTopology, traits, aggregates, ...inventory } = parseBody(putNodeSchema, event);
  // Left out, the node reports no topology: cells that hold nothing go (rule NS2).
  const numa = numaTopology?.cells ?? [];
  const labels = { traits, aggregates };
  const { created, node } = await putNode(runtime().store, nodeId, inventory, pciDevices, { labels, numa });
  return json(created ? 201 : 200, nodeView(node));
});
