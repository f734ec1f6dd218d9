import { httpHandler, json, parse, parseBody, pathParam } from '../lib/api/http';
import { inventorySchema, nodeIdSchema } from '../lib/api/schemas';
import { runtime } from '../lib/api/runtime';
import { nodeView } from '../lib/domain';
import { OPERATIONS } from '../lib/operations';
import { putNode } from '../lib/store';

export const handler = httpHandler(OPERATIONS.putNode, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const { pciDevices, numaTopology, ...inventory } = parseBody(inventorySchema, event);
  // Left out, the node reports no topology: cells that hold nothing go (rule NS2).
  const numa = numaTopology?.cells ?? [];
  const { created, node } = await putNode(runtime().store, nodeId, inventory, pciDevices, { numa });
  return json(created ? 201 : 200, nodeView(node));
});
