/**
 * What the API answers, as zod schemas (the requests' schemas are the routes' own). Objects are
 * open (`looseObject`): DESIGN.md §9 lets the API add fields freely, so a client must not break on
 * one; every field listed is required and typed. `OPENAPI_VALIDATE=strict` in the tests also
 * refuses fields missing here (test/support/openapi-validator.ts), to keep this list complete.
 */
import { z } from 'zod';
import { PACKAGE_REQUEST_STATUSES } from '../../db/package-requests';
import { PACKAGE_STATUSES } from '../../db/packages';
import { BUCKETS, WITHDRAWAL_STATUSES } from '../../domain/credits';
import { PROJECT_STATUSES } from '../../domain/projects';
import {
  DISPUTE_STATUSES,
  OPERATOR_REFUND_REASONS,
  OPERATOR_REFUND_STATUSES,
  PURCHASE_STATUSES,
} from '../../domain/purchases';
import { rateCardBodySchema } from '../../domain/rate-card-schema';
import { FEATURES, TASK_SIZES } from '../../domain/rates';
import { CLAWBACK_REASONS, REFERRAL_REJECTIONS, REFERRAL_STATUSES } from '../../domain/referrals';

const obj = z.looseObject;
const int = () => z.number().int();
const credits = () => z.number().int().describe('credits');
/** Timestamps are ISO 8601 strings in UTC (`2030-01-31T00:00:00.000Z`). */
const timestamp = () => z.string().describe('ISO 8601 date and time');
const day = () => z.string().describe('a UTC day, YYYY-MM-DD');
const uuid = () => z.string().describe('UUID');

/** Every error: `{error: {code, message}}`; `message` names the field or header that is wrong. */
export const ErrorBody = obj({
  error: obj({
    code: z.string().describe('machine-readable: validation_error, unauthorized, insufficient_credits, …'),
    message: z.string().describe('for people; a validation error starts with the field it is about'),
  }),
}).meta({ id: 'Error' });

export const Balance = obj({
  available: credits(),
  posted: credits(),
  held: credits(),
  buckets: z.record(
    z.enum(BUCKETS),
    obj({
      available: credits(),
      posted: credits(),
      held: credits(),
      withdrawable: credits().describe(
        'cleared credits not spent or held: what may be cashed out (0 but for earned)',
      ),
    }),
  ),
}).meta({ id: 'Balance' });

export const Transfer = obj({
  id: int(),
  amount: int().describe('signed from the user’s side: positive adds credits'),
  bucket: z.enum(BUCKETS),
  kind: z.string(),
  description: z.string().nullable(),
  createdAt: timestamp(),
}).meta({ id: 'Transfer' });

export const TransferPage = obj({
  data: z.array(Transfer),
  nextCursor: z.string().nullable().describe('pass as `cursor` for the next page; null on the last'),
}).meta({ id: 'TransferPage' });

export const Package = obj({
  id: z.string(),
  name: z.string(),
  credits: credits(),
  priceCents: int(),
  currency: z.string(),
  pricePer1000Cents: int(),
}).meta({ id: 'Package' });

/** A package as the operator sees it: what users see, plus its lifecycle and limits. */
export const AdminPackage = Package.extend({
  status: z.enum(PACKAGE_STATUSES),
  custom: z.boolean(),
  visibleTo: z.array(z.string()).nullable(),
  expiresAt: timestamp().nullable(),
  maxPurchases: int().nullable(),
  purchaseCount: int(),
  pendingCount: int(),
  slotsLeft: int().nullable(),
  requestId: uuid().nullable(),
  createdAt: timestamp(),
  archivedAt: timestamp().nullable(),
}).meta({ id: 'AdminPackage' });

export const CreatedPackage = AdminPackage.extend({
  notified: z.boolean().optional().describe('with requestId: whether the requester was emailed'),
}).meta({ id: 'CreatedPackage' });

export const PriceLine = obj({
  item: z.string(),
  quantity: z.number().optional(),
  credits: credits(),
}).meta({ id: 'PriceLine' });

export const Purchase = obj({
  id: uuid(),
  packageId: z.string(),
  credits: credits(),
  priceCents: int(),
  currency: z.string(),
  status: z.enum(PURCHASE_STATUSES),
  checkoutUrl: z.string().nullable().describe('Stripe Checkout while pending; null otherwise'),
  createdAt: timestamp(),
  completedAt: timestamp().nullable(),
}).meta({ id: 'Purchase' });

export const Dispute = obj({
  id: z.string(),
  purchaseId: uuid(),
  amountCents: int(),
  currency: z.string(),
  reason: z.string().nullable(),
  status: z.enum(DISPUTE_STATUSES),
  creditsDue: credits(),
  creditsHeld: credits(),
  creditsShortfall: credits(),
  createdAt: timestamp(),
  closedAt: timestamp().nullable(),
}).meta({ id: 'Dispute' });

export const PurchaseRefund = obj({
  purchaseId: uuid(),
  paymentIntentId: z.string(),
  stripeRefundId: z.string().nullable(),
  amountCents: int(),
  refundedThroughCents: int(),
  reason: z.enum(['duplicate_charge', 'purchase_refunded', 'operator_refund']),
  creditsDue: credits(),
  creditsReversed: credits(),
  creditsShortfall: credits(),
  createdAt: timestamp(),
}).meta({ id: 'PurchaseRefund' });

export const PurchaseDetail = Purchase.extend({
  refunds: z.array(PurchaseRefund),
  disputes: z.array(Dispute),
}).meta({ id: 'PurchaseDetail' });

export const UsageCharge = obj({
  eventId: z.string(),
  charged: credits(),
  balance: credits().describe('the available balance right after the charge'),
  feature: z.enum(FEATURES),
  rateCardVersion: int(),
  breakdown: z.array(PriceLine),
  agentId: uuid().optional(),
  replayed: z.boolean(),
}).meta({ id: 'UsageCharge' });

export const UsageSummary = obj({
  from: day(),
  to: day(),
  totalCredits: credits(),
  reversedCredits: credits(),
  reversals: int(),
  byFeature: z.array(
    obj({
      feature: z.string(),
      credits: credits(),
      events: int(),
      reversedCredits: credits(),
      reversals: int(),
    }),
  ),
  byDay: z.array(
    obj({
      day: day(),
      credits: credits(),
      byFeature: z.record(z.string(), int()),
      reversedCredits: credits(),
    }),
  ),
}).meta({ id: 'UsageSummary' });

export const UsageReversal = obj({
  eventId: z.string(),
  reversedCredits: credits(),
  creatorShareReversed: credits(),
  creatorShareShortfall: credits(),
  reason: z.string(),
  createdAt: timestamp(),
  balance: credits(),
  replayed: z.boolean(),
}).meta({ id: 'UsageReversal' });

export const Earnings = obj({
  from: day(),
  to: day(),
  totalCredits: credits().describe(
    'net creator shares earned in the range (referral rewards: GET /v1/referrals)',
  ),
  pendingCredits: credits().describe('now, whatever the range: earned credits still clearing'),
  withdrawableCredits: credits().describe('now, whatever the range: earned credits that may be cashed out'),
  withheldCredits: credits().describe(
    'withheld from cashing out for good (a referral reward taken back short); they may still be spent',
  ),
  byAgent: z.array(obj({ agentId: uuid(), name: z.string().nullable(), credits: credits(), uses: int() })),
  byDay: z.array(obj({ day: day(), credits: credits() })),
}).meta({ id: 'Earnings' });

const Price = {
  credits: credits(),
  rateCardVersion: int(),
  breakdown: z.array(PriceLine),
};

export const Estimate = z
  .union([
    obj({ kind: z.literal('usage'), ...Price }),
    obj({
      kind: z.literal('project'),
      ...Price,
      budget: obj({
        maxCredits: credits(),
        covers: z.boolean(),
        shortBy: credits(),
        tasksCovered: int(),
      })
        .optional()
        .describe('with maxCredits: whether that budget pays for the whole project'),
    }),
  ])
  .meta({ id: 'Estimate' });

const PausedReason = z
  .union([
    obj({
      code: z.literal('insufficient_credits'),
      message: z.string().optional(),
      needed: credits(),
      available: credits(),
    }),
    obj({
      code: z.literal('budget_exhausted'),
      message: z.string(),
      budget: credits(),
      spent: credits(),
      needed: credits(),
    }),
    obj({
      code: z.literal('awaiting_auto_top_up'),
      message: z.string(),
      purchaseId: z.string().nullable(),
      needed: credits(),
      available: credits(),
    }),
  ])
  .nullable();

export const Project = obj({
  id: uuid(),
  name: z.string(),
  status: z.enum(PROJECT_STATUSES),
  maxCredits: credits().nullable().describe('the budget; null when none'),
  tasksCompleted: int(),
  tasksTotal: int(),
  creditsSpent: credits(),
  creditsReserved: credits(),
  pausedReason: PausedReason,
  failureReason: z.string().nullable(),
  rateCardVersion: int(),
  createdAt: timestamp(),
  updatedAt: timestamp(),
}).meta({ id: 'Project' });

export const StartedProject = Project.extend({
  estimate: credits().describe('the price of the whole project when it started'),
}).meta({ id: 'StartedProject' });

export const ProjectDetail = Project.extend({
  tasks: z.array(
    obj({
      position: int(),
      title: z.string(),
      size: z.enum(TASK_SIZES),
      estimate: credits(),
      status: z.string(),
      cost: credits().nullable(),
      agentId: uuid().nullable(),
    }),
  ),
}).meta({ id: 'ProjectDetail' });

export const Agent = obj({
  id: uuid(),
  name: z.string(),
  description: z.string().nullable(),
  creatorId: uuid(),
  rating: z.number().nullable().describe('mean stars, 2 decimals; null until rated'),
  ratingsCount: int(),
  createdAt: timestamp(),
}).meta({ id: 'Agent' });

export const AgentRating = obj({
  agentId: uuid(),
  stars: int().min(1).max(5),
  comment: z.string().nullable(),
  createdAt: timestamp(),
  updatedAt: timestamp(),
  agent: Agent,
}).meta({ id: 'AgentRating' });

export const Referrals = obj({
  referralCode: z.string(),
  link: z.string(),
  referred: z.array(
    obj({
      email: z.string().describe('masked: j***@example.com'),
      signedUpAt: timestamp(),
      status: z.enum(REFERRAL_STATUSES),
      rewardCredits: credits(),
      reason: z.enum(REFERRAL_REJECTIONS).optional(),
      clawedBackCredits: credits().optional(),
      shortfallCredits: credits().optional(),
      clawbackReason: z.enum(CLAWBACK_REASONS).optional(),
    }),
  ),
  referredCount: int(),
  rewardsTotal: credits(),
}).meta({ id: 'Referrals' });

export const Withdrawal = obj({
  id: uuid(),
  credits: credits(),
  amountCents: int(),
  currency: z.string(),
  status: z.enum(WITHDRAWAL_STATUSES),
  reason: z.string().nullable(),
  transferId: z.string().nullable(),
  expiresAt: timestamp(),
  createdAt: timestamp(),
  decidedAt: timestamp().nullable(),
}).meta({ id: 'Withdrawal' });

export const OperatorWithdrawal = Withdrawal.extend({ userId: uuid() }).meta({ id: 'OperatorWithdrawal' });

export const WithdrawalDecision = OperatorWithdrawal.extend({
  decision: z.string().describe('what the withdrawal’s workflow made of the decision'),
}).meta({ id: 'WithdrawalDecision' });

export const PayoutAccount = obj({
  accountId: z.string(),
  onboardingUrl: z.string().describe('Stripe’s hosted onboarding (single use, short-lived)'),
  payoutsEnabled: z.boolean(),
}).meta({ id: 'PayoutAccount' });

export const OperatorRefund = obj({
  id: uuid(),
  purchaseId: uuid(),
  userId: uuid(),
  credits: credits(),
  amountCents: int(),
  currency: z.string(),
  reason: z.enum(OPERATOR_REFUND_REASONS),
  status: z.enum(OPERATOR_REFUND_STATUSES),
  failureReason: z.string().nullable(),
  stripeRefundId: z.string().nullable(),
  createdAt: timestamp(),
  completedAt: timestamp().nullable(),
}).meta({ id: 'OperatorRefund' });

export const OperatorDispute = Dispute.extend({ userId: uuid() }).meta({ id: 'OperatorDispute' });

export const PackageRequest = obj({
  id: uuid(),
  status: z.enum(PACKAGE_REQUEST_STATUSES),
  credits: credits(),
  message: z.string().nullable(),
  packageId: z.string().nullable(),
  createdAt: timestamp(),
  answeredAt: timestamp().nullable(),
}).meta({ id: 'PackageRequest' });

export const OperatorPackageRequest = PackageRequest.extend({ userId: uuid(), email: z.string() }).meta({
  id: 'OperatorPackageRequest',
});

export const Mail = obj({
  id: int(),
  kind: z.string(),
  recipient: z.string(),
  subject: z.string(),
  body: z.string(),
  transport: z.enum(['outbox', 'smtp']),
  createdAt: timestamp(),
  sentAt: timestamp().nullable(),
}).meta({ id: 'Mail' });

export const RateCard = rateCardBodySchema
  .extend({ version: int(), note: z.string().nullable(), publishedAt: timestamp() })
  .meta({ id: 'RateCard' });

export const Health = obj({
  status: z.enum(['ok', 'unavailable']),
  checks: obj({ postgres: z.enum(['ok', 'down']), temporal: z.enum(['ok', 'down']) }),
  reasons: z.record(z.string(), z.string()).optional().describe('why each down dependency is down'),
}).meta({ id: 'Health' });

/** `{data: [...], nextCursor}`: a list paginated by cursor. */
export function page<T extends z.ZodType>(item: T) {
  return obj({
    data: z.array(item),
    nextCursor: z.string().nullable().describe('pass as `cursor` for the next page; null on the last'),
  });
}

/** `{data: [...]}`: the lists that are not paginated by cursor. */
export function list<T extends z.ZodType>(item: T) {
  return obj({ data: z.array(item) });
}
