import type { AnyHandler } from '@cluster-control/core';
import { apache } from './apache.js';
import { haproxy } from './haproxy.js';
import { json } from './json.js';
import { mysql } from './mysql.js';
import { nginx } from './nginx.js';
import { redis } from './redis.js';
import { template } from './template.js';

export { apache, type ApacheOptions } from './apache.js';
export { haproxy, type HaproxyOptions } from './haproxy.js';
export { json, type JsonOptions } from './json.js';
export { mysql, type MysqlOptions } from './mysql.js';
export { nginx, type NginxOptions } from './nginx.js';
export { redis, type RedisOptions } from './redis.js';
export { template, type TemplateOptions } from './template.js';

/** Built-in handlers by the name used in `handler` in the configuration. */
export const builtinHandlers: Readonly<Record<string, AnyHandler>> = { apache, haproxy, json, mysql, nginx, redis, template };
