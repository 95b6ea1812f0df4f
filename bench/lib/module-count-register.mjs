// @ts-check
// `node --import ./module-count-register.mjs ...`: installs module-count-hooks.mjs.
import { register } from 'node:module';

register('./module-count-hooks.mjs', import.meta.url);
