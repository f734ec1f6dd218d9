// The store's DynamoDB client: the SDK's own request log is left out (its filter walks every input and output),
// the time budget kept, and the document client shares the one stack.
import { createStore } from '../../../lib/store';

test('the client has no SDK logger middleware, and keeps the time budget for the document client too', () => {
  const store = createStore({ tableName: 't', endpoint: 'http://127.0.0.1:1' });
  const names = store.client.middlewareStack.identify();
  expect(names.some((n) => n.startsWith('loggerMiddleware'))).toBe(false);
  expect(names.some((n) => n.startsWith('timeBudget'))).toBe(true);
  expect(store.doc.middlewareStack.identify()).toEqual(names);
});
