import type { Handler } from '@cluster-control/core';

// Placeholder while the template handler is being written; replaced in the same change.
export const template: Handler<Record<string, never>> = {
  name: 'template',
  parseOptions() {
    throw new Error('the template handler is not written yet');
  },
  render() {
    throw new Error('the template handler is not written yet');
  },
};
