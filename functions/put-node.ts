import { httpHandler, json, parse, parseBody, pathParam } from '../lib/api/http';
import { nodeIdSchema, putNodeSchema } from '../lib/api/schemas';
import { runtime } from '../lib/api/runtime';
import { nodeView } from '../lib/domain';
import { OPERATIONS } from '../lib/operations';
import { putNode } from '../lib/store';

export const handler = httpHandler(OPERATIONS.putNode, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const { pciDevices, traits, aggregates, ...inventory } = parseBody(putNodeSchema, event);
  const labels = { traits, aggregates };
  const { created, node } = await putNode(runtime().store, nodeId, inventory, pciDevices, { labels });
  return json(created ? 201 : 200, nodeView(node));
});
