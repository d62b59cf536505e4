// The topology as data: checked when it is defined, answered from the declaration alone.
import { describe, expect, it } from 'vitest';
import { defineTopology } from './topology.ts';

const topology = defineTopology({
  queues: { a: { consumer: 'ca' }, 'b.two-3_x': { consumer: 'cb' } },
  routes: { 'x.made': ['a'], 'x.split': ['a', 'b.two-3_x'], 'x.noted': [] },
});

describe('defineTopology', () => {
  it('lists its queues and event types', () => {
    expect(topology.queueNames).toEqual(['a', 'b.two-3_x']);
    expect(topology.eventTypes).toEqual(['x.made', 'x.split', 'x.noted']);
  });

  it('throws when a route names a queue that is not declared', () => {
    const define = () =>
      defineTopology({
        queues: { a: { consumer: 'ca' } },
        // The types forbid it; a declaration built at run time (or cast) must still be refused.
        routes: { 'x.made': ['a', 'ghost', 'phantom'] as never[] },
      });
    expect(define).toThrow(TypeError);
    expect(define).toThrow('event x.made is routed to undeclared queue(s) ghost, phantom');
  });

  it("throws on a queue name with ':' (it would read as another BullMQ key level)", () => {
    expect(() => defineTopology({ queues: { 'a:b': { consumer: 'c' } }, routes: { 'x.made': ['a:b'] } })).toThrow(/queue name "a:b"/);
    expect(() => defineTopology({ queues: { 'a b': { consumer: 'c' } }, routes: {} })).toThrow(TypeError);
    expect(() => defineTopology({ queues: { '': { consumer: 'c' } }, routes: {} })).toThrow(TypeError);
  });

  it('routes a declared type to its queues, and an unknown type to undefined (not to nowhere)', () => {
    expect(topology.routeFor('x.made')).toEqual(['a']);
    expect(topology.routeFor('x.split')).toEqual(['a', 'b.two-3_x']);
    expect(topology.routeFor('x.noted')).toEqual([]);
    expect(topology.routeFor('x.unknown')).toBeUndefined();
    // Names inherited from Object.prototype are not routes.
    expect(topology.routeFor('constructor')).toBeUndefined();
    expect(topology.routeFor('toString')).toBeUndefined();
  });

  it('isRouted: only a type some queue consumes', () => {
    expect(topology.isRouted('x.made')).toBe(true);
    expect(topology.isRouted('x.split')).toBe(true);
    expect(topology.isRouted('x.noted')).toBe(false); // declared, routed nowhere
    expect(topology.isRouted('x.unknown')).toBe(false);
    expect(topology.isRouted('constructor')).toBe(false);
  });

  it("consumerOf names each queue's inbox consumer; isQueue knows only declared queues", () => {
    expect(topology.consumerOf('a')).toBe('ca');
    expect(topology.consumerOf('b.two-3_x')).toBe('cb');
    expect(topology.isQueue('a')).toBe(true);
    expect(topology.isQueue('c')).toBe(false);
    expect(topology.isQueue('hasOwnProperty')).toBe(false);
  });
});
