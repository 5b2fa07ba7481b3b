/** What a use case (app/) takes after its dependencies: the one input its activity wrapper takes. */
export type InputOf<F extends (deps: never, input: never) => unknown> = Parameters<F>[1];
