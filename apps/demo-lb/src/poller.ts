import type { Peer } from '@cluster-control/demo-shared';
import type { Observation } from './agreement.js';

export interface PollerOptions {
  /** The web servers to ask now. */
  peers: () => readonly Peer[];
  /** Asks one web server; never rejects. */
  ask: (peer: Peer) => Promise<Observation>;
  /** Every completed round, for the current list. */
  onRound: (observations: Observation[]) => void;
  intervalMs: number;
}

/**
 * Asks every web server (in parallel) every `intervalMs` and at once when the list changes
 * (wake()). A round that started before a change is thrown away and asked again.
 */
export class Poller {
  private generation = 0;
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private firstRound: Promise<void>;
  private firstRoundDone!: () => void;

  constructor(private readonly options: PollerOptions) {
    this.firstRound = new Promise((resolve) => (this.firstRoundDone = resolve));
  }

  /** Starts polling; resolves once the first round is in. */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.firstRound;
  }

  /** The list changed: start a new round now. */
  wake(): void {
    this.generation++;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    this.firstRoundDone();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const generation = this.generation;
      const observations = await Promise.all(this.options.peers().map((peer) => this.options.ask(peer)));
      if (this.stopped) break;
      if (generation !== this.generation) continue;
      this.options.onRound(observations);
      this.firstRoundDone();
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.wakeUp = undefined;
          resolve();
        };
        const timer = setTimeout(done, this.options.intervalMs);
        this.wakeUp = done;
        if (this.stopped || generation !== this.generation) done();
      });
    }
  }
}
