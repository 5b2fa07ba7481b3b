import { connect } from 'node:net';

/**
 * What the hostile-input tests send (test/api/hostile-input.test.ts, test/executor/
 * hostile-callbacks.test.ts, test/api/project-events.test.ts) and how they judge the answer.
 */

/** Strings Postgres cannot store, or that name nothing. */
export const BAD_TEXT: Record<string, string> = {
  NUL: 'a\u0000b',
  'a C0 control character (BEL)': 'a\u0007b',
  'an escape character': '\u001b[31mred',
  DEL: 'a\u007fb',
  'a C1 control character': 'a\u0085b',
  'a lone high surrogate': 'a\ud800b',
  'a lone low surrogate': '\udc00',
  'only spaces': '   ',
  'only a tab and a line break': '\t\n',
  'only no-break spaces': '\u00a0\u00a0',
  'only a zero-width space': '\u200b',
};

/** Names on Object.prototype: a plain-object lookup by any of them finds something. */
export const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  '__defineGetter__',
];

export type ErrorBody = { error: { code: string; message: string } };

/** The `code` of an error answer's body; undefined for any other body. */
export function errorCode(body: unknown): string | undefined {
  return (body as Partial<ErrorBody> | null)?.error?.code;
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The API's error shape with `status` and `code`, its message starting with `field` when one is named. */
export function expectError(
  res: { status: number; body: unknown },
  status: number,
  code: string,
  field?: string,
): void {
  const message = field ? expect.stringMatching(new RegExp(`^${escapeRegExp(field)}: `)) : expect.any(String);
  expect({ status: res.status, body: res.body }).toEqual({ status, body: { error: { code, message } } });
}

/** A 400 whose message starts with the field's name, in the API's error shape. */
export function expectRefused(res: { status: number; body: unknown }, field: string): void {
  expectError(res, 400, 'validation_error', field);
}

export interface RawAnswer {
  /** 0 when the server closed the connection without an answer. */
  status: number;
  /** The header block, lower-cased names as sent. */
  head: string;
  body: string;
}

/**
 * Sends one request on its own connection, written byte for byte (latin1): headers fetch refuses
 * to send (NUL, control characters, a body without a Content-Type). `Host`, `Content-Length`
 * (with a body) and `Connection: close` are added. A server that answers before it has read the
 * whole body (413) and then resets the connection still yields its answer; status 0 means the
 * connection closed without one.
 */
export function rawRequest(
  baseUrl: string,
  request: { method: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<RawAnswer> {
  const url = new URL(baseUrl);
  const body = typeof request.body === 'string' ? Buffer.from(request.body, 'latin1') : request.body;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    const done = () => {
      const end = received.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
      resolve({ status, head: received.slice(0, Math.max(0, end)), body: received.slice(end + 4) });
    };
    socket.on('error', (error) => (received ? done() : reject(error)));
    socket.on('close', done);
    const lines = [
      `${request.method} ${request.path} HTTP/1.1`,
      `Host: ${url.host}`,
      // Unless the caller frames the body itself (a length that claims more than is sent, chunks).
      ...(body &&
      !Object.keys(request.headers ?? {}).some((h) => /^(content-length|transfer-encoding)$/i.test(h))
        ? [`Content-Length: ${body.length}`]
        : []),
      'Connection: close',
      ...Object.entries(request.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
    ];
    // Written, not ended: a client that half-closes its side has its answer dropped by Node's
    // server (no allowHalfOpen) when the answer takes a moment. The server closes the connection
    // after answering (Connection: close); a server that does not answer within 15 s is cut off.
    socket.setTimeout(15_000, () => socket.destroy());
    socket.write(
      Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body ?? Buffer.alloc(0)]),
    );
  });
}
