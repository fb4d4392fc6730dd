import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Set by the bundler (cli/bundle.ts): in a bundle, `import.meta.url` is the bundle's own file.
declare const KUBENEST_BUNDLED_FROM: string | undefined;

/** The checkout kubenest runs from (its tools/ and committed data files are read from there). */
export const SOURCE_ROOT: string = typeof KUBENEST_BUNDLED_FROM === 'string'
  ? KUBENEST_BUNDLED_FROM
  : resolve(fileURLToPath(import.meta.url), '../../../..');
