import { describe, expect, it } from 'vitest';
import { connect, type DialOptions } from '../../src/index.js';
import { dialSocket, keepAliveTuning } from '../../src/socket/socket.js';
import { server } from '../support/server.js';

describe('TCP keepalive settings', () => {
  it('hands keepalives_idle/interval/count to the dialer, and warns about what Node cannot apply', async () => {
    const seen: DialOptions[] = [];
    const warnings: string[] = [];
    const conn = await connect(server.url, {
      keepalivesIdle: 7,
      keepalivesInterval: 3,
      keepalivesCount: 4,
      tcpUserTimeout: 9000,
      onWarning: (message) => warnings.push(message),
      dialer: (target, options) => {
        seen.push(options);
        return dialSocket(target, options);
      },
    });
    await conn.close();
    expect(seen[0]).toMatchObject({
      keepAlive: true,
      keepAliveInitialDelayMs: 7000,
      keepAliveIntervalMs: 3000,
      keepAliveCount: 4,
    });
    expect(warnings).toContain(
      'tcp_user_timeout is not applied: Node offers no way to set TCP_USER_TIMEOUT',
    );
    const tuning = warnings.filter((warning) => /keepalives_(interval|count)/.test(warning));
    expect(tuning).toHaveLength(keepAliveTuning ? 0 : 2);
  });

  it('says nothing when nothing is set that Node cannot apply', async () => {
    const warnings: string[] = [];
    const conn = await connect(server.url, { onWarning: (message) => warnings.push(message) });
    await conn.close();
    expect(warnings).toEqual([]);
  });
});
