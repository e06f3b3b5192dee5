import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { longFiles, longFunctions } from './lint-allowlist.js';

const SIZE = { skipBlankLines: true, skipComments: true };
const SOURCE = { files: ['src/**/*.ts'], ignores: ['**/*.test.ts', '**/*.test-suite.ts'] };

/** Issue 9: a file of src/ reads in one sitting, a function on one screen. */
const sizeRules = [
  {
    ...SOURCE,
    rules: {
      'max-lines': ['error', { max: 300, ...SIZE }],
      'max-lines-per-function': ['error', { max: 60, ...SIZE }],
    },
  },
  // Temporary allowances (lint-allowlist.js): the limit is today's length, so it cannot grow.
  ...Object.entries(longFunctions).map(([file, functions]) => ({
    files: [file],
    rules: {
      'max-lines-per-function': ['error', { max: Math.max(...Object.values(functions)), ...SIZE }],
    },
  })),
  ...Object.entries(longFiles).map(([file, lines]) => ({
    files: [file],
    rules: { 'max-lines': ['error', { max: lines, ...SIZE }] },
  })),
];

export default tseslint.config(
  { ignores: ['dist/', 'data/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'smart'],
    },
  },
  ...sizeRules,
);
