import type { Handler } from '@cluster-control/core';
import { json } from './json.js';

export { json, type JsonOptions } from './json.js';

/** Built-in handlers by the name used in `handler` in the configuration. */
export const builtinHandlers: Record<string, Handler> = { json };
