// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layers from DESIGN.md: a package may import only packages below it.
const layers = ['kube', 'sync', 'plugin-proto', 'plugin-sdk', 'kubenest', 'testing'];
const layerRules = layers.map((name, index) => ({
  files: [`packages/${name}/src/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: layers.slice(index + 1).map((higher) => ({
        group: [`@kubenest/${higher}`, `@kubenest/${higher}/*`],
        message: `layer "${name}" must not import the higher layer "${higher}" (DESIGN.md, Layers)`,
      })),
    }],
  },
}));

export default tseslint.config(
  { ignores: ['node_modules/', '**/dist/', 'eslint.config.js', 'packages/plugin-proto/src/gen/', 'packages/plugin-proto/src/gen.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', {
        // node:test runs suites and tests it was handed; their returned promises need no await.
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after'] }],
      }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
      'no-console': 'off',
    },
  },
  ...layerRules,
  {
    // process.kill(0) or a negative pid signals a whole process group: a pid read from a file being
    // written is 0, and a test that sent SIGKILL to it killed the test runner and CI. One guarded
    // place signals processes (it refuses anything but a positive pid).
    files: ['**/*.ts'],
    ignores: ['packages/kubenest/src/controlplane/pids.ts'],
    rules: {
      'no-restricted-properties': ['error', {
        object: 'process', property: 'kill',
        message: 'use signalProcess/signalGroup (controlplane/pids.ts) or killProcess (@kubenest/testing): they refuse pid 0 and process groups',
      }],
    },
  },
);
