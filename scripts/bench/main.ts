// npm run bench: claims through the Lambda handlers against bare TransactWriteItems of the same three
// items, on an in-memory DynamoDB Local. The scenarios live in the other modules here (run.ts runs them); the
// environment and the DynamoDB Local process are entry.ts's.
import { benchEntry } from './entry';

// run.ts, and through it the handlers, is imported only once the environment is set.
benchEntry('bench', async (db) => (await import('./run')).runBench({ endpoint: db.endpoint, pid: db.pid }));
