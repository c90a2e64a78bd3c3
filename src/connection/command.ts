import type { BackendMessage, FieldDescription } from '../protocol/index.js';
import { ServerError } from './errors.js';
import { Fifo } from './fifo.js';
import type { QueryResult, ResultField } from './types.js';
import { Waiters } from './waiters.js';

/**
 * A command sent to the server whose results are read one at a time (libpq's result queue
 * for PQgetResult). Results and errors are queued as they complete; `finished` turns true
 * at ReadyForQuery.
 */
export class Command {
  readonly results = new Fifo<QueryResult | ServerError>();
  finished = false;
  /** Set for copyBoth(): where each CopyData body goes. */
  onCopyData: ((data: Uint8Array) => void) | undefined;
  /** True once the server sent CopyBothResponse. */
  copyStarted = false;
  private fields: ResultField[] = [];
  private rows: (string | null)[][] = [];
  private readonly changes = new Waiters();

  handle(message: BackendMessage): boolean {
    switch (message.type) {
      case 'RowDescription':
        this.fields = message.fields.map(toResultField);
        this.rows = [];
        return true;
      case 'DataRow':
        this.rows.push(message.values.map(decodeText));
        return true;
      case 'CommandComplete':
        this.complete(message.commandTag);
        return true;
      case 'EmptyQueryResponse':
        this.complete('');
        return true;
      case 'ErrorResponse':
        this.results.push(new ServerError(message.fields));
        this.signal();
        return true;
      case 'ParseComplete':
      case 'BindComplete':
      case 'NoData':
      case 'ParameterDescription':
        return true;
      case 'CopyBothResponse':
        if (!this.onCopyData) return false;
        this.copyStarted = true;
        this.signal();
        return true;
      case 'CopyData':
        if (!this.copyStarted || !this.onCopyData) return false;
        this.onCopyData(message.data);
        return true;
      case 'CopyDone':
        return this.copyStarted;
      case 'ReadyForQuery':
        this.finished = true;
        this.signal();
        return true;
      default:
        return false;
    }
  }

  /** Resolves when a result is queued or the command finished (or signal() is called). */
  changed(): Promise<boolean> {
    return this.changes.wait();
  }

  /** Resolves every changed() waiting. */
  signal(): void {
    this.changes.wake();
  }

  private complete(tag: string): void {
    this.results.push({
      command: tag,
      rowCount: rowCountOf(tag),
      fields: this.fields,
      rows: this.rows,
    });
    this.fields = [];
    this.rows = [];
    this.signal();
  }
}

function toResultField(field: FieldDescription): ResultField {
  return {
    name: field.name,
    dataTypeOid: field.dataTypeOid,
    tableOid: field.tableOid,
    columnAttributeNumber: field.columnAttributeNumber,
  };
}

function decodeText(value: Uint8Array | null): string | null {
  return value === null
    ? null
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
}

function rowCountOf(tag: string): number | null {
  const match = /^(?:INSERT \d+|SELECT|UPDATE|DELETE|MERGE|MOVE|FETCH|COPY) (\d+)$/.exec(tag);
  return match ? Number(match[1]) : null;
}
