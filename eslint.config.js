import tseslint from 'typescript-eslint';

export default tseslint.config({ ignores: ['node_modules/', 'runs/', 'models/', 'dist/', 'docs/api/'] }, ...tseslint.configs.recommended, {
  rules: {
    '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
  },
});
