// Converts a price given in dollars (as the original pizza example sends it) to integer cents,
// exactly. Returns undefined when the amount has fractions of a cent or is not a safe amount.
export function dollarsToCents(dollars: number): number | undefined {
  if (!Number.isFinite(dollars)) return undefined;
  const cents = Math.round(dollars * 100);
  // 19.99 * 100 is 1998.9999999999998; 1999 / 100 is exactly the double that "19.99" parses to,
  // so this comparison accepts every two-decimal amount and rejects everything finer.
  if (!Number.isSafeInteger(cents) || cents / 100 !== dollars) return undefined;
  return cents;
}
