import { httpHandler, json, parse, parseBody, pathParam } from '../lib/api/http';
import { inventorySchema, nodeIdSchema } from '../lib/api/schemas';
import { runtime } from '../lib/api/runtime';
import { nodeView } from '../lib/domain';
import { OPERATIONS } from '../lib/operations';
import { putNode } from '../lib/store';

export const handler = httpHandler(OPERATIONS.putNode, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const { pciDevices, ...inventory } = parseBody(inventorySchema, event);
  const { created, node } = await putNode(runtime().store, nodeId, inventory, pciDevices);
  return json(created ? 201 : 200, nodeView(node));
});
