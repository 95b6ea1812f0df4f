import { lookup as dnsLookup } from 'node:dns/promises';

export type Resolution = { ok: true; addresses: string[] } | { ok: false; reason: string };

export interface HostResolverOptions {
  /** One lookup's bound; a resolver that does not answer in time counts as "does not resolve". */
  timeoutMs?: number;
  /** How long an answer is reused. */
  ttlMs?: number;
  /** How long a failure is reused before the name is tried again. */
  negativeTtlMs?: number;
  /** Names kept at most (oldest forgotten first). */
  maxEntries?: number;
  /** The system resolver by default (getaddrinfo: /etc/hosts, DNS, ...). */
  lookup?: (host: string) => Promise<string[]>;
  now?: () => number;
}

const systemLookup = async (host: string) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Resolves member host names at render time, bounded and cached: a name that does not resolve
 * quarantines its member (rather than failing the `check`, e.g. nginx -t, for everyone), and a
 * slow resolver costs each name at most `timeoutMs` per `negativeTtlMs`.
 */
export class HostResolver {
  private readonly cache = new Map<string, { until: number; result: Resolution }>();
  private readonly inFlight = new Map<string, Promise<Resolution>>();
  private readonly timeoutMs: number;
  private readonly ttlMs: number;
  readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly lookup: (host: string) => Promise<string[]>;
  private readonly now: () => number;

  constructor(options: HostResolverOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.ttlMs = options.ttlMs ?? 60_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 15_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.lookup = options.lookup ?? systemLookup;
    this.now = options.now ?? Date.now;
  }

  resolve(host: string): Promise<Resolution> {
    const cached = this.cache.get(host);
    if (cached && cached.until > this.now()) return Promise.resolve(cached.result);
    const running = this.inFlight.get(host);
    if (running) return running;
    const promise = this.lookupBounded(host).then((result) => {
      this.inFlight.delete(host);
      if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
      this.cache.delete(host); // re-inserted last: the map's order is the forgetting order
      this.cache.set(host, { until: this.now() + (result.ok ? this.ttlMs : this.negativeTtlMs), result });
      return result;
    });
    this.inFlight.set(host, promise);
    return promise;
  }

  private async lookupBounded(host: string): Promise<Resolution> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Resolution>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: `host name ${host} did not resolve within ${this.timeoutMs} ms` }), this.timeoutMs);
      timer.unref();
    });
    const answer = this.lookup(host).then(
      (addresses): Resolution => (addresses.length > 0 ? { ok: true, addresses } : { ok: false, reason: `host name ${host} has no addresses` }),
      (err: unknown): Resolution => ({ ok: false, reason: `host name ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? String(err)})` }),
    );
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
