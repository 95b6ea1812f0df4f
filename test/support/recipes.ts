import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The handlers package README: its recipes are tested exactly as written. */
export const HANDLERS_README = resolve(import.meta.dirname, '../../packages/handlers/README.md');

/**
 * The fenced code block that follows `<!-- recipe: NAME -->` in the handlers README, so a test
 * uses the very text operators copy. Throws when the marker or its block is missing.
 */
export function recipe(name: string, readme = HANDLERS_README): string {
  const text = readFileSync(readme, 'utf8');
  const marker = `<!-- recipe: ${name} -->`;
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`no recipe "${name}" in ${readme}`);
  const block = /```[^\n]*\n([\s\S]*?)```/.exec(text.slice(at + marker.length));
  if (!block) throw new Error(`recipe "${name}" in ${readme} has no code block after its marker`);
  return block[1]!;
}

/** `recipe(name)` parsed as JSON (config snippets). */
export function jsonRecipe<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(recipe(name)) as T;
}
