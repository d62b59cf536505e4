// `npm run start:api`: the HTTP API (and Bull Board) alone; scale it out behind a load balancer.
import { runProcess } from '../entry.ts';

await runProcess('api', ['api'], { prepareDatabase: false });
