// Generates src/gen/ from proto/ with buf + ts-proto (buf.gen.yaml). Run by the set-up
// (scripts/env.sh) on first use and whenever a .proto file is newer than the generated code;
// the generated code is not committed (DESIGN.md: generated at build time, never edited by hand).
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const buf = join(root, '..', '..', 'node_modules', '.bin', 'buf');
const out = join(root, 'src', 'gen');
const staging = join(root, 'src', 'gen.tmp');

if (!existsSync(buf)) {
  console.error(`plugin-proto: ${buf} is missing; run \`npm ci\` in the repository root first`);
  process.exit(1);
}
rmSync(staging, { recursive: true, force: true });
// buf writes to src/gen (buf.gen.yaml); generate into a staging copy first so a failed run never
// leaves half a directory that later runs would take as complete.
const result = spawnSync(buf, ['generate', '--output', '.', '--template', JSON.stringify(template())], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  rmSync(staging, { recursive: true, force: true });
  console.error('plugin-proto: buf generate failed');
  process.exit(1);
}
writeFileSync(join(staging, '.stamp'), `${new Date().toISOString()}\n`);
rmSync(out, { recursive: true, force: true });
renameSync(staging, out);

function template(): unknown {
  // buf.gen.yaml with the output redirected to the staging directory.
  return {
    version: 'v2',
    plugins: [{
      local: join(root, '..', '..', 'node_modules', '.bin', 'protoc-gen-ts_proto'),
      out: 'src/gen.tmp',
      opt: ['outputServices=grpc-js', 'esModuleInterop=true', 'importSuffix=.ts', 'enumsAsLiterals=true', 'env=node', 'forceLong=number', 'useOptionals=none'],
    }],
  };
}

