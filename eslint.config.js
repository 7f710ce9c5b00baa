// ESLint (flat config) with typescript-eslint; Prettier formats (printWidth 120, .prettierrc.json).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'test/golden/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Lines stay within 120 columns. Two kinds of line are exempt: the text of tagged shell
      // templates (probe`...`, mutate`...`: the exact script a VM runs, which the golden plans pin
      // byte for byte; breaking a line would change the script) and regular expressions in tests.
      'max-len': ['error', { code: 120, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true }],
      // Small files and functions (tests excepted below); an exception names its reason in an eslint-disable.
      'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // vm/ holds the files meshbook ships to VMs byte for byte (the golden plans pin their digests)
    files: ['vm/**'],
    rules: { 'max-len': 'off' },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: { 'max-lines': 'off', 'max-lines-per-function': 'off' },
  },
);
