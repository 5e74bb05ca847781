// The layers of src/, bottom to top (DESIGN.md): a folder imports only from folders below it,
// never from its own layer's neighbours above, and nothing imports in a cycle. CLI commands
// share helpers through src/cli/shared.ts and never import each other or main.ts.
const LAYERS = [
  'core',
  'math',
  'io',
  'backend',
  'onnx',
  'data',
  'bases',
  'graft',
  'engine',
  'evaluate',
  'train',
  'strategies',
  'kinds',
  'browser',
  'pretrain',
  'experiments',
  'studio',
  'serve',
  'sweep',
  'cli',
];

const upward = LAYERS.map((layer, i) => ({
  name: `${layer}-imports-down`,
  comment: `src/${layer} may import only from ${LAYERS.slice(0, i).join(', ') || 'no other folder'}`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${LAYERS.slice(i + 1).join('|') || 'none'})/` },
}));

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    ...upward,
    {
      name: 'commands-stand-alone',
      comment: 'a command imports no other command and not main.ts: shared pieces live in src/cli/shared.ts',
      severity: 'error',
      from: { path: '^src/cli/commands/([^/.]+)' },
      to: { path: '^src/cli/(main\\.ts|commands/)', pathNot: '^src/cli/commands/$1' },
    },
    {
      name: 'browser-is-a-leaf',
      comment: 'src/browser is graft/browser, an entry of its own for pages: nothing in src imports it',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/browser/' },
      to: { path: '^src/browser/' },
    },
    {
      name: 'library-is-not-the-cli',
      comment: 'the library never prints or exits: nothing below src/cli imports it',
      severity: 'error',
      from: { pathNot: '^src/cli/|^src/index\\.ts|^bin/|^test/|^bench/' },
      to: { path: '^src/cli/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
