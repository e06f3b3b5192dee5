/**
 * The example app of `examples/client-app` (plain JavaScript beside the package), started in
 * the test's process on a loopback port, as `npm start` starts it.
 */
import { pathToFileURL } from 'node:url';
import { fromRoot } from './paths.js';

export interface ExampleApp {
  readonly url: string;
  close(): Promise<void>;
}

export interface ExampleAppOptions {
  /** The path the gateway serves it under (`/app`). */
  readonly basePath?: string;
  /** Told the token of each request the app answers. */
  readonly onToken?: (token: string) => void;
}

export async function startExampleApp(options: ExampleAppOptions = {}): Promise<ExampleApp> {
  const file = pathToFileURL(fromRoot('examples', 'client-app', 'app.mjs')).href;
  const { startClientApp } = (await import(file)) as {
    startClientApp(options: ExampleAppOptions & { host: string }): Promise<ExampleApp>;
  };
  return startClientApp({ host: '127.0.0.1', ...options });
}
