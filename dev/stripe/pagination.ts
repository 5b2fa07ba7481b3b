import { invalidRequest } from './errors';
import type { ListPage } from './objects';

/** Stripe's cursor pagination over a newest-first list. */
export function paginate<T extends { id: string }>(
  items: T[],
  params: { limit: number; starting_after?: string; ending_before?: string },
  url: string,
): ListPage<T> {
  if (params.starting_after !== undefined) {
    const index = items.findIndex((item) => item.id === params.starting_after);
    if (index === -1) throw invalidRequest(`No such object: '${params.starting_after}'`, 'starting_after');
    const rest = items.slice(index + 1);
    return { object: 'list', url, has_more: rest.length > params.limit, data: rest.slice(0, params.limit) };
  }
  if (params.ending_before !== undefined) {
    const index = items.findIndex((item) => item.id === params.ending_before);
    if (index === -1) throw invalidRequest(`No such object: '${params.ending_before}'`, 'ending_before');
    const before = items.slice(0, index);
    const start = Math.max(0, before.length - params.limit);
    return { object: 'list', url, has_more: start > 0, data: before.slice(start) };
  }
  return { object: 'list', url, has_more: items.length > params.limit, data: items.slice(0, params.limit) };
}
