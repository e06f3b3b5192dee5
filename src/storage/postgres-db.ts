/** What the stores need of the pool: parameterised queries that fail once storage is closed. */
export interface PgDb {
  rows<R>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs a write; returns how many rows it touched. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}
