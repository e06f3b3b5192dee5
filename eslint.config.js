import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
