import type { Handler } from '@cluster-control/core';

// Placeholder while the haproxy handler is being written; replaced in the same change.
export const haproxy: Handler<Record<string, never>> = {
  name: 'haproxy',
  parseOptions() {
    throw new Error('the haproxy handler is not written yet');
  },
  render() {
    throw new Error('the haproxy handler is not written yet');
  },
};
