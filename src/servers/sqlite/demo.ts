import Database from 'better-sqlite3';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

/**
 * Makes sure `dataDir/demo.db` exists, building a small shop database on first use, and
 * returns its path. Built under a temporary name and renamed, so an interrupted start never
 * leaves a half-written database behind.
 */
export function prepareDemoDatabase(dataDir: string, logger: Logger): string {
  const file = join(dataDir, 'demo.db');
  if (existsSync(file)) return file;
  mkdirSync(dataDir, { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  rmSync(partial, { force: true });
  const db = new Database(partial);
  try {
    db.exec(SCHEMA);
    fill(db);
  } finally {
    db.close();
  }
  renameSync(partial, file);
  logger.info({ file }, 'created the demo database');
  return file;
}

const SCHEMA = `
CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  country TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE products (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  category TEXT NOT NULL,
  price_cents INTEGER NOT NULL CHECK (price_cents >= 0)
);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  status TEXT NOT NULL CHECK (status IN ('pending', 'shipped', 'delivered', 'cancelled')),
  ordered_at TEXT NOT NULL
);
CREATE TABLE order_items (
  order_id INTEGER NOT NULL REFERENCES orders(id),
  product_id INTEGER NOT NULL REFERENCES products(id),
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (order_id, product_id)
);
CREATE VIEW order_totals AS
  SELECT o.id AS order_id, c.name AS customer, o.status,
         SUM(i.quantity * p.price_cents) / 100.0 AS total
  FROM orders o
  JOIN customers c ON c.id = o.customer_id
  JOIN order_items i ON i.order_id = o.id
  JOIN products p ON p.id = i.product_id
  GROUP BY o.id;
`;

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Radia',
  'Tim',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Perlman',
  'Berners-Lee',
];
const COUNTRIES = ['GB', 'US', 'NL', 'DE', 'FR', 'JP', 'BR', 'IN'];
const PRODUCTS: Array<[string, string, number]> = [
  ['Mechanical keyboard', 'hardware', 12900],
  ['USB-C dock', 'hardware', 8900],
  ['27" monitor', 'hardware', 32900],
  ['Noise-cancelling headphones', 'audio', 24900],
  ['Desk microphone', 'audio', 9900],
  ['SQL in a Nutshell', 'books', 3900],
  ['The Art of Computer Programming', 'books', 19900],
  ['Standing desk', 'furniture', 45900],
  ['Ergonomic chair', 'furniture', 38900],
  ['Laptop stand', 'furniture', 4900],
];
const STATUSES = ['pending', 'shipped', 'delivered', 'delivered', 'cancelled'];

function fill(db: Database.Database): void {
  // A fixed-seed generator: every demo database has the same rows.
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const day = (offset: number) =>
    new Date(Date.UTC(2026, 0, 1) + offset * 86_400_000).toISOString().slice(0, 10);
  db.transaction(() => {
    const customer = db.prepare('INSERT INTO customers VALUES (?, ?, ?, ?, ?)');
    for (let id = 1; id <= 50; id++) {
      const first = FIRST[rand(FIRST.length)]!;
      const last = LAST[rand(LAST.length)]!;
      const email = `${first}.${last}.${id}@example.com`.toLowerCase();
      customer.run(
        id,
        `${first} ${last}`,
        email,
        COUNTRIES[rand(COUNTRIES.length)],
        day(rand(300)),
      );
    }
    const product = db.prepare('INSERT INTO products VALUES (?, ?, ?, ?)');
    PRODUCTS.forEach(([name, category, price], i) => product.run(i + 1, name, category, price));
    const order = db.prepare('INSERT INTO orders VALUES (?, ?, ?, ?)');
    const item = db.prepare('INSERT OR IGNORE INTO order_items VALUES (?, ?, ?)');
    for (let id = 1; id <= 200; id++) {
      order.run(id, 1 + rand(50), STATUSES[rand(STATUSES.length)], day(rand(330)));
      const lines = 1 + rand(3);
      for (let l = 0; l < lines; l++) item.run(id, 1 + rand(PRODUCTS.length), 1 + rand(3));
    }
  })();
}
