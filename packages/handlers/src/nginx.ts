import type { Handler } from '@cluster-control/core';

// Placeholder while the nginx handler is being written; replaced in the same change.
export const nginx: Handler<Record<string, never>> = {
  name: 'nginx',
  parseOptions() {
    throw new Error('the nginx handler is not written yet');
  },
  render() {
    throw new Error('the nginx handler is not written yet');
  },
};
