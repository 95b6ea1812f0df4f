import { constants } from 'node:os';

/**
 * `SIGHUP`, `HUP` or `sighup` → `SIGHUP`, if this system knows the signal and it can be caught
 * (SIGKILL and SIGSTOP cannot be a reload or stop request). Undefined otherwise.
 */
export function parseSignalName(text: string): NodeJS.Signals | undefined {
  const upper = text.toUpperCase();
  const name = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (!Object.hasOwn(constants.signals, name) || name === 'SIGKILL' || name === 'SIGSTOP') return undefined;
  return name;
}
