/** docs/methods.md is generated from the method and parameter tables; it must not go stale. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PARAMETERS } from '../../src/core/merge/methods/parameters';
import { METHODS } from '../../src/core/merge/methods/registry';
import { METHOD_DOCS_PATH, renderMethodDocs } from '../../tools/method-docs';

describe('docs/methods.md', () => {
  it('matches the tables (regenerate with `npx tsx tools/gen-method-docs.ts`)', () => {
    expect(readFileSync(METHOD_DOCS_PATH, 'utf8')).toBe(renderMethodDocs());
  });

  it('documents every method and every parameter', () => {
    const text = renderMethodDocs();
    for (const m of Object.keys(METHODS)) expect(text).toContain(`### \`${m}\``);
    for (const p of Object.keys(PARAMETERS)) expect(text).toContain(`| \`${p}\` |`);
  });
});
