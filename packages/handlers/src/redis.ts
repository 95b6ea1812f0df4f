import type { Handler } from '@cluster-control/core';

// Placeholder while the redis handler is being written; replaced in the same change.
export const redis: Handler<Record<string, never>> = {
  name: 'redis',
  parseOptions() {
    throw new Error('the redis handler is not written yet');
  },
  render() {
    throw new Error('the redis handler is not written yet');
  },
};
