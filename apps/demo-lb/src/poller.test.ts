import { describe, expect, it } from 'vitest';
import type { Peer } from '@cluster-control/demo-shared';
import type { Observation } from './agreement.js';
import { Poller } from './poller.js';

const peer = (name: string): Peer => ({ name, url: `http://${name}` });

describe('Poller', () => {
  it('asks every peer, publishes rounds, and drops a round that a list change overtook', async () => {
    let peers = [peer('a:1'), peer('b:1')];
    const rounds: string[][] = [];
    let holdA: (() => void) | undefined;
    const poller = new Poller({
      peers: () => peers,
      ask: async (p): Promise<Observation> => {
        if (p.name === 'a:1' && rounds.length === 1 && !holdA) await new Promise<void>((resolve) => (holdA = resolve));
        return { name: p.name, databases: [] };
      },
      onRound: (observations) => rounds.push(observations.map((o) => o.name)),
      intervalMs: 10,
    });
    await poller.start();
    expect(rounds).toEqual([['a:1', 'b:1']]);
    // The second round waits on a:1; meanwhile the list changes.
    await new Promise<void>((resolve) => {
      const check = () => (holdA ? resolve() : setTimeout(check, 5));
      check();
    });
    peers = [peer('c:1')];
    poller.wake();
    holdA!();
    await new Promise<void>((resolve) => {
      const check = () => (rounds.length >= 2 ? resolve() : setTimeout(check, 5));
      check();
    });
    await poller.stop();
    // The round that started with a:1 and b:1 was not published.
    expect(rounds[1]).toEqual(['c:1']);
  });

  it('stop() ends the loop and start() of a stopped poller does not hang', async () => {
    const poller = new Poller({ peers: () => [], ask: async (p) => ({ name: p.name, databases: [] }), onRound: () => {}, intervalMs: 60_000 });
    await poller.start();
    await poller.stop();
  });
});
