import { appendFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** One scenario's outcome, as the summary table shows it. */
export interface ScenarioResult {
  scenario: string;
  /** How many times the fault was applied (restarts, kills, stalls, ...). */
  runs: number;
  /** Membership changes made in etcd during the scenario (churn included). */
  changesMade: number;
  /** Changes missing from (or wrongly present in) a watcher's file once the scenario settled. */
  changesLost: number;
  /** Registrations that vanished while their process was alive and meant to be registered. */
  falseExpiries: number;
  /** The longest time from a fault's end (or a change) to every file equalling etcd's state. */
  worstConvergeMs: number;
  /** Anything the reader should know (bounds, what was checked). */
  note?: string;
}

export const RESULTS_FILE = resolve(import.meta.dirname, '../../test-artifacts/faults/results.jsonl');

/** Records a scenario's result for the summary printed at the end of the fault suite. */
export function recordResult(result: ScenarioResult): void {
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  appendFileSync(RESULTS_FILE, JSON.stringify(result) + '\n');
}

export function resetResults(): void {
  rmSync(RESULTS_FILE, { force: true });
}

export function readResults(): ScenarioResult[] {
  try {
    return readFileSync(RESULTS_FILE, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ScenarioResult);
  } catch {
    return [];
  }
}

/** The summary table: scenario, runs, changes made, changes lost, false expiries, worst time to converge. */
export function formatSummary(results: ScenarioResult[]): string {
  const header = ['scenario', 'runs', 'changes made', 'changes lost', 'false expiries', 'worst converge'];
  const rows = [...results]
    .sort((a, b) => a.scenario.localeCompare(b.scenario, 'en', { numeric: true }))
    .map((r) => [r.scenario, String(r.runs), String(r.changesMade), String(r.changesLost), String(r.falseExpiries), `${(r.worstConvergeMs / 1000).toFixed(2)} s`]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const total = results.reduce((a, r) => ({ made: a.made + r.changesMade, lost: a.lost + r.changesLost, expiries: a.expiries + r.falseExpiries }), { made: 0, lost: 0, expiries: 0 });
  return [
    'fault suite summary',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    `${results.length} scenarios; ${total.made} changes made, ${total.lost} lost, ${total.expiries} false expiries`,
  ].join('\n');
}
