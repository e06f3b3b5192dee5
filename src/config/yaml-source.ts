import {
  LineCounter,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  type Node as YamlNode,
} from 'yaml';
import type { ConfigIssue, Path } from './issues.js';

/** A parsed YAML document as plain data, with the line of every key and list item. */
export interface YamlSource {
  readonly value: unknown;
  /** The line of the deepest existing prefix of `path` (a missing key points at its parent). */
  lineOf(path: Path): number;
  /** Syntax errors and duplicate keys, each with its line. */
  readonly syntaxIssues: readonly ConfigIssue[];
}

const keyOf = (path: Path): string => JSON.stringify(path);

export function readYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number | undefined): number =>
    offset === undefined ? 1 : lineCounter.linePos(offset).line;
  const lines = new Map<string, number>();
  lines.set(keyOf([]), 1);

  const walk = (node: unknown, path: Path): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const child = [...path, key];
        lines.set(keyOf(child), lineAt((pair.key as YamlNode | null)?.range?.[0]));
        walk(pair.value, child);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const child = [...path, i];
        lines.set(keyOf(child), lineAt((item as YamlNode | null)?.range?.[0]));
        walk(item, child);
      });
    }
  };
  walk(doc.contents, []);

  const toIssue =
    (severity: ConfigIssue['severity']) =>
    (e: { pos: [number, number]; message: string }): ConfigIssue => ({
      severity,
      file,
      line: lineAt(e.pos[0]),
      key: '(yaml)',
      message: e.message.split('\n')[0]!,
    });
  const syntaxIssues = [
    ...doc.errors.map(toIssue('error')),
    ...doc.warnings.map(toIssue('warning')),
  ];

  return {
    value: doc.errors.length === 0 ? doc.toJS({ maxAliasCount: 100 }) : undefined,
    syntaxIssues,
    lineOf(path: Path): number {
      for (let n = path.length; n >= 0; n--) {
        const line = lines.get(keyOf(path.slice(0, n)));
        if (line !== undefined) return line;
      }
      return 1;
    },
  };
}
