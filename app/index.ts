/**
 * The application layer: one module per use case (usage, purchases, projects, project tasks,
 * grants, notices, top-ups) and the balance events every credit movement ends with. Routes
 * (api/) and activities (activities/) call these; neither holds business rules of its own.
 * `createUseCases` binds them to their dependencies once (composition/root.ts calls it).
 */
import type { Client } from '@temporalio/client';
import type Stripe from 'stripe';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import type { RateCards } from '../db/rate-cards';
import type { Mailer } from '../mail/mailer';
import { listAgents, publishAgent, rateAgent, showAgent } from './agents';
import { autoTopUpView, saveAutoTopUp } from './auto-top-up';
import { type BalanceEvents, createBalanceEvents } from './balance-events';
import { openBillingPortal } from './billing-portal';
import { DEFAULT_EARNING_SETTINGS, type EarningSettings } from './earning-settings';
import { type Grant, grantCredits } from './grants';
import { requestPackage } from './package-requests';
import { archiveCustomPackage, createCustomPackage } from './packages';
import { openPayoutAccount, payoutAccountOf, payoutAccountUpdated } from './payout-accounts';
import {
  cancelProject,
  changeProjectBudget,
  type NewProject,
  ownProject,
  type ProjectSettings,
  startProject,
} from './projects';
import { ownPurchase, type PurchaseSettings, startPurchase } from './purchases';
import { referralSummary } from './referrals';
import { operatorRefund, requestOperatorRefund } from './refunds';
import { createUsageCharger, type DebitPath } from './usage';
import { DEFAULT_USAGE_REVERSAL_SETTINGS, reverseUsage, type UsageReversalSettings } from './usage-reversals';
import { decideWithdrawal, ownWithdrawal, requestWithdrawal } from './withdrawals';

export type { Agent, AgentRating, NewAgent } from './agents';
export type { AutoTopUpSetting, AutoTopUpView } from './auto-top-up';
export type { BalanceEvents } from './balance-events';
export { DEFAULT_EARNING_SETTINGS, type EarningSettings } from './earning-settings';
export type { Grant } from './grants';
export type { PackageRequest } from './package-requests';
export type { AdminPackage, CreatedPackage, CustomPackageInput } from './packages';
export type { PayoutAccount, PayoutAccountView } from './payout-accounts';
export { isFinished, type NewProject, type Project, type ProjectSettings } from './projects';
export type { PurchaseSettings, StartedPurchase } from './purchases';
export type { ReferralSummary, ReferredView } from './referrals';
export type { OperatorRefund } from './refunds';
export type { DebitPath, UsageCharge, UsageCharger, UsageEvent } from './usage';
export {
  DEFAULT_USAGE_REVERSAL_SETTINGS,
  type UsageReversalAnswer,
  type UsageReversalRequest,
  type UsageReversalSettings,
} from './usage-reversals';
export type { Withdrawal } from './withdrawals';

export interface UseCaseDeps {
  sql: Sql;
  ledger: Ledger;
  rateCards: RateCards;
  mailer: Mailer;
  temporal: Client;
  /** Payout accounts and withdrawals talk to Stripe Connect from the request. */
  stripe: Stripe;
  /** Where workflows are started; tests give each app and worker pair its own queue. */
  taskQueue: string;
  log?: ((message: string, error: unknown) => void) | undefined;
}

export interface UseCaseSettings {
  purchases: PurchaseSettings;
  projects: ProjectSettings;
  earning: EarningSettings;
  /** The usage charge's ledger path; the one-transaction path is the benchmark's baseline. */
  debitPath?: DebitPath | undefined;
  /** How long after a charge its reversal is allowed (default: 7 days). */
  usageReversals?: UsageReversalSettings | undefined;
}

export const DEFAULT_SETTINGS: UseCaseSettings = {
  purchases: { checkoutExpirySeconds: 30 * 60, pollIntervalSeconds: 15 },
  projects: { recheckSeconds: 30, tasksPerRun: 100 },
  earning: DEFAULT_EARNING_SETTINGS,
  usageReversals: DEFAULT_USAGE_REVERSAL_SETTINGS,
};

type Rest<F> = F extends (deps: never, ...rest: infer R) => infer T ? (...rest: R) => T : never;

export interface UseCases {
  /** The earning side's numbers (minimum withdrawal, a credit's value), for pages that explain them. */
  earning: EarningSettings;
  balanceEvents: BalanceEvents;
  chargeUsage: ReturnType<typeof createUsageCharger>;
  reverseUsage: Rest<typeof reverseUsage>;
  startPurchase: Rest<typeof startPurchase>;
  ownPurchase: Rest<typeof ownPurchase>;
  createCustomPackage: Rest<typeof createCustomPackage>;
  archiveCustomPackage: Rest<typeof archiveCustomPackage>;
  requestPackage: Rest<typeof requestPackage>;
  startProject: Rest<typeof startProject>;
  ownProject: Rest<typeof ownProject>;
  cancelProject: Rest<typeof cancelProject>;
  changeProjectBudget: Rest<typeof changeProjectBudget>;
  grantCredits: (grant: Grant) => ReturnType<typeof grantCredits>;
  referralSummary: Rest<typeof referralSummary>;
  publishAgent: Rest<typeof publishAgent>;
  listAgents: Rest<typeof listAgents>;
  showAgent: Rest<typeof showAgent>;
  rateAgent: Rest<typeof rateAgent>;
  openPayoutAccount: Rest<typeof openPayoutAccount>;
  payoutAccountOf: Rest<typeof payoutAccountOf>;
  payoutAccountUpdated: Rest<typeof payoutAccountUpdated>;
  requestWithdrawal: Rest<typeof requestWithdrawal>;
  ownWithdrawal: Rest<typeof ownWithdrawal>;
  decideWithdrawal: Rest<typeof decideWithdrawal>;
  requestOperatorRefund: Rest<typeof requestOperatorRefund>;
  operatorRefund: Rest<typeof operatorRefund>;
  /** Auto top-up's setting (DESIGN.md §13) and the customer portal. */
  saveAutoTopUp: Rest<typeof saveAutoTopUp>;
  autoTopUpView: Rest<typeof autoTopUpView>;
  openBillingPortal: Rest<typeof openBillingPortal>;
}

export function createUseCases(deps: UseCaseDeps, settings: UseCaseSettings = DEFAULT_SETTINGS): UseCases {
  const balanceEvents = createBalanceEvents(deps);
  const withSettings = { ...deps, ...settings, balanceEvents };
  return {
    earning: settings.earning,
    balanceEvents,
    chargeUsage: createUsageCharger(withSettings),
    reverseUsage: (request) =>
      reverseUsage(
        { ...withSettings, usageReversals: settings.usageReversals ?? DEFAULT_USAGE_REVERSAL_SETTINGS },
        request,
      ),
    startPurchase: (request) => startPurchase(withSettings, request),
    ownPurchase: (userId, id) => ownPurchase(deps, userId, id),
    createCustomPackage: (request) => createCustomPackage(deps, request),
    archiveCustomPackage: (id) => archiveCustomPackage(deps, id),
    requestPackage: (request) => requestPackage(deps, request),
    startProject: (request: { user: { id: string }; body: NewProject; key: string | undefined }) =>
      startProject(withSettings, request),
    ownProject: (userId, id) => ownProject(deps, userId, id),
    cancelProject: (userId, id) => cancelProject(deps, userId, id),
    changeProjectBudget: (request) => changeProjectBudget(deps, request),
    grantCredits: (grant) => grantCredits(withSettings, grant),
    referralSummary: (request) => referralSummary(withSettings, request),
    publishAgent: (request) => publishAgent(deps, request),
    listAgents: (page) => listAgents(deps, page),
    showAgent: (id) => showAgent(deps, id),
    rateAgent: (request) => rateAgent(deps, request),
    openPayoutAccount: (request) => openPayoutAccount(deps, request),
    payoutAccountOf: (userId) => payoutAccountOf(deps, userId),
    payoutAccountUpdated: (object) => payoutAccountUpdated(deps, object),
    requestWithdrawal: (request) => requestWithdrawal(withSettings, request),
    ownWithdrawal: (userId, id) => ownWithdrawal(deps, userId, id),
    decideWithdrawal: (request) => decideWithdrawal(deps, request),
    requestOperatorRefund: (request) => requestOperatorRefund(deps, request),
    operatorRefund: (id) => operatorRefund(deps, id),
    saveAutoTopUp: (request) => saveAutoTopUp(deps, request),
    autoTopUpView: (userId) => autoTopUpView(deps, userId),
    openBillingPortal: (request) => openBillingPortal(deps, request),
  };
}
