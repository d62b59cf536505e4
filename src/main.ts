// `npm start`: every role in one process, the single-machine default.
import { runProcess } from './entry.ts';

await runProcess('all', ['api', 'relay', 'workers'], { prepareDatabase: true });
