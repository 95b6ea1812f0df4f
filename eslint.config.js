// @ts-check
// Type-aware lint for the whole repo (`pnpm lint`). Every file is linted with its own tsconfig.json
// (typescript-eslint's project service: packages/*, apps/*, test/, bench/, demo/), so the rules see
// the same types as `tsc`. Formatting is Prettier's job (.prettierrc.json), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', 'test-artifacts/**', 'bench/results/**', 'coverage/**', '.turbo/**'],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          // Files that no tsconfig.json includes get a default project with the base options.
          allowDefaultProject: ['*.js', '*.ts', 'packages/cli/bin.cjs', 'scripts/*.mjs', 'packages/*/scripts/*.mjs'],
          defaultProject: 'tsconfig.base.json',
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The three this setup exists for: a promise nobody awaits or catches, a promise where a
      // void callback is expected (event handlers, setTimeout), and `import type` for types only.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // Off: nearly every hit is a test fake or a callback implementing a Promise-returning
      // interface without awaiting anything; `async` there is deliberate (a throw becomes a
      // rejection), and rewriting them as Promise.resolve(...) would be churn without a bug found.
      '@typescript-eslint/require-await': 'off',
      // reject(err) in a catch block passes on what was caught, as `throw err` would (which
      // only-throw-error allows); wrapping it would lose its class, which callers test.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // `_name` marks a parameter a signature requires but the body does not use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests parse JSON and hand it straight to expect(): the no-unsafe-* rules fired only there
    // (about 20 hits, none a bug) in TypeScript, while product code has none and keeps them.
    files: ['**/*.test.ts', 'test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    rules: {
      // TypeScript checks names (checkJs); ESLint's no-undef knows no Node globals without a list.
      'no-undef': 'off',
      // The .mjs scripts are type-checked with noImplicitAny off (bench/ and demo/ tsconfig.json):
      // an untyped parameter is `any`, so these would flag every use of one (about 1,300 hits in
      // bench/ and demo/) until each of them had a JSDoc type.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // CommonJS files (the CLI's bin.cjs) load modules with require().
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
