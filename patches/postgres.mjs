// postinstall: patches postgres.js 3.4.9 (the latest release) against an upstream bug that takes
// the whole process down when Postgres restarts: porsager/postgres#1208 (also #1066, #1154; the
// fixes proposed in #1168, #1209 and #1215 are not released), and one that strands a queued
// sql.reserve() for good when its connection is re-made (porsager/postgres#1195; POOL_EDITS below).
//
// When a connection closes under sql.begin() (Postgres restarted, a backend terminated), the
// transaction keeps the dead connection: its callback's next query, or begin()'s own ROLLBACK after
// the query in flight failed, is buffered and flushed from a setImmediate onto the socket closed()
// set to null. The TypeError is thrown outside every promise, so no caller can catch it, and the
// process exits (the fault suite saw relays die when Postgres restarted under load:
// test/faults/postgres-restart.test.ts). And when closed() cancels a pending flush it leaves the
// timer handle set, so that connection never writes again after it reconnects.
//
// The patch: a connection without a socket refuses new work with CONNECTION_CLOSED (the error the
// transaction already has), a flush without a socket drops its bytes, and closing resets the
// write buffer and timer, and forgets the dead backend's last error (which was otherwise handed to
// the first query after the reconnect). Idempotent.
//
// package.json pins postgres to exactly 3.4.9, and this script fails the install (one line, exit 1)
// when the installed driver is another version or the code it patches is not found: an unpatched
// driver is never installed silently. Every edit carries MARK, and every process checks at start
// (assertPatchedDriver() in src/db/driver-guard.ts) that each of FILES carries it, so a tree
// installed with --ignore-scripts refuses to run instead of running unpatched.
// To upgrade postgres: check whether the upstream fix is in (then drop this file and the guard),
// or port the edits to the new version and change VERSION with the pin.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const VERSION = '3.4.9';
// The guard's marker: src/db/driver-guard.ts looks for this exact string in each of FILES.
const MARK = 'pizza-outbox patch (porsager/postgres#1208)';
// The same three builds (ESM, CommonJS, Cloudflare) that postgres 3.4.9 ships, all patched: in
// each, the connection (connection.js) and the pool (index.js).
const FILES = ['src/connection.js', 'src/index.js', 'cjs/src/connection.js', 'cjs/src/index.js', 'cf/src/connection.js', 'cf/src/index.js'];
const root = new URL('../node_modules/postgres/', import.meta.url);

// Per file name: [anchor, replacement, how many times the anchor occurs]
const CONNECTION_EDITS = [
  [
    "    if (terminated)\n      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))\n",
    "    if (terminated)\n      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))\n\n" +
      `    if (!socket) { // ${MARK}: the socket closed under a transaction or reserved connection\n` +
      "      queryError(q, Errors.connection('CONNECTION_CLOSED', options))\n      return true\n    }\n",
    1,
  ],
  [
    '  function nextWrite(fn) {\n',
    `  function nextWrite(fn) {\n    if (!socket) // ${MARK}: nothing to write to any more\n      return (chunk = nextWriteTimer = null, true)\n\n`,
    1,
  ],
  // terminate(): a write still buffered goes nowhere, and must not block the next socket's writes.
  ['    clearImmediate(nextWriteTimer)\n    if (socket) {\n', `    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null // ${MARK}\n    if (socket) {\n`, 1],
  // closed(): the same, and the error the dead backend sent for its last query (57P01 …) is not
  // handed to the first query on the reconnected socket.
  [
    '    incomings = null\n    clearImmediate(nextWriteTimer)\n',
    `    incomings = null\n    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = errorResponse = null // ${MARK}\n`,
    1,
  ],
  // Every (re)connected socket first fetches the array types, and that query's promise is returned
  // from the ReadyForQuery handler, where nothing awaits it: a connection that dies during it (a
  // Postgres restart under load) rejected it unhandled, and Node ended the process (worker
  // processes, with a pool per service, reconnect the most). Handled as the socket's own errors are:
  // errored() fails the query that opened the connection (a no-op when error() already did).
  ['        return fetchArrayTypes()\n', `        return fetchArrayTypes().catch(errored) // ${MARK}: the connection failed while it fetched types\n`, 1],
];

// porsager/postgres#1195 (open): the pool's side of sql.reserve() (the relay's batches run on
// reserved connections). A reserve waits in the pool's queue; when a connection closes, the pool
// reconnects it for the first request queued, taking that request out of the queue. For a reserve that was the end of it: the
// reconnected connection drops a reserve it opened for (it expects the request to still be queued,
// as reserve() itself leaves it), so the reserve never resolved, and the relay's batch loops hung
// forever after a Postgres restart (found by stopping the relay after test/faults/postgres-restart).
// The patch leaves a reserve queued when it reconnects for it, and takes a reserve out of the queue
// when its connect fails: otherwise the next connection to open would be handed to a request that
// has already failed, and stay reserved for nobody.
const POOL_EDITS = [
  [
    '    queries.length && connect(c, queries.shift())\n',
    `    if (queries.length) { // ${MARK}: a reserve stays queued while its connection is re-made\n` +
      '      const query = queries.shift()\n      query.reserve && queries.push(query)\n      connect(c, query)\n    }\n',
    1,
  ],
  ['        const query = { reserve: resolve, reject }\n', `        const query = { reserve: resolve, reject: (err) => (queries.remove(query), reject(err)) } // ${MARK}\n`, 1],
];
const EDITS = { 'connection.js': CONNECTION_EDITS, 'index.js': POOL_EDITS };

class PatchError extends Error {}

function main() {
  const pkgUrl = new URL('package.json', root);
  if (!existsSync(pkgUrl)) throw new PatchError('node_modules/postgres is not installed; run `npm ci`.');
  const { version } = JSON.parse(readFileSync(pkgUrl, 'utf8'));
  if (version !== VERSION) {
    throw new PatchError(
      `node_modules/postgres is ${version}, the patch is written for ${VERSION}: run \`npm ci\` (package.json pins ${VERSION}); ` +
        `to upgrade, check porsager/postgres#1208 is fixed in ${version} and drop this patch, or port it and change VERSION.`,
    );
  }
  // Every file is checked before any is written, so a failure leaves the driver as it was.
  const writes = [];
  for (const file of FILES) {
    const url = new URL(file, root);
    if (!existsSync(url)) throw new PatchError(`postgres/${file} is missing from postgres ${VERSION}: reinstall it with \`npm ci\`.`);
    const original = readFileSync(url, 'utf8');
    let text = original;
    for (const [anchor, replacement, count] of EDITS[file.split('/').pop()]) {
      if (text.includes(replacement)) continue; // this edit is in already (an older patch run)
      const found = text.split(anchor).length - 1;
      if (found !== count) {
        throw new PatchError(
          `expected ${count} of ${JSON.stringify(anchor)} in postgres/${file}, found ${found}: the code the patch edits is not there; reinstall postgres ${VERSION} with \`npm ci\`.`,
        );
      }
      text = text.replaceAll(anchor, replacement);
    }
    if (text !== original) writes.push([url, text]);
  }
  for (const [url, text] of writes) writeFileSync(url, text);
}

try {
  main();
} catch (err) {
  if (!(err instanceof PatchError)) throw err;
  console.error(`patches/postgres.mjs: ${err.message}`);
  process.exit(1);
}
