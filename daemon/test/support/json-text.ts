// Text-level JSON helpers for property tests: random edits of JSON text, and what JSON.parse
// does not tell (duplicate keys, which Elasticsearch refuses).
import type { Random } from '../../src/generate/relay-records.js';

/** A lone surrogate has no UTF-8: the decoder never hands one over. */
export function wellFormed(text: string): boolean {
  return Buffer.from(text).toString() === text;
}

/** One random edit: delete, insert or replace a character with one that matters to JSON. */
export function mutate(rnd: Random, text: string): string {
  const alphabet = [
    ...'{}[]":,\\ 0123456789-+.eEtrufalsn',
    '\t',
    '\n',
    '\u0001',
    '\u007f',
    'é',
    'x',
    'u',
    '"\\u00',
  ];
  const at = rnd.int(0, text.length);
  const c = rnd.pick(alphabet);
  switch (rnd.int(0, 2)) {
    case 0:
      return text.slice(0, at) + text.slice(at + 1);
    case 1:
      return text.slice(0, at) + c + text.slice(at);
    default:
      return text.slice(0, at) + c + text.slice(at + 1);
  }
}

/**
 * The top-level keys of a JSON object's text (valid JSON), decoded, in order and with repeats:
 * JSON.parse keeps the last of two equal keys, Elasticsearch refuses the document.
 */
export function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = depth === 1;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
  }
  return keys;
}

/** What JSON.parse says of the text: an object, or not one (invalid, or another JSON value). */
export function parsedObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
