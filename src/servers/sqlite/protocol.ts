/** Messages between the SQLite server and its disposable query processes. */

export interface ResultLimits {
  /** Rows returned at most; the query stops reading after that. */
  readonly maxRows: number;
  /** Approximate JSON size of the returned rows at most. */
  readonly maxBytes: number;
}

export type Job =
  | { readonly op: 'list_tables' }
  | { readonly op: 'describe_table'; readonly table: string }
  | { readonly op: 'read_query'; readonly sql: string; readonly limits: ResultLimits };

export interface TableInfo {
  name: string;
  type: 'table' | 'view';
}

export interface ColumnInfo {
  name: string;
  type: string;
  not_null: boolean;
  default_value: string | null;
  primary_key: boolean;
}

export interface QueryResult {
  columns: string[];
  rows: Record<string, unknown>[];
  row_count: number;
  truncated: boolean;
  /** Why the rows stop early, when `truncated`. */
  truncated_by?: 'max_rows' | 'max_bytes';
}

export type JobResult =
  { tables: TableInfo[] } | { table: string; columns: ColumnInfo[] } | QueryResult;

/** A refusal or an SQLite error, with a message safe to show the caller. */
export interface JobFailure {
  readonly code: string;
  readonly message: string;
}

export type ParentMessage = { readonly id: number; readonly job: Job };

export type ChildMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'fatal'; readonly message: string }
  | {
      readonly type: 'done';
      readonly id: number;
      readonly result: JobResult;
      /** Resident memory after the job: the pool recycles a process that grew. */
      readonly rssBytes: number;
    }
  | {
      readonly type: 'failed';
      readonly id: number;
      readonly failure: JobFailure;
      readonly rssBytes: number;
    };
