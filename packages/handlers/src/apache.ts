import type { Handler } from '@cluster-control/core';

// Placeholder while the apache handler is being written; replaced in the same change.
export const apache: Handler<Record<string, never>> = {
  name: 'apache',
  parseOptions() {
    throw new Error('the apache handler is not written yet');
  },
  render() {
    throw new Error('the apache handler is not written yet');
  },
};
