import { defineSearchAttributeKey } from '@temporalio/common';

/** Custom search attributes: operators filter runs by them in the Temporal Web UI. */
export const ProjectStatusKey = defineSearchAttributeKey('ProjectStatus', 'KEYWORD');
export const UserIdKey = defineSearchAttributeKey('UserId', 'KEYWORD');
export const CreditsSpentKey = defineSearchAttributeKey('CreditsSpent', 'INT');
/** A withdrawal's status: `WithdrawalStatus = "pending_approval"` lists what awaits a decision. */
export const WithdrawalStatusKey = defineSearchAttributeKey('WithdrawalStatus', 'KEYWORD');

export const CUSTOM_SEARCH_ATTRIBUTES = [ProjectStatusKey, UserIdKey, CreditsSpentKey, WithdrawalStatusKey];
