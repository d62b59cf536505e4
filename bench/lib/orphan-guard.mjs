// Preloaded into every process the harness starts (node --expose-gc --import): when the harness
// goes away, even killed outright, its IPC channel closes and this process stops itself
// gracefully. On request it collects garbage and reports its memory (the memory figures), or
// reports its memory as it is, without collecting (the memory series sampled during a drain).
// Plain JavaScript: the project's roles run compiled on plain node, with no TypeScript loader.
if (process.channel) {
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  process.on('message', (m) => {
    if (m?.type === 'mem') {
      process.send?.({ type: 'mem', ...process.memoryUsage() });
      return;
    }
    if (m?.type !== 'gc') return;
    const gc = globalThis.gc;
    gc?.();
    gc?.();
    process.send?.({ type: 'memory', collected: Boolean(gc), ...process.memoryUsage() });
  });
}
