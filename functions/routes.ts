// Moved to lib/operations.ts; this re-export is left for the local runner and goes once nothing imports it.
export { lambdaEntries, ROUTES, type Access, type Route, type TableAction } from '../lib/operations';
