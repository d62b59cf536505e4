// postinstall: patches postgres.js 3.4.9 (the latest release) against an upstream bug that takes
// the whole process down when Postgres restarts: porsager/postgres#1208 (also #1066, #1154; the
// fixes proposed in #1168, #1209 and #1215 are not released).
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
// the first query after the reconnect). Idempotent; on another postgres version it only warns, so an upgrade is
// never blocked (check then whether the upstream fix is in, and drop this file).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const VERSION = '3.4.9';
const MARK = 'pizza-outbox patch (porsager/postgres#1208)';
const root = new URL('../node_modules/postgres/', import.meta.url);

// [anchor, replacement, how many times the anchor occurs]
const EDITS = [
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
  [
    '    clearImmediate(nextWriteTimer)\n    if (socket) {\n',
    `    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null // ${MARK}\n    if (socket) {\n`,
    1,
  ],
  // closed(): the same, and the error the dead backend sent for its last query (57P01 …) is not
  // handed to the first query on the reconnected socket.
  [
    '    incomings = null\n    clearImmediate(nextWriteTimer)\n',
    `    incomings = null\n    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = errorResponse = null // ${MARK}\n`,
    1,
  ],
];

function main() {
  const pkgUrl = new URL('package.json', root);
  if (!existsSync(pkgUrl)) return; // postgres not installed (yet)
  const { version } = JSON.parse(readFileSync(pkgUrl, 'utf8'));
  if (version !== VERSION) {
    console.warn(`patches/postgres.mjs: postgres is ${version}, not ${VERSION}; not patched. Check porsager/postgres#1208 is fixed in it, then remove this patch.`);
    return;
  }
  for (const file of ['src/connection.js', 'cjs/src/connection.js', 'cf/src/connection.js']) {
    const url = new URL(file, root);
    if (!existsSync(url)) continue;
    let text = readFileSync(url, 'utf8');
    if (text.includes(MARK)) continue;
    for (const [anchor, replacement, count] of EDITS) {
      const found = text.split(anchor).length - 1;
      if (found !== count) throw new Error(`patches/postgres.mjs: expected ${count} of ${JSON.stringify(anchor)} in postgres/${file}, found ${found}`);
      text = text.replaceAll(anchor, replacement);
    }
    writeFileSync(url, text);
  }
}

main();
