import { defineSearchAttributeKey } from '@temporalio/common';

/** Custom search attributes: operators filter runs by them in the Temporal Web UI. */
export const ProjectStatusKey = defineSearchAttributeKey('ProjectStatus', 'KEYWORD');
export const UserIdKey = defineSearchAttributeKey('UserId', 'KEYWORD');
export const CreditsSpentKey = defineSearchAttributeKey('CreditsSpent', 'INT');

export const CUSTOM_SEARCH_ATTRIBUTES = [ProjectStatusKey, UserIdKey, CreditsSpentKey];
