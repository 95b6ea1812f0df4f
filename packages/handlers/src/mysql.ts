import type { Handler } from '@cluster-control/core';

// Placeholder while the mysql handler is being written; replaced in the same change.
export const mysql: Handler<Record<string, never>> = {
  name: 'mysql',
  parseOptions() {
    throw new Error('the mysql handler is not written yet');
  },
  render() {
    throw new Error('the mysql handler is not written yet');
  },
};
