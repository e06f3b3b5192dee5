import { storageContract } from './contract.test-suite.js';
import { createMemoryStorage } from './memory.js';

storageContract('memory', async () => {
  const storage = createMemoryStorage();
  return { storage, dispose: () => storage.close() };
});
