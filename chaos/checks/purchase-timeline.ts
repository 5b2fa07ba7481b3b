import { Client, Connection } from '@temporalio/client';
import type { Sql } from '../../db/pool';
import type { StripeStandIn } from '../../dev/stripe';
import { workflowIds } from '../../workflows/messages';

const time = (ms: number) => new Date(ms).toISOString().slice(11, 23);

/** Every checkout.session.completed event of a session: its id and the charge it announces. */
export function announcements(
  standIn: StripeStandIn,
  sessionId: string,
): { eventId: string; paymentIntent: string }[] {
  return standIn.events.flatMap((e) => {
    if (e.type !== 'checkout.session.completed') return [];
    const object = e.data.object as { id?: string; payment_intent?: string | { id: string } | null };
    if (object.id !== sessionId) return [];
    const pi =
      typeof object.payment_intent === 'string' ? object.payment_intent : (object.payment_intent?.id ?? '?');
    return [{ eventId: e.id, paymentIntent: pi }];
  });
}

/**
 * What happened to a purchase charged twice, from the three witnesses: the stand-in (each
 * announcement's delivery attempts), the API (when it stored the event) and Temporal (which
 * payments the purchase workflow was signalled, and when it closed). Read when a check fails.
 */
export async function purchaseTimeline(
  sql: Sql,
  standIn: StripeStandIn,
  temporalAddress: string,
  purchase: { purchaseId: string; sessionId: string },
): Promise<string[]> {
  const lines: string[] = [];
  for (const a of announcements(standIn, purchase.sessionId)) {
    const tries = standIn.deliveries
      .filter((d) => d.eventId === a.eventId)
      .map((d) => `${d.attempt === 0 ? 'dropped' : (d.status ?? d.error)}@${time(d.at)}`);
    const [stored] = await sql<
      { at: Date }[]
    >`SELECT received_at AS at FROM stripe_events WHERE id = ${a.eventId}`;
    lines.push(
      `announcement of ${a.paymentIntent}: deliveries ${tries.join(', ') || 'none'}; stored by the API ${stored ? time(stored.at.getTime()) : 'never'}`,
    );
  }
  const connection = await Connection.connect({ address: temporalAddress });
  try {
    const client = new Client({ connection });
    const history = await client.workflow.getHandle(workflowIds.purchase(purchase.purchaseId)).fetchHistory();
    for (const event of history.events ?? []) {
      const at =
        Number(event.eventTime?.seconds ?? 0) * 1000 + Math.floor((event.eventTime?.nanos ?? 0) / 1e6);
      const signal = event.workflowExecutionSignaledEventAttributes;
      if (signal) lines.push(`workflow signalled ${signal.signalName} @${time(at)}`);
      if (event.workflowExecutionCompletedEventAttributes) lines.push(`workflow completed @${time(at)}`);
    }
  } catch (error) {
    lines.push(`workflow history unavailable: ${String(error)}`);
  } finally {
    await connection.close();
  }
  return lines;
}
