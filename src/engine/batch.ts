// Group commit for the consumers of one process: the loads and the recorded steps of jobs that run
// at the same time share statements. A batch goes out as soon as fewer than `maxInFlight` batches
// are running, so a lone job never waits for a window; while batches run, new work queues up and
// leaves as the next batch. Batches form by themselves under load and cost nothing without it.
//
// One item's failure never fails its neighbours: when a batch of several fails, each item runs on
// its own (runOne), and only the item that is really wrong gets its error.

export interface BatchOptions<I = unknown> {
  maxBatch: number;
  maxInFlight: number;
  // An error that says nothing about any one item (Postgres unreachable): every item of the batch
  // gets it at once, instead of each trying alone.
  sharedFailure?: (err: unknown) => boolean;
  // Told the size of each batch sent (the consumer_batch_size metric).
  onBatch?: (size: number) => void;
  // An item whose caller has stopped waiting (its request was answered 503) is rejected with the
  // error this returns instead of being sent: a backlog of abandoned work never takes the capacity
  // live work needs, and what was never sent never commits behind the answer.
  expired?: (item: I) => Error | undefined;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

// Up to maxBatch items from the head of the queue, rejecting the expired ones on the way.
function takeLive<I, O>(queue: Array<Waiting<I, O>>, options: BatchOptions<I>): Array<Waiting<I, O>> {
  const batch: Array<Waiting<I, O>> = [];
  while (batch.length < options.maxBatch && queue.length > 0) {
    const w = queue.shift()!;
    const expired = options.expired?.(w.item);
    if (expired) w.reject(expired);
    else batch.push(w);
  }
  return batch;
}

export function createBatcher<I, O>(runMany: (items: I[]) => Promise<O[]>, runOne: (item: I) => Promise<O>, options: BatchOptions<I>): (item: I) => Promise<O> {
  const queue: Array<Waiting<I, O>> = [];
  let inFlight = 0;

  const settleAlone = (w: Waiting<I, O>) => runOne(w.item).then(w.resolve, w.reject);

  const flush = () => {
    while (inFlight < options.maxInFlight && queue.length > 0) {
      const batch = takeLive(queue, options);
      if (batch.length === 0) continue;
      inFlight++;
      options.onBatch?.(batch.length);
      const sent: Promise<unknown> =
        batch.length === 1
          ? settleAlone(batch[0]!)
          : runMany(batch.map((w) => w.item)).then(
              (results) => {
                for (const [i, w] of batch.entries()) w.resolve(results[i]!);
              },
              // Any item may be the one that failed the batch: each runs alone and keeps its own outcome.
              (err: unknown) => {
                if (!options.sharedFailure?.(err)) return Promise.all(batch.map(settleAlone));
                for (const w of batch) w.reject(err);
                return undefined;
              },
            );
      void sent.finally(() => {
        inFlight--;
        flush();
      });
    }
  };

  return (item: I) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      flush();
    });
}
