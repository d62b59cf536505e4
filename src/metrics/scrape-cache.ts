// A reading taken at scrape time, shared by the gauges that show it: one query (or one round of
// Redis calls) per scrape, reused for `ttlMs` so several scrapers (or a scrape of every gauge in
// turn) cost one. A dependency that fails, or has not answered within `timeoutMs`, gives
// undefined: /metrics still answers, without those samples.
export function cachedReading<T>(read: () => Promise<T>, ttlMs = 1000, timeoutMs = 3000): () => Promise<T | undefined> {
  let cached: Promise<T | undefined> | undefined;
  return () => {
    if (cached) return cached;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
      timer.unref();
    });
    cached = Promise.race([read().catch(() => undefined), timeout]).finally(() => {
      clearTimeout(timer);
      setTimeout(() => (cached = undefined), ttlMs).unref();
    });
    return cached;
  };
}
