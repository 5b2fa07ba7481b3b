import { randomBytes } from 'node:crypto';
import { invalidRequest, noSuch, type StripeApiError } from './errors';
import {
  type Account,
  type AccountLink,
  type CapabilityStatus,
  type ListPage,
  newId,
  nowSeconds,
  type StripeEvent,
  type Transfer,
} from './objects';
import { paginate } from './pagination';
import type {
  CreateAccountLinkParams,
  CreateAccountParams,
  CreateTransferParams,
  ListTransfersParams,
} from './schemas';

/**
 * Stripe Connect as far as paying out earnings needs it (DESIGN.md §11): Express accounts,
 * single-use onboarding links to the stand-in's hosted onboarding page, and transfers from the
 * platform to onboarded accounts. Like StandInStore (which owns this), it knows nothing about
 * HTTP; client-caused failures throw StripeApiError.
 */

export interface ConnectOptions {
  onboardingUrl(token: string): string;
  linkLifetimeSeconds: number;
  emit(type: string, object: unknown, account?: string): StripeEvent;
}

/** Transfer failures for tests, settable at any time; a failed transfer creates nothing. */
export interface TransferFaults {
  /** The next `n` transfers that would succeed fail instead, with Stripe's `balance_insufficient`. */
  failNext(n: number): void;
  /** Transfers to these account ids fail the same way, until removed. */
  readonly failDestinations: Set<string>;
  /** Back to transfers that succeed. */
  reset(): void;
}

/** The platform's view of where an onboarding link leads. */
export interface OnboardingLink {
  account: Account;
  url: string;
  returnUrl: string;
}

interface LinkRecord {
  accountId: string;
  returnUrl: string;
  refreshUrl: string;
  expiresAt: number;
  used: boolean;
}

// What Stripe asks of a fresh Express individual before it can be paid; cleared by onboarding.
const ONBOARDING_REQUIREMENTS = [
  'business_type',
  'external_account',
  'tos_acceptance.date',
  'tos_acceptance.ip',
];

export class ConnectStore {
  /** Oldest first. */
  readonly transfers: Transfer[] = [];
  readonly transferFaults: TransferFaults;
  private readonly accounts = new Map<string, Account>();
  private readonly transfersById = new Map<string, Transfer>();
  private readonly links = new Map<string, LinkRecord>();
  private failRemaining = 0;

  constructor(private readonly options: ConnectOptions) {
    const store = this;
    this.transferFaults = {
      failDestinations: new Set(),
      failNext(n: number) {
        if (!Number.isInteger(n) || n < 0)
          throw new RangeError('transferFaults.failNext needs a non-negative integer');
        store.failRemaining = n;
      },
      reset() {
        store.failRemaining = 0;
        this.failDestinations.clear();
      },
    };
  }

  createAccount(params: CreateAccountParams): Account {
    const requested = Object.entries(params.capabilities ?? {})
      .filter(([, capability]) => capability.requested)
      .map(([name]) => name);
    // An Express account that is to be paid needs `transfers`; a platform that requests none
    // gets its default, which for a payouts-only platform is exactly that.
    const capabilities = requested.length > 0 ? requested : ['transfers'];
    const account: Account = {
      id: newId('acct', 16),
      object: 'account',
      type: params.type,
      created: nowSeconds(),
      email: params.email ?? null,
      country: params.country ?? 'US',
      default_currency: params.default_currency ?? 'usd',
      capabilities: Object.fromEntries(
        capabilities.map((name): [string, CapabilityStatus] => [name, 'inactive']),
      ),
      charges_enabled: false,
      payouts_enabled: false,
      details_submitted: false,
      requirements: {
        currently_due: [...ONBOARDING_REQUIREMENTS],
        eventually_due: [...ONBOARDING_REQUIREMENTS],
        past_due: [...ONBOARDING_REQUIREMENTS],
        disabled_reason: 'requirements.past_due',
      },
      metadata: params.metadata ?? {},
    };
    this.accounts.set(account.id, account);
    return account;
  }

  getAccount(id: string): Account {
    const account = this.accounts.get(id);
    if (!account) throw noSuch('account', id, 'account');
    return account;
  }

  createAccountLink(params: CreateAccountLinkParams): AccountLink {
    if (!this.accounts.has(params.account)) throw noSuch('account', params.account, 'account', 400);
    // Unguessable, as the link is the only credential the onboarding page asks for.
    const token = randomBytes(24).toString('base64url');
    const created = nowSeconds();
    const expiresAt = created + this.options.linkLifetimeSeconds;
    this.links.set(token, {
      accountId: params.account,
      returnUrl: params.return_url,
      refreshUrl: params.refresh_url,
      expiresAt,
      used: false,
    });
    return { object: 'account_link', created, expires_at: expiresAt, url: this.options.onboardingUrl(token) };
  }

  /** The link behind `token` while it can still be used; undefined when unknown, expired or used. */
  onboardingLink(token: string): OnboardingLink | undefined {
    const link = this.usableLink(token);
    if (!link) return undefined;
    return {
      account: this.getAccount(link.accountId),
      url: this.options.onboardingUrl(token),
      returnUrl: link.returnUrl,
    };
  }

  /** What the page's Complete button does: the account is enabled and the link used up. */
  completeOnboardingLink(token: string): OnboardingLink | undefined {
    const link = this.usableLink(token);
    if (!link) return undefined;
    // Stripe's links are single-use: once onboarding is done, the same link leads nowhere.
    link.used = true;
    const account = this.completeOnboarding(link.accountId);
    return { account, url: this.options.onboardingUrl(token), returnUrl: link.returnUrl };
  }

  /**
   * The account as onboarding leaves it: details submitted, every requested capability active,
   * charges and payouts enabled, announced by `account.updated`. An account already onboarded
   * is left alone and nothing is announced, as Stripe sends no event when nothing changed.
   */
  completeOnboarding(accountId: string): Account {
    const account = this.getAccount(accountId);
    if (account.details_submitted && account.payouts_enabled) return account;
    account.details_submitted = true;
    account.charges_enabled = true;
    account.payouts_enabled = true;
    for (const name of Object.keys(account.capabilities)) account.capabilities[name] = 'active';
    account.requirements = { currently_due: [], eventually_due: [], past_due: [], disabled_reason: null };
    this.options.emit('account.updated', account, account.id);
    return account;
  }

  createTransfer(params: CreateTransferParams): Transfer {
    const destination = this.accounts.get(params.destination);
    if (!destination) throw noSuch('destination', params.destination, 'destination', 400);
    if (destination.capabilities.transfers !== 'active') {
      throw invalidRequest(
        'Your destination account needs to have at least one of the following capabilities enabled: ' +
          'transfers, crypto_transfers, legacy_payments',
        'destination',
        'insufficient_capabilities_for_transfer',
      );
    }
    this.failIfFaulted(params.destination);
    const transfer = newTransfer(params);
    this.transfers.push(transfer);
    this.transfersById.set(transfer.id, transfer);
    this.options.emit('transfer.created', transfer);
    return transfer;
  }

  getTransfer(id: string): Transfer {
    const transfer = this.transfersById.get(id);
    if (!transfer) throw noSuch('transfer', id, 'id');
    return transfer;
  }

  listTransfers(params: ListTransfersParams): ListPage<Transfer> {
    const matching = this.transfers
      .filter((t) => params.destination === undefined || t.destination === params.destination)
      .filter((t) => params.transfer_group === undefined || t.transfer_group === params.transfer_group)
      .reverse();
    return paginate(matching, params, '/v1/transfers');
  }

  /** An account or transfer by id, for `expand[]`. */
  find(id: string): Account | Transfer | undefined {
    return this.accounts.get(id) ?? this.transfersById.get(id);
  }

  private usableLink(token: string): LinkRecord | undefined {
    const link = this.links.get(token);
    if (!link || link.used || link.expiresAt <= nowSeconds()) return undefined;
    return link;
  }

  private failIfFaulted(destination: string): void {
    if (this.transferFaults.failDestinations.has(destination)) throw balanceInsufficient();
    if (this.failRemaining > 0) {
      this.failRemaining--;
      throw balanceInsufficient();
    }
  }
}

/** A transfer that ran and failed on the platform's balance; Stripe replays it for the same key. */
function balanceInsufficient(): StripeApiError {
  const error = invalidRequest(
    'You have insufficient available funds in your Stripe account. Try adding funds directly to your ' +
      'available balance by creating Charges using the 4000000000000077 test card. ' +
      'See: https://stripe.com/docs/testing#available-balance',
    undefined,
    'balance_insufficient',
  );
  error.replayedForSameKey = true;
  return error;
}

function newTransfer(params: CreateTransferParams): Transfer {
  const id = newId('tr');
  return {
    id,
    object: 'transfer',
    created: nowSeconds(),
    livemode: false,
    amount: params.amount,
    amount_reversed: 0,
    balance_transaction: newId('txn'),
    currency: params.currency,
    description: params.description ?? null,
    destination: params.destination,
    // The payment the transfer becomes on the connected account's side.
    destination_payment: newId('py'),
    metadata: params.metadata ?? {},
    reversals: { object: 'list', url: `/v1/transfers/${id}/reversals`, has_more: false, data: [] },
    reversed: false,
    source_transaction: null,
    source_type: 'card',
    transfer_group: params.transfer_group ?? null,
  };
}
