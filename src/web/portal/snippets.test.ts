import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { clientSnippets, shellWord, snippetName } from './snippets.js';

describe('portal snippets', () => {
  it('names a server as client configurations key it', () => {
    assert.equal(snippetName('SQLite demo', 'https://db.example.com/sqlite'), 'sqlite-demo');
    assert.equal(snippetName('  Ünïcode / DB!  ', 'https://x.example/mcp'), 'n-code-db');
    assert.equal(snippetName('***', 'https://x.example/team/notes'), 'team-notes');
    assert.equal(snippetName('***', 'https://x.example/'), 'mcp');
  });

  it('Claude Code: one shell command whose words the shell reads back unchanged', () => {
    const url = "https://x.example/mcp?a=1&b='two' $(id)";
    const [claude] = clientSnippets('Notes', url);
    assert.equal(claude?.client, 'Claude Code');
    assert.match(claude?.text ?? '', /^claude mcp add --transport http notes /);
    const words = execFileSync('sh', ['-c', `printf '%s\\n' ${claude!.text.slice(7)}`], {
      encoding: 'utf8',
    });
    assert.deepEqual(words.trimEnd().split('\n'), [
      'mcp',
      'add',
      '--transport',
      'http',
      'notes',
      url,
    ]);
    assert.equal(shellWord('https://db.example.com/sqlite'), 'https://db.example.com/sqlite');
  });

  it('VS Code and Cursor: mcp.json in their own shapes', () => {
    const url = 'https://db.example.com/sqlite';
    const [, vscode, cursor] = clientSnippets('DB', url);
    assert.match(vscode?.where ?? '', /\.vscode\/mcp\.json/);
    assert.deepEqual(JSON.parse(vscode!.text), { servers: { db: { type: 'http', url } } });
    assert.match(cursor?.where ?? '', /~\/\.cursor\/mcp\.json/);
    assert.deepEqual(JSON.parse(cursor!.text), { mcpServers: { db: { url } } });
  });
});
