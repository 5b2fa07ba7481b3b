/**
 * The largest JSON body the API reads, in bytes: the Express routes' parser (api/json-body.ts),
 * the usage fast path (api/usage-fast-path.ts) and the 413 that names it (api/errors.ts).
 */
export const MAX_JSON_BODY_BYTES = 100 * 1024;

/** How the 413 says it. */
export const MAX_JSON_BODY_TEXT = `${MAX_JSON_BODY_BYTES / 1024}kb`;
