/**
 * What a person pastes into an MCP client to add a server, in each client's current format:
 * Claude Code's `claude mcp add --transport http <name> <url>`, VS Code's `mcp.json`
 * (`servers`, `type: "http"`) and Cursor's `mcp.json` (`mcpServers`, a `url`). The client then
 * finds the gateway's OAuth from the server's 401 and asks the person to sign in.
 */

export interface Snippet {
  /** The client it is for. */
  readonly client: string;
  /** Where it goes (a file), or how it is used. */
  readonly where: string;
  readonly text: string;
}

/** A server's name as the clients' configurations key it: lower case, `[a-z0-9_-]`. */
export function snippetName(name: string, url: string): string {
  const slug = (text: string) =>
    text
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '');
  const fromPath = () => {
    try {
      return slug(new URL(url).pathname);
    } catch {
      return '';
    }
  };
  return slug(name) || fromPath() || 'mcp';
}

/** `text` as one POSIX shell word: as it is when nothing in it is special, else single-quoted. */
export function shellWord(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./~-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The three snippets for the server `name` at `url`. */
export function clientSnippets(name: string, url: string): readonly Snippet[] {
  const key = snippetName(name, url);
  const json = (value: unknown) => JSON.stringify(value, null, 2);
  return [
    {
      client: 'Claude Code',
      where: 'run in a terminal',
      text: `claude mcp add --transport http ${shellWord(key)} ${shellWord(url)}`,
    },
    {
      client: 'VS Code',
      where: '.vscode/mcp.json (or your user mcp.json)',
      text: json({ servers: { [key]: { type: 'http', url } } }),
    },
    {
      client: 'Cursor',
      where: '~/.cursor/mcp.json (or .cursor/mcp.json in a project)',
      text: json({ mcpServers: { [key]: { url } } }),
    },
  ];
}
