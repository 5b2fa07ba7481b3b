import type { Sql } from './pool';

export interface MailMessage {
  /** The same key never produces a second email (receipts and notices are idempotent). */
  dedupeKey: string;
  userId: string | null;
  kind: 'receipt' | 'low_balance' | string;
  recipient: string;
  subject: string;
  body: string;
}

export interface OutboxEntry {
  id: number;
  kind: string;
  recipient: string;
  subject: string;
  body: string;
  transport: 'outbox' | 'smtp';
  createdAt: string;
  sentAt: string | null;
}

/** Records a message once; false when its dedupe key was recorded before (nothing to send). */
export async function recordMail(
  sql: Sql,
  message: MailMessage,
  transport: 'outbox' | 'smtp',
): Promise<boolean> {
  const rows = await sql`
    INSERT INTO outbox (dedupe_key, user_id, kind, recipient, subject, body, transport)
    VALUES (${message.dedupeKey}, ${message.userId}, ${message.kind}, ${message.recipient},
            ${message.subject}, ${message.body}, ${transport})
    ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`;
  return rows.length === 1;
}

export async function markMailSent(sql: Sql, dedupeKey: string): Promise<void> {
  await sql`UPDATE outbox SET sent_at = now() WHERE dedupe_key = ${dedupeKey}`;
}

export async function listMail(
  sql: Sql,
  userId: string,
  options: { kind?: string | undefined; limit: number },
): Promise<OutboxEntry[]> {
  const rows = await sql<
    {
      id: number;
      kind: string;
      recipient: string;
      subject: string;
      body: string;
      transport: 'outbox' | 'smtp';
      created_at: Date;
      sent_at: Date | null;
    }[]
  >`
    SELECT id, kind, recipient, subject, body, transport, created_at, sent_at FROM outbox
    WHERE user_id = ${userId} ${options.kind ? sql`AND kind = ${options.kind}` : sql``}
    ORDER BY id DESC LIMIT ${options.limit}`;
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    recipient: r.recipient,
    subject: r.subject,
    body: r.body,
    transport: r.transport,
    createdAt: r.created_at.toISOString(),
    sentAt: r.sent_at?.toISOString() ?? null,
  }));
}
