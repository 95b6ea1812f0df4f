import { type Observation, type WebServerRow, computeAgreement } from './agreement.js';

/** The body of GET /report.json (and of every `report` event). */
export interface LbReport {
  loadBalancer: string;
  generatedAt: string;
  webServers: WebServerRow[];
  databases: string[];
  consistent: boolean;
}

const MAX_ID_LENGTH = 200;
const MAX_ERROR_LENGTH = 300;

/**
 * A web server's answer to GET /report → what it says about its databases. Untrusted: anything
 * unexpected becomes an error. Databases it could not ask are listed in `error`.
 */
export function observe(name: string, answer: unknown): Observation {
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) return { name, databases: undefined, error: 'answer is not a JSON object' };
  const databases = (answer as Record<string, unknown>).databases;
  if (!Array.isArray(databases)) return { name, databases: undefined, error: 'answer has no database list' };
  const ids: string[] = [];
  const problems: string[] = [];
  for (const entry of databases as unknown[]) {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const db = typeof e.name === 'string' ? e.name.slice(0, 100) : '?';
    if (typeof e.id === 'string' && e.id !== '' && e.id.length <= MAX_ID_LENGTH) ids.push(e.id);
    else problems.push(`${db}: ${typeof e.error === 'string' ? e.error.slice(0, 100) : 'no id'}`);
  }
  const observation: Observation = { name, databases: ids };
  if (problems.length > 0) observation.error = truncate(`database ${problems.join('; ')}`, MAX_ERROR_LENGTH);
  return observation;
}

/** A web server that could not be asked at all. */
export function unreachable(name: string, message: string): Observation {
  return { name, databases: undefined, error: truncate(message, MAX_ERROR_LENGTH) };
}

export function buildReport(loadBalancer: string, generatedAt: Date, observations: readonly Observation[]): LbReport {
  const { webServers, databases, consistent } = computeAgreement(observations);
  return { loadBalancer, generatedAt: generatedAt.toISOString(), webServers, databases, consistent };
}

/** Equal keys = the same report apart from when it was generated. */
export function reportKey(report: LbReport): string {
  return JSON.stringify([report.loadBalancer, report.webServers, report.databases, report.consistent]);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
