/**
 * The stand-in's name for domain/money's formatMoney, kept so store.ts's refund errors need no
 * edit here; money becomes text in that one function only (JPY 500 is ¥500, USD 500 is $5.00).
 */
export { formatMoney as formatAmount } from '../../domain';
