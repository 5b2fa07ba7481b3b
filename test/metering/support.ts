/**
 * Factories and a reference price calculator for the metering tests (domain and HTTP).
 * The reference is written independently of domain/pricing.ts (BigInt, rational arithmetic
 * spelled out) so a test comparing the two is a real check, not the code checking itself.
 */
import { randomUUID } from 'node:crypto';
import type { RateCard, RateCardBody } from '../../domain';
import { ADMIN_KEY, type http } from '../support/app';

type Api = ReturnType<typeof http>;

/** The launch prices (db/migrations/003_metering.sql, version 1). */
export const LAUNCH_CARD: RateCardBody = {
  conversation: { baseCredits: 2, per1kInputTokens: 1, per1kOutputTokens: 4 },
  continuation: { baseCredits: 3, per1kInputTokens: 1, per1kOutputTokens: 4 },
  rag: { surchargeCredits: 5 },
  upskilling: { perTrainingUnit: 20 },
  projectPlanning: { credits: 50 },
  projectTask: { small: 25, medium: 75, large: 200 },
  creatorShareBp: 3000,
  models: { default: 'standard', multipliersBp: { lite: 5000, standard: 10000, advanced: 30000 } },
};

export const launchCard = (version = 1): RateCard => structuredClone({ version, ...LAUNCH_CARD });

export interface UsageEvent {
  feature: 'conversation' | 'continuation' | 'rag' | 'upskilling';
  eventId: string;
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  trainingUnits?: number;
  agentId?: string;
}

/** A valid conversation event with a fresh eventId; override any field. */
export function usageEvent(overrides: Partial<UsageEvent> = {}): UsageEvent {
  return { feature: 'conversation', eventId: `evt-${randomUUID()}`, ...overrides };
}

/** The same event without its eventId: the body `POST /v1/estimates` takes. */
export function estimateBodyOf(event: UsageEvent): Omit<UsageEvent, 'eventId'> {
  const { eventId: _eventId, ...rest } = event;
  return rest;
}

function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return numerator / denominator + (numerator % denominator === 0n ? 0n : 1n);
}

/** What an event must cost on `card`, from DESIGN.md §7's rules, in BigInt. */
export function referencePrice(card: RateCardBody, event: Omit<UsageEvent, 'eventId'>): number {
  if (event.feature === 'upskilling') {
    return Number(BigInt(event.trainingUnits!) * BigInt(card.upskilling.perTrainingUnit));
  }
  const rates = event.feature === 'continuation' ? card.continuation : card.conversation;
  const subtotal =
    BigInt(rates.baseCredits) +
    ceilDiv(BigInt(event.inputTokens ?? 0) * BigInt(rates.per1kInputTokens), 1000n) +
    ceilDiv(BigInt(event.outputTokens ?? 0) * BigInt(rates.per1kOutputTokens), 1000n);
  const bp = BigInt(card.models.multipliersBp[event.model ?? card.models.default]!);
  const withModel = ceilDiv(subtotal * bp, 10_000n);
  return Number(withModel + (event.feature === 'rag' ? BigInt(card.rag.surchargeCredits) : 0n));
}

/** Operator grant through the API (a fresh Idempotency-Key each time). */
export async function grant(api: Api, userId: string, credits: number): Promise<void> {
  const res = await api.post('/v1/admin/grants', { userId, credits }, ADMIN_KEY, {
    'idempotency-key': randomUUID(),
  });
  if (res.status !== 201) throw new Error(`grant failed: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function availableOf(api: Api, apiKey: string): Promise<number> {
  const res = await api.get<{ available: number }>('/v1/balance', apiKey);
  if (res.status !== 200) throw new Error(`balance failed: ${res.status}`);
  return res.body.available;
}

export interface UsageResponse {
  eventId: string;
  charged: number;
  balance: number;
  feature: string;
  rateCardVersion: number;
  breakdown: { item: string; quantity?: number; credits: number }[];
  replayed: boolean;
  agentId?: string;
}

export interface ErrorResponse {
  error: { code: string; message: string };
}

export interface EstimateResponse {
  kind: 'usage' | 'project';
  credits: number;
  rateCardVersion: number;
  breakdown: { item: string; quantity?: number; credits: number }[];
}

export function charge(api: Api, apiKey: string, event: unknown) {
  return api.post<UsageResponse & ErrorResponse>('/v1/usage', event, apiKey);
}

export function estimate(api: Api, apiKey: string, body: unknown) {
  return api.post<EstimateResponse & ErrorResponse>('/v1/estimates', body, apiKey);
}
