import { describe, expect, it } from 'vitest';
import { ServerParameters } from '../../src/connection/parameters.js';
import { connectTest } from '../support/server.js';

function told(reports: [string, string][], from = ServerParameters.none): ServerParameters {
  let parameters = from;
  for (const [name, value] of reports) parameters = parameters.with(name, value);
  return parameters;
}

const startup: [string, string][] = [
  ['server_version', '15.8'],
  ['TimeZone', 'UTC'],
  ['application_name', ''],
];

describe('ServerParameters', () => {
  it('connections told the same reports share one set, and part when one is told more', () => {
    const a = told(startup);
    const b = told(startup);
    expect(b).toBe(a);
    expect(a.get('TimeZone')).toBe('UTC');
    expect(a.with('TimeZone', 'UTC')).toBe(a);
    const changed = a.with('TimeZone', 'Europe/Paris');
    expect(changed).not.toBe(a);
    expect(changed.get('TimeZone')).toBe('Europe/Paris');
    expect(a.get('TimeZone')).toBe('UTC');
    expect(b.with('TimeZone', 'Europe/Paris')).toBe(changed);
    expect(ServerParameters.none.get('server_version')).toBeUndefined();
  });

  it('past 256 shared sets, a connection told something new keeps its own copy', () => {
    const base = told(startup);
    for (let i = 0; i < 256; i++) base.with('application_name', `app ${i}`);
    const own = base.with('application_name', 'one more');
    expect(base.with('application_name', 'one more')).not.toBe(own);
    expect(own.with('TimeZone', 'Asia/Tokyo')).toBe(own);
    expect(own.get('TimeZone')).toBe('Asia/Tokyo');
    expect(own.get('application_name')).toBe('one more');
    expect(base.get('TimeZone')).toBe('UTC');
    expect(base.get('application_name')).toBe('');
  });

  it("one connection's SET leaves the parameters of another as they were", async () => {
    await using a = await connectTest();
    await using b = await connectTest();
    await a.exec("SET application_name = 'changed'");
    expect(a.parameterStatus('application_name')).toBe('changed');
    expect(b.parameterStatus('application_name')).not.toBe('changed');
    expect(b.parameterStatus('server_version')).toBe(a.parameterStatus('server_version'));
  });
});
