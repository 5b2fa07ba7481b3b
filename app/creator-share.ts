/**
 * The agent creator's share of a charge (DESIGN.md §11): every charge attributed to an agent
 * pays its creator `creatorShareBp` of the charge (rounded down) into their earned bucket, in the
 * same ledger operation as the charge; using your own agent earns nothing. Usage charges and
 * project task settlements both ask here, so the rule is written once.
 */
import { agentCreator } from '../db/agents';
import type { Share } from '../db/ledger';
import type { Sql } from '../db/pool';
import type { RateCards } from '../db/rate-cards';
import type { EarningSettings } from './earning-settings';

export interface CreatorShareDeps {
  sql: Sql;
  rateCards: RateCards;
  earning: EarningSettings;
}

/** Agents never change creator, so who created one is remembered (bounded: the oldest go first). */
const CREATORS_REMEMBERED = 10_000;
const creators = new Map<string, string>();

async function creatorOf(sql: Sql, agentId: string): Promise<string | null> {
  const known = creators.get(agentId);
  if (known) return known;
  // An id that names no published agent is charged without a share (usage may name agents of
  // other runtimes); it is not remembered, so an agent published later earns from then on.
  const creator = await agentCreator(sql, agentId);
  if (creator) {
    if (creators.size >= CREATORS_REMEMBERED) creators.delete(creators.keys().next().value!);
    creators.set(agentId, creator);
  }
  return creator;
}

/** The share `charged` credits pay their agent's creator, or undefined when they pay none. */
export async function creatorShareFor(
  deps: CreatorShareDeps,
  input: {
    payerId: string;
    agentId: string | undefined;
    charged: number;
    rateCardVersion?: number | undefined;
  },
): Promise<Share | undefined> {
  if (!input.agentId) return undefined;
  const creator = await creatorOf(deps.sql, input.agentId);
  if (!creator || creator === input.payerId) return undefined;
  const card =
    input.rateCardVersion === undefined
      ? await deps.rateCards.latest()
      : await deps.rateCards.version(input.rateCardVersion);
  const amount = Math.floor((input.charged * card.creatorShareBp) / 10_000);
  if (amount < 1) return undefined;
  return { userId: creator, amount, clearSeconds: deps.earning.clearingSeconds };
}
