// `npm run start:worker`: the workers of WORKER_QUEUES (default all); run as many as needed.
import { runProcess } from '../entry.ts';

await runProcess('worker', ['workers'], { prepareDatabase: false });
