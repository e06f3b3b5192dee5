// `npm run bench`: runs every benchmark (or those named on the command line) in sequence.
const suites: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  servers: () => import('./servers.js'),
  notion: () => import('./notion.js'),
  gateway: () => import('./gateway.js'),
  oauth: () => import('./oauth.js'),
  coldstart: () => import('./coldstart.js'),
  replicas: () => import('./replicas.js'),
  metrics: () => import('./metrics.js'),
};

const wanted = process.argv.slice(2);
for (const [name, load] of Object.entries(suites)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  console.log(`\n=== ${name} ===`);
  await (await load()).run();
}
