// The project's workers role, built by the same composition root as src/workers/main.ts
// (createSystem with ['workers']: three BullMQ Workers, the order service's payments and
// deliveries and the invoice service's invoices, the project's processors, the coalesced
// NOTIFY after each committed step), plus listeners that report to the harness when a payment job
// becomes active (its processor starts), and when a delivery or an invoice job completes.
import type { Job } from 'bullmq';
import { loadConfig } from '../../src/config.ts';
import type { OutboxJobData, StepResult } from '../../src/engine/index.ts';
import { createLogger } from '../../src/logger.ts';
import { createSystem } from '../../src/system.ts';
import { createMarkSender, helperLifecycle } from '../lib/child.ts';
import type { MarkKind } from '../lib/tracker.ts';

const config = loadConfig(process.env);
const system = createSystem(config, createLogger(config.LOG_LEVEL, 'worker'), ['workers']);
const marks = createMarkSender();
const doneKind: Record<string, MarkKind | undefined> = { deliveries: 'delivered', invoices: 'invoiced' };
for (const worker of system.workers) {
  if (worker.name === 'payments') worker.on('active', (job: Job<OutboxJobData>) => marks.mark('pay', job.data.aggregateId));
  const kind = doneKind[worker.name];
  if (kind) {
    worker.on('completed', (job: Job<OutboxJobData>, result: StepResult) => {
      if (result?.outcome === 'done') marks.mark(kind, job.data.aggregateId);
    });
  }
}
await system.start();
helperLifecycle(() => system.stop()).ready();
