import type { LbReport } from './report.js';

/** Control characters (and Unicode line breaks) would let untrusted text forge lines: shown as "?". */
export function sanitizeLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this replaces
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
}

/**
 * One line per web server — "<name>  <ids comma-separated>[  DISAGREES | ERROR <msg>]" ("-" for
 * no ids) — then "web servers: N, databases: M, consistent: yes|no".
 */
export function renderText(report: LbReport): string {
  const lines = report.webServers.map((w) => {
    const ids = w.databases.length > 0 ? w.databases.join(',') : '-';
    const mark = w.error !== undefined ? `  ERROR ${w.error}` : w.agrees ? '' : '  DISAGREES';
    return sanitizeLine(`${w.name}  ${ids}${mark}`);
  });
  lines.push(`web servers: ${report.webServers.length}, databases: ${report.databases.length}, consistent: ${report.consistent ? 'yes' : 'no'}`);
  return lines.join('\n') + '\n';
}
