// A service's events and where they go, declared as data and handed to the engine: which queues
// exist (each with the inbox name of the consumer that works it) and which queues each event type
// is routed to. Everything in the engine that needs routing (relay, reconciler, queues, replay, the
// audit's job checks) takes it from here; nothing reads a global.

export interface QueueSpec {
  // The name its consumer records in processed_messages.consumer (the inbox).
  consumer: string;
}

export interface TopologyDeclaration<E extends string, Q extends string> {
  queues: Readonly<Record<Q, QueueSpec>>;
  // An event type routed to no queue is still published (kept as history); a type missing here is
  // poison: the relay marks its rows dead with the reason.
  routes: Readonly<Record<E, readonly NoInfer<Q>[]>>;
}

export interface Topology<E extends string = string, Q extends string = string> {
  readonly queueNames: readonly Q[];
  readonly eventTypes: readonly E[];
  // Event types routed to no queue (history only): the relay confirms them as it publishes them.
  readonly unroutedEventTypes: readonly E[];
  routeFor(eventType: string): readonly Q[] | undefined;
  consumerOf(queue: Q): string;
  isQueue(name: string): name is Q;
  // An event written now that some queue consumes, so the relay has work to do.
  isRouted(eventType: string): boolean;
}

export function defineTopology<const E extends string, const Q extends string>(declaration: TopologyDeclaration<E, Q>): Topology<E, Q> {
  const queueNames = Object.keys(declaration.queues) as Q[];
  const eventTypes = Object.keys(declaration.routes) as E[];
  for (const [type, queues] of Object.entries<readonly string[]>(declaration.routes)) {
    const unknown = queues.filter((q) => !Object.hasOwn(declaration.queues, q));
    if (unknown.length > 0) throw new TypeError(`event ${type} is routed to undeclared queue(s) ${unknown.join(', ')}`);
  }
  for (const name of queueNames) {
    // BullMQ keys are `<prefix>:<queue>:…`; a ':' in a name would read as another key level.
    if (!/^[\w.-]+$/.test(name)) throw new TypeError(`queue name "${name}" must be letters, digits, '_', '.' or '-'`);
  }
  const routeFor = (eventType: string) => (Object.hasOwn(declaration.routes, eventType) ? declaration.routes[eventType as E] : undefined);
  return {
    queueNames,
    eventTypes,
    unroutedEventTypes: eventTypes.filter((type) => declaration.routes[type].length === 0),
    routeFor,
    consumerOf: (queue) => declaration.queues[queue].consumer,
    isQueue: (name): name is Q => Object.hasOwn(declaration.queues, name),
    isRouted: (eventType) => (routeFor(eventType)?.length ?? 0) > 0,
  };
}
