import fs from 'node:fs';
import path from 'node:path';

/** A worker thread's entry (`eval: true`): the compiled JavaScript beside `dir`, or its TypeScript source through tsx. */
export function threadScript(dir: string, name: string): string {
  const js = path.join(dir, `${name}.js`);
  if (fs.existsSync(js)) return `require(${JSON.stringify(js)});`;
  return `require('tsx/cjs'); require(${JSON.stringify(path.join(dir, `${name}.ts`))});`;
}
