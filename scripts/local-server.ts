// Moved to local/ (server.ts, events.ts); kept so that code not yet switched to the new paths
// (test/integration, test/model) still builds. Import from local/ instead.
export { lambdaContext } from '../local/events';
export { createLocalServer, HttpFailure, invoke, MAX_BODY_BYTES, type LocalRequest, type LocalServer, type LocalServerOptions } from '../local/server';
