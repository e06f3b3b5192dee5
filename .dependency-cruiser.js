/**
 * Import rules for src/ (issue 9 "rules that keep it so"), run by `npm run lint`:
 * no cycle between files or folders; core/ and policy/ stay free of runtime I/O; servers/ depends
 * only on core/, assertion/verify and libraries; storage/ knows no HTTP.
 * Type-only imports are erased at compile time, so the I/O rule lets them through; cycles count
 * them, because a type cycle is still a design cycle.
 */
const TESTS = '\\.test(-suite)?\\.ts$';
/** node: built-ins arrive without their `node:` prefix; packages as their resolved file. */
const RUNTIME_IO =
  '^(http|https|http2|net|tls|dgram|fs|fs/promises|child_process)$' +
  '|^node_modules/(pg|better-sqlite3|undici)/';
const HTTP = '^(http|https|http2)$|^node_modules/undici/|^src/(http|proxy|web)/';

/** Folders of src/ form a layering: no folder reaches back into one that uses it. */
const noFolderCycle = {
  name: 'no-folder-cycle',
  comment: 'Folders of src/ form a layering: no folder reaches back into one that uses it.',
  severity: 'error',
  scope: 'folder',
  from: { path: '^src' },
  to: { circular: true },
};

export default {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'No import cycle between files of src/.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    noFolderCycle,
    {
      name: 'core-no-io',
      comment:
        'core/ and policy/ are pure: they take streams and responses as parameters and import ' +
        'no runtime I/O module (type-only imports are fine).',
      severity: 'error',
      from: { path: '^src/(core|policy)/', pathNot: TESTS },
      to: { path: RUNTIME_IO, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'servers-imports',
      comment:
        'The reference servers stand alone: they import only core/, assertion/verify, their own ' +
        'files and libraries, never the gateway.',
      severity: 'error',
      from: { path: '^src/servers/', pathNot: TESTS },
      to: { path: '^src/', pathNot: '^src/(servers/|core/|assertion/verify\\.ts$)' },
    },
    {
      name: 'storage-no-http',
      comment: 'storage/ knows no HTTP: no HTTP module, not even its types, and no HTTP folder.',
      severity: 'error',
      from: { path: '^src/storage/', pathNot: TESTS },
      to: { path: HTTP },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: '^node_modules' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
