import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeepAliveStream } from './keepalive-stream.js';

/** A LeaseKeepAlive duplex stand-in: records writes; the test emits etcd's answers. */
function fakeStream() {
  const stream = Object.assign(new EventEmitter(), {
    written: [] as string[],
    write(message: { ID: string }) {
      stream.written.push(message.ID);
      return true;
    },
    cancel() {},
    end() {},
  });
  const answer = (id: string, ttl: number) => stream.emit('data', { ID: id, TTL: String(ttl) });
  const keepAlive = new KeepAliveStream(stream, {});
  return { stream, answer, keepAlive };
}

describe('KeepAliveStream', () => {
  afterEach(() => vi.useRealTimers());

  it('resolves each keepalive with the answer for its lease, whatever the order of answers', async () => {
    const { stream, answer, keepAlive } = fakeStream();
    const a = keepAlive.send('1', 5_000);
    const b = keepAlive.send('2', 5_000);
    const c = keepAlive.send('3', 5_000);
    expect(stream.written).toEqual(['1', '2', '3']);
    answer('2', 20);
    answer('99', 7); // not ours: ignored
    answer('3', 30);
    answer('1', 0); // the lease is gone
    expect(await Promise.all([a, b, c])).toEqual([0, 20, 30]);
    expect(keepAlive.broken).toBe(false);
  });

  it('answers two keepalives of the same lease in the order they were sent', async () => {
    const { answer, keepAlive } = fakeStream();
    const first = keepAlive.send('7', 5_000);
    const second = keepAlive.send('7', 5_000);
    answer('7', 10);
    expect(await first).toBe(10);
    answer('7', 9);
    expect(await second).toBe(9);
    answer('7', 8); // nothing waiting any more
  });

  it('keeps thousands of keepalives in flight apart', async () => {
    const { answer, keepAlive } = fakeStream();
    const ids = Array.from({ length: 20_000 }, (_, i) => String(i + 1));
    const pending = ids.map((id) => keepAlive.send(id, 60_000));
    for (const id of [...ids].reverse()) answer(id, Number(id));
    expect(await Promise.all(pending)).toEqual(ids.map(Number));
  });

  it('a broken stream rejects every waiting keepalive; an idle break is remembered', async () => {
    const busy = fakeStream();
    const a = busy.keepAlive.send('1', 5_000);
    const b = busy.keepAlive.send('1', 5_000);
    const c = busy.keepAlive.send('2', 5_000);
    busy.stream.emit('error', new Error('reset'));
    for (const p of [a, b, c]) await expect(p).rejects.toThrow('reset');
    expect(busy.keepAlive.broken).toBe(true);
    expect(busy.keepAlive.idleError).toBeUndefined();

    const idle = fakeStream();
    idle.stream.emit('end');
    expect(idle.keepAlive.broken).toBe(true);
    expect(idle.keepAlive.idleError?.message).toMatch(/ended by etcd/);
  });

  it('an unanswered keepalive breaks the stream and fails everything waiting', async () => {
    vi.useFakeTimers();
    const { answer, keepAlive } = fakeStream();
    const late = keepAlive.send('1', 1_000);
    const other = keepAlive.send('2', 5_000);
    late.catch(() => {});
    other.catch(() => {});
    vi.advanceTimersByTime(1_000);
    await expect(late).rejects.toThrow(/not answered within 1000 ms/);
    await expect(other).rejects.toThrow(/not answered within 1000 ms/);
    expect(keepAlive.broken).toBe(true);
    answer('2', 10); // too late: nothing left to resolve
  });

  it('destroy fails what is waiting', async () => {
    const { keepAlive } = fakeStream();
    const pending = keepAlive.send('1', 5_000);
    keepAlive.destroy();
    await expect(pending).rejects.toThrow('keepalive stream closed');
  });
});
