export * from './credits';
export * from './errors';
export * from './money';
export * from './planning';
export * from './pricing';
export * from './projects';
export * from './rates';
