import { httpHandler, json, parse, parseBody, pathParam, prefersMinimal } from '../lib/api/http';
import { logger } from '../lib/api/logger';
import { count } from '../lib/api/metrics';
import { claimSchema, nodeIdSchema } from '../lib/api/schemas';
import { claimView } from '../lib/api/views';
import { OPERATIONS } from '../lib/operations';
import { runtime } from '../lib/api/runtime';
import { claimInstance, getNode, groupExtra } from '../lib/store';

export const handler = httpHandler(OPERATIONS.claimInstance, async (event) => {
  const nodeId = parse(nodeIdSchema, pathParam(event, 'nodeId'), 'nodeId');
  const request = parseBody(claimSchema, event);
  const store = runtime().store;
  logger.appendKeys({ instanceUuid: request.instanceUuid });
  // A member of a server group is admitted by the claim's own transaction (rule G8).
  const group = request.serverGroup === undefined ? undefined : groupExtra(store, request.serverGroup);
  const { created, record } = await claimInstance(store, nodeId, request, group);
  if (created) count('Claims');
  // The claim itself is one write; the node view costs a read after it, which `Prefer: return=minimal` skips.
  const node = prefersMinimal(event) ? undefined : await getNode(store, nodeId);
  return json(created ? 201 : 200, claimView(record, node));
});
