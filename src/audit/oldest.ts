// Keeps the `limit` oldest of a stream of findings that arrive in any order (the cross-database
// checks page by primary key, not by time), in bounded memory: at most twice `limit` are held, and
// every finding is counted.
export interface Dated {
  at: Date;
  id: string;
}

// Oldest first; ties by id, as Postgres orders uuids (lower-case hex compares like their bytes).
export function byAge(a: Dated, b: Dated): number {
  return a.at.getTime() - b.at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export interface Oldest<T extends Dated> {
  add(found: T): void;
  total(): number;
  // The `limit` oldest, oldest first.
  rows(): T[];
}

export function keepOldest<T extends Dated>(limit: number): Oldest<T> {
  let kept: T[] = [];
  let total = 0;
  const trim = () => {
    kept.sort(byAge);
    kept = kept.slice(0, limit);
  };
  return {
    add(found) {
      total += 1;
      kept.push(found);
      if (kept.length >= 2 * Math.max(limit, 1)) trim();
    },
    total: () => total,
    rows() {
      trim();
      return [...kept];
    },
  };
}

// Merges checks' sorted, counted pages (each at most `limit` rows plus its `total`) into one: the
// `limit` oldest of all, each carrying the sum of the totals.
export function mergeCounted<T extends Dated & { total: number }>(limit: number, ...parts: readonly T[][]): T[] {
  const total = parts.reduce((sum, rows) => sum + (rows[0]?.total ?? 0), 0);
  return parts
    .flat()
    .sort(byAge)
    .slice(0, limit)
    .map((row) => ({ ...row, total }));
}
