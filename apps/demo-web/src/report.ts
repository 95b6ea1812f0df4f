import { compareMemberNames } from '@cluster-control/core/model';

/** One database as a web server sees it: its id, or why it could not be asked. */
export type DatabaseResult = { name: string; id: string } | { name: string; error: string };

export interface WebReport {
  name: string;
  databases: DatabaseResult[];
}

const MAX_ID_LENGTH = 200;

/** A database's answer to GET / → its id; anything else is a short error. */
export function databaseResult(name: string, answer: unknown): DatabaseResult {
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) return { name, error: 'answer is not a JSON object' };
  const id = (answer as Record<string, unknown>).id;
  if (typeof id !== 'string' || id === '') return { name, error: 'answer has no id' };
  if (id.length > MAX_ID_LENGTH) return { name, error: 'id too long' };
  return { name, id };
}

/** The databases sorted by name, in core's member order (IPv4 numerically, then port). */
export function buildWebReport(name: string, results: readonly DatabaseResult[]): WebReport {
  return { name, databases: [...results].sort((a, b) => compareMemberNames(a.name, b.name)) };
}
