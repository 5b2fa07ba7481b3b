import type { RateCard, RateCardBody } from '../domain';
import { NotFound } from '../domain';
import { rateCardBodySchema } from '../domain/rate-card-schema';
import type { Sql } from './pool';

interface RateCardRow {
  version: number;
  card: unknown;
  note: string | null;
  published_at: Date;
}

export interface PublishedRateCard extends RateCard {
  note: string | null;
  publishedAt: string;
}

function toRateCard(row: RateCardRow): PublishedRateCard {
  // Parsed on the way out too: a hand-edited row must not price anything.
  const body: RateCardBody = rateCardBodySchema.parse(row.card);
  return { version: row.version, ...body, note: row.note, publishedAt: row.published_at.toISOString() };
}

/** How long an API process may keep using the card it read before looking for a newer one. */
const CURRENT_TTL_MS = 1000;

/**
 * Versioned rate cards. A published version never changes, so versions are cached for good;
 * "the current version" is re-read at most once a second, so a card published through any API
 * instance is used everywhere within a second, without a redeploy.
 */
export class RateCards {
  private byVersion = new Map<number, PublishedRateCard>();
  private current: { card: PublishedRateCard; readAt: number } | null = null;
  /** The read of the current version in flight, shared: under load, many requests find it stale at once. */
  private reading: Promise<PublishedRateCard> | null = null;

  constructor(private readonly sql: Sql) {}

  async latest(): Promise<PublishedRateCard> {
    if (this.current && Date.now() - this.current.readAt < CURRENT_TTL_MS) return this.current.card;
    this.reading ??= this.readLatest().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async readLatest(): Promise<PublishedRateCard> {
    const [row] = await this.sql<RateCardRow[]>`
      SELECT version, card, note, published_at FROM rate_cards ORDER BY version DESC LIMIT 1`;
    if (!row) throw new Error('no rate card: run the migrations');
    return this.setCurrent(this.remember(toRateCard(row)));
  }

  async version(version: number): Promise<PublishedRateCard> {
    const cached = this.byVersion.get(version);
    if (cached) return cached;
    const [row] = await this.sql<RateCardRow[]>`
      SELECT version, card, note, published_at FROM rate_cards WHERE version = ${version}`;
    if (!row) throw new NotFound(`rate card version ${version} does not exist`);
    return this.remember(toRateCard(row));
  }

  /** Publishes the next version; concurrent publishers serialise on the table lock. */
  async publish(body: RateCardBody, note: string | null): Promise<PublishedRateCard> {
    const row = await this.sql.begin(async (tx) => {
      await tx`LOCK TABLE rate_cards IN SHARE ROW EXCLUSIVE MODE`;
      const [inserted] = await tx<RateCardRow[]>`
        INSERT INTO rate_cards (version, card, note)
        SELECT coalesce(max(version), 0) + 1, ${tx.json(body as never)}, ${note} FROM rate_cards
        RETURNING version, card, note, published_at`;
      return inserted!;
    });
    return this.setCurrent(this.remember(toRateCard(row)));
  }

  /**
   * Versions only move forward: a read that started before a publish in this process (and so
   * returns the older card) must not replace the newer card the publish just set.
   */
  private setCurrent(card: PublishedRateCard): PublishedRateCard {
    const newest = this.current && this.current.card.version > card.version ? this.current.card : card;
    this.current = { card: newest, readAt: Date.now() };
    return newest;
  }

  private remember(card: PublishedRateCard): PublishedRateCard {
    this.byVersion.set(card.version, card);
    return card;
  }
}
