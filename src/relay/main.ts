// `npm run start:relay`: the outbox relay alone; several can run at once.
import { runProcess } from '../entry.ts';

await runProcess('relay', ['relay'], { prepareDatabase: false });
