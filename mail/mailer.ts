import nodemailer from 'nodemailer';
import { type MailMessage, markMailSent, recordMail } from '../db/outbox';
import type { Sql } from '../db/pool';

export interface Mailer {
  readonly transport: 'outbox' | 'smtp';
  /** Sends once per dedupe key; a repeated call (a retried activity, a replay) sends nothing. */
  send(message: MailMessage): Promise<{ sent: boolean }>;
}

const FROM = 'Credits <billing@credits.local>';

/**
 * Every message is recorded in the outbox table first (that is the idempotency); with SMTP_URL
 * it is then sent through nodemailer, otherwise the outbox is where people read it.
 * Recording before sending means a crash in between loses the email, never doubles it; the
 * outbox row without `sent_at` shows which ones to resend.
 */
export function createMailer(sql: Sql, smtpUrl: string | undefined): Mailer {
  if (!smtpUrl) {
    return {
      transport: 'outbox',
      send: async (message) => ({ sent: await recordMail(sql, message, 'outbox') }),
    };
  }
  const smtp = nodemailer.createTransport(smtpUrl);
  return {
    transport: 'smtp',
    async send(message) {
      if (!(await recordMail(sql, message, 'smtp'))) return { sent: false };
      await smtp.sendMail({
        from: FROM,
        to: message.recipient,
        subject: message.subject,
        text: message.body,
      });
      await markMailSent(sql, message.dedupeKey);
      return { sent: true };
    },
  };
}
