// Loads a folder of golden vectors written by the Rust tests: `index.json` lists them, each is
// `NAME.bin` (the bytes) plus `NAME.json` (their meaning). Shared by the browser client's tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** `{index, vectors: [{name, kind, bytes, meaning}]}` of `protocol/golden/<sub>`. */
export function loadGolden(sub = '') {
  const dir = path.resolve(here, '../../protocol/golden', sub);
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const vectors = index.vectors.map(({ name, kind }) => ({
    name,
    kind,
    bytes: new Uint8Array(readFileSync(path.join(dir, `${name}.bin`))),
    meaning: JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8')),
  }));
  return { index, vectors };
}
