/** One Server-Sent Event: its `event:` name and its `data:` parsed as JSON. */
export interface StreamEvent {
  event: string;
  data: unknown;
}

export interface EventStream {
  response: Response;
  /** Reads events until one satisfies `wanted`; fails after `timeoutMs` or when the stream ends. */
  until(wanted: (event: StreamEvent) => boolean, timeoutMs?: number): Promise<StreamEvent>;
  /** Every event read so far. */
  seen: StreamEvent[];
  close(): void;
}

/** Opens `url` as an event stream with fetch (Node has no EventSource), for tests that read it. */
export async function openEventStream(url: string, headers: Record<string, string>): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const seen: StreamEvent[] = [];
  let buffer = '';

  async function next(): Promise<StreamEvent | null> {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parse(block);
        if (event) return event;
        continue;
      }
      const chunk = await reader.read();
      if (chunk.done) return null;
      buffer += decoder.decode(chunk.value, { stream: true });
    }
  }

  async function until(wanted: (event: StreamEvent) => boolean, timeoutMs = 20_000): Promise<StreamEvent> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms`)), timeoutMs);
    });
    const search = (async () => {
      for (;;) {
        const event = await next();
        if (!event) throw new Error('the stream ended before a matching event');
        seen.push(event);
        if (wanted(event)) return event;
      }
    })();
    // After a timeout the search may still fail (the stream closed): that is no news.
    search.catch(() => undefined);
    try {
      return await Promise.race([search, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return { response, until, seen, close: () => controller.abort() };
}

/** An event block's fields; null for comments and `retry:` alone. */
function parse(block: string): StreamEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  return data.length ? { event, data: JSON.parse(data.join('\n')) } : null;
}
