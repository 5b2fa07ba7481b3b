export * from './credits';
export * from './errors';
export * from './rates';
