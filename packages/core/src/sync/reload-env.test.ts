import { describe, expect, it } from 'vitest';
import type { Member } from '../model/member.js';
import { MAX_MEMBERS_ENV_BYTES, reloadEnvironment } from './reload-env.js';

const member = (i: number): Member => {
  const name = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`;
  return { name, host: name.slice(0, -5), port: 8080, key: `/clusters/web/${name}`, value: '', meta: {} };
};

describe('reloadEnvironment', () => {
  it('names the cluster, the file and the members, space-separated', () => {
    expect(reloadEnvironment('web', '/etc/web.json', [member(1), member(2)])).toEqual({
      CLUSTER_CONTROL_CLUSTER: 'web',
      CLUSTER_CONTROL_FILE: '/etc/web.json',
      CLUSTER_CONTROL_MEMBER_COUNT: '2',
      CLUSTER_CONTROL_MEMBERS: '10.0.0.1:8080 10.0.0.2:8080',
    });
  });

  it('leaves out a member list too long for one environment string, and says so', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => member(i));
    const env = reloadEnvironment('web', '/etc/web.json', many);
    expect(many.map((m) => m.name).join(' ').length).toBeGreaterThan(MAX_MEMBERS_ENV_BYTES);
    expect(env.CLUSTER_CONTROL_MEMBERS).toBeUndefined();
    expect(env.CLUSTER_CONTROL_MEMBERS_OMITTED).toBe('1');
    expect(env.CLUSTER_CONTROL_MEMBER_COUNT).toBe('10000');
  });

  it('keeps a list just under the limit', () => {
    const few = Array.from({ length: 5_000 }, (_, i) => member(i));
    const env = reloadEnvironment('web', '/etc/web.json', few);
    expect(Buffer.byteLength(env.CLUSTER_CONTROL_MEMBERS ?? '')).toBeLessThanOrEqual(MAX_MEMBERS_ENV_BYTES);
    expect(env.CLUSTER_CONTROL_MEMBERS?.split(' ')).toHaveLength(5_000);
  });
});
