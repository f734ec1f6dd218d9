export * from './resources';
export * from './inventory';
export * from './usage';
export * from './claim-test';
export * from './stats';
export * from './claim';
export * from './node-view';
export * from './migration';
