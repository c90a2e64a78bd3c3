import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ScramClient, type ScramClientOptions } from '../../../src/connection/auth/scram.js';
import { ConnectionError } from '../../../src/connection/errors.js';

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
const bytes = (value: string): Uint8Array => Buffer.from(value, 'utf8');

// RFC 7677 section 3.
const RFC = {
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst:
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,' +
    'p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

const PASSWORD = 'pencil';
const NONCE = 'fyko+d2lbbFgONRv9qkxdawL';
const SERVER_NONCE = `${NONCE}3rfcNHYJY1ZVvWVs7j`;
const SALT = 'QSXCR+Q6sek8bf92';

function client(options: Partial<ScramClientOptions> = {}): ScramClient {
  return new ScramClient({
    password: PASSWORD,
    mechanism: 'SCRAM-SHA-256',
    nonce: NONCE,
    ...options,
  });
}

/** A client that has sent client-first-message. */
function started(options: Partial<ScramClientOptions> = {}): ScramClient {
  const scram = client(options);
  scram.clientFirstMessage();
  return scram;
}

/** What a server holding `password` computes for an exchange (RFC 5802 section 3). */
function serverView(
  password: string,
  clientFirstBare: string,
  serverFirst: string,
  clientFinal: string,
): { proofValid: boolean; serverFinal: string } {
  const { salt, iterations } = {
    salt: Buffer.from(/s=([^,]*)/.exec(serverFirst)![1]!, 'base64'),
    iterations: Number(/i=([0-9]*)/.exec(serverFirst)![1]),
  };
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const storedKey = createHash('sha256')
    .update(createHmac('sha256', salted).update('Client Key').digest())
    .digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(',p='));
  const proof = Buffer.from(clientFinal.slice(clientFinal.lastIndexOf(',p=') + 3), 'base64');
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = createHmac('sha256', storedKey).update(authMessage).digest();
  const clientKey = Buffer.from(proof.map((byte, i) => byte ^ signature[i]!));
  const proofValid = createHash('sha256').update(clientKey).digest().equals(storedKey);
  const serverSignature = createHmac('sha256', serverKey).update(authMessage).digest('base64');
  return { proofValid, serverFinal: `v=${serverSignature}` };
}

/** Checks that `caught` is an auth ConnectionError matching `pattern` that keeps the password out. */
function checkAuthError(caught: unknown, pattern: RegExp): ConnectionError {
  expect(caught).toBeInstanceOf(ConnectionError);
  const error = caught as ConnectionError;
  expect(error.code).toBe('CONNECTION_AUTH');
  expect(error.message).toMatch(pattern);
  expect(error.message).not.toContain(PASSWORD);
  return error;
}

function expectAuthError(action: () => unknown, pattern: RegExp): ConnectionError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  return checkAuthError(caught, pattern);
}

async function expectAuthRejection(
  action: () => Promise<unknown>,
  pattern: RegExp,
): Promise<ConnectionError> {
  let caught: unknown;
  try {
    await action();
  } catch (error) {
    caught = error;
  }
  return checkAuthError(caught, pattern);
}

describe('ScramClient: RFC 7677 example', () => {
  it('reproduces every message byte for byte', async () => {
    const scram = new ScramClient({
      password: PASSWORD,
      mechanism: 'SCRAM-SHA-256',
      nonce: RFC.clientNonce,
      username: 'user',
    });
    expect(text(scram.clientFirstMessage())).toBe(RFC.clientFirst);
    expect(text(await scram.handleServerFirst(bytes(RFC.serverFirst)))).toBe(RFC.clientFinal);
    expect(scram.completed).toBe(false);
    scram.verifyServerFinal(bytes(RFC.serverFinal));
    expect(scram.completed).toBe(true);
    expect(scram.channelBound).toBe(false);
  });

  it('refuses another step while the asynchronous derivation runs', async () => {
    const scram = new ScramClient({
      password: PASSWORD,
      mechanism: 'SCRAM-SHA-256',
      nonce: RFC.clientNonce,
    });
    scram.clientFirstMessage();
    const pending = scram.handleServerFirst(bytes(RFC.serverFirst));
    expectAuthError(() => scram.verifyServerFinal(bytes(RFC.serverFinal)), /out of order/);
    await pending;
  });
});

describe('ScramClient: PostgreSQL form', () => {
  it('sends an empty user name and an 18-byte random nonce', () => {
    const first = text(
      new ScramClient({ password: 'x', mechanism: 'SCRAM-SHA-256' }).clientFirstMessage(),
    );
    expect(first).toMatch(/^n,,n=,r=[A-Za-z0-9+/]{24}$/);
    const other = text(
      new ScramClient({ password: 'x', mechanism: 'SCRAM-SHA-256' }).clientFirstMessage(),
    );
    expect(other).not.toBe(first);
  });

  it('escapes = and , in a user name', () => {
    expect(text(client({ username: 'a=b,c' }).clientFirstMessage())).toBe(
      `n,,n=a=3Db=2Cc,r=${NONCE}`,
    );
  });

  it('completes an exchange with a server that knows the password', async () => {
    const scram = started();
    const serverFirst = `r=${SERVER_NONCE},s=${SALT},i=4096`;
    const clientFinal = text(await scram.handleServerFirst(bytes(serverFirst)));
    expect(clientFinal.startsWith(`c=biws,r=${SERVER_NONCE},p=`)).toBe(true);
    const server = serverView(PASSWORD, `n=,r=${NONCE}`, serverFirst, clientFinal);
    expect(server.proofValid).toBe(true);
    scram.verifyServerFinal(bytes(server.serverFinal));
    expect(scram.completed).toBe(true);
  });

  it('ignores extensions after the known attributes', async () => {
    const scram = started();
    const serverFirst = `r=${SERVER_NONCE},s=${SALT},i=4096,x=future`;
    const clientFinal = text(await scram.handleServerFirst(bytes(serverFirst)));
    const server = serverView(PASSWORD, `n=,r=${NONCE}`, serverFirst, clientFinal);
    scram.verifyServerFinal(bytes(`${server.serverFinal},y=more`));
    expect(scram.completed).toBe(true);
  });

  it('hashes the SASLprepped password', async () => {
    const roman = started({ password: '\u2168' });
    const plain = started({ password: 'IX' });
    const serverFirst = bytes(`r=${SERVER_NONCE},s=${SALT},i=16`);
    expect(text(await roman.handleServerFirst(serverFirst))).toBe(
      text(await plain.handleServerFirst(serverFirst)),
    );
  });

  it('hashes a password SASLprep refuses as it is, like libpq', async () => {
    const scram = started({ password: 'bell\u0007' });
    const serverFirst = `r=${SERVER_NONCE},s=${SALT},i=16`;
    const clientFinal = text(await scram.handleServerFirst(bytes(serverFirst)));
    expect(serverView('bell\u0007', `n=,r=${NONCE}`, serverFirst, clientFinal).proofValid).toBe(
      true,
    );
  });
});

describe('ScramClient: channel binding', () => {
  const hash = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7));

  it('binds the tls-server-end-point hash with SCRAM-SHA-256-PLUS', async () => {
    const scram = client({ mechanism: 'SCRAM-SHA-256-PLUS', channelBindingData: hash });
    expect(text(scram.clientFirstMessage())).toBe(`p=tls-server-end-point,,n=,r=${NONCE}`);
    const serverFirst = `r=${SERVER_NONCE},s=${SALT},i=4096`;
    const clientFinal = text(await scram.handleServerFirst(bytes(serverFirst)));
    const cbind = Buffer.concat([Buffer.from('p=tls-server-end-point,,'), hash]).toString('base64');
    expect(clientFinal.startsWith(`c=${cbind},r=${SERVER_NONCE},p=`)).toBe(true);
    const server = serverView(PASSWORD, `n=,r=${NONCE}`, serverFirst, clientFinal);
    expect(server.proofValid).toBe(true);
    scram.verifyServerFinal(bytes(server.serverFinal));
    expect(scram.channelBound).toBe(true);
  });

  it("says 'y' when the client could bind but the server did not offer to", async () => {
    const scram = client({ clientSupportsChannelBinding: true });
    expect(text(scram.clientFirstMessage())).toBe(`y,,n=,r=${NONCE}`);
    const clientFinal = text(
      await scram.handleServerFirst(bytes(`r=${SERVER_NONCE},s=${SALT},i=16`)),
    );
    expect(clientFinal.startsWith('c=eSws,')).toBe(true);
  });

  it('requires the hash for -PLUS and refuses it without', () => {
    expectAuthError(
      () => client({ mechanism: 'SCRAM-SHA-256-PLUS' }),
      /SCRAM-SHA-256-PLUS needs the tls-server-end-point hash/,
    );
    expectAuthError(
      () => client({ mechanism: 'SCRAM-SHA-256-PLUS', channelBindingData: new Uint8Array() }),
      /needs the tls-server-end-point hash/,
    );
    expectAuthError(() => client({ channelBindingData: hash }), /does not bind the channel/);
  });
});

describe('ScramClient: server-first-message errors', () => {
  const cases: [string, string, RegExp][] = [
    [
      'a nonce from another exchange',
      `r=other${NONCE},s=${SALT},i=4096`,
      /server nonce does not start with the client nonce/,
    ],
    [
      'a nonce without a server part',
      `r=${NONCE},s=${SALT},i=4096`,
      /adds nothing to the client nonce/,
    ],
    ['a nonce with a space', `r=${NONCE} x,s=${SALT},i=4096`, /nonce is not printable/],
    [
      'a salt that is not base64',
      `r=${SERVER_NONCE},s=QSXCR*Q6,i=4096`,
      /salt is not valid base64/,
    ],
    ['a salt with bad padding', `r=${SERVER_NONCE},s=QSXCR,i=4096`, /salt is not valid base64/],
    ['an empty salt', `r=${SERVER_NONCE},s=,i=4096`, /salt is not valid base64/],
    [
      'iteration count 0',
      `r=${SERVER_NONCE},s=${SALT},i=0`,
      /iteration count "0" is not a positive integer/,
    ],
    ['a negative iteration count', `r=${SERVER_NONCE},s=${SALT},i=-1`, /not a positive integer/],
    [
      'a non-numeric iteration count',
      `r=${SERVER_NONCE},s=${SALT},i=4096x`,
      /not a positive integer/,
    ],
    ['an empty iteration count', `r=${SERVER_NONCE},s=${SALT},i=`, /not a positive integer/],
    [
      'a huge iteration count',
      `r=${SERVER_NONCE},s=${SALT},i=99999999999999999999`,
      /not a positive integer/,
    ],
    [
      'too many iterations',
      `r=${SERVER_NONCE},s=${SALT},i=10000001`,
      /above the limit of 10000000/,
    ],
    [
      'a mandatory extension',
      `m=must,r=${SERVER_NONCE},s=${SALT},i=4096`,
      /SCRAM extension \(m=\)/,
    ],
    ['a server error', 'e=other-error', /server reported a SCRAM error: "other-error"/],
    ['attributes out of order', `s=${SALT},r=${SERVER_NONCE},i=4096`, /expected attribute "r"/],
    ['a missing iteration count', `r=${SERVER_NONCE},s=${SALT}`, /expected attribute "i"/],
    [
      'garbage at the end',
      `r=${SERVER_NONCE},s=${SALT},i=4096,garbage`,
      /unexpected text after the last attribute/,
    ],
    ['a NUL byte', `r=${SERVER_NONCE},s=${SALT},i=4096\0`, /contains a NUL byte/],
    ['an empty message', '', /empty SCRAM server-first-message/],
  ];

  for (const [name, message, pattern] of cases) {
    it(`refuses ${name}`, async () => {
      const scram = started();
      await expectAuthRejection(() => scram.handleServerFirst(bytes(message)), pattern);
      expectAuthError(() => scram.verifyServerFinal(bytes('v=x')), /already failed/);
    });
  }

  it('refuses bytes that are not UTF-8', async () => {
    const scram = started();
    await expectAuthRejection(
      () => scram.handleServerFirst(Uint8Array.of(0x72, 0x3d, 0xff)),
      /not valid UTF-8/,
    );
  });

  it('quotes a server error safely', async () => {
    const scram = started();
    const error = await expectAuthRejection(
      () => scram.handleServerFirst(bytes(`e=bad\nline${'x'.repeat(300)}`)),
      /SCRAM error/,
    );
    expect(error.message).not.toContain('\n');
    expect(error.message.length).toBeLessThan(300);
  });

  it('accepts a higher iteration count when allowed', async () => {
    const scram = started({ maxIterations: 10 });
    await expectAuthRejection(
      () => scram.handleServerFirst(bytes(`r=${SERVER_NONCE},s=${SALT},i=11`)),
      /above the limit of 10/,
    );
  });

  it('rejects the promise rather than throwing synchronously', async () => {
    const scram = started();
    const pending = scram.handleServerFirst(bytes(`r=x,s=${SALT},i=1`));
    await expect(pending).rejects.toThrow(/server nonce does not start with the client nonce/);
  });
});

describe('ScramClient: server-final-message errors', () => {
  async function afterServerFirst(): Promise<ScramClient> {
    const scram = started();
    await scram.handleServerFirst(bytes(`r=${SERVER_NONCE},s=${SALT},i=16`));
    return scram;
  }

  it('reports the error the server sent', async () => {
    const scram = await afterServerFirst();
    expectAuthError(
      () => scram.verifyServerFinal(bytes('e=invalid-proof')),
      /server reported a SCRAM error: "invalid-proof"/,
    );
  });

  it('refuses a wrong server signature', async () => {
    const wrong = Buffer.alloc(32, 1).toString('base64');
    const scram = await afterServerFirst();
    expectAuthError(
      () => scram.verifyServerFinal(bytes(`v=${wrong}`)),
      /server signature mismatch/,
    );
    expect(scram.completed).toBe(false);
  });

  it('refuses the signature of another password', async () => {
    const scram = started();
    const serverFirst = `r=${SERVER_NONCE},s=${SALT},i=16`;
    const clientFinal = text(await scram.handleServerFirst(bytes(serverFirst)));
    const server = serverView('other', `n=,r=${NONCE}`, serverFirst, clientFinal);
    expect(server.proofValid).toBe(false);
    expectAuthError(
      () => scram.verifyServerFinal(bytes(server.serverFinal)),
      /server signature mismatch/,
    );
  });

  it('refuses a signature of the wrong length or encoding', async () => {
    const [short, unpadded, unnamed] = await Promise.all([
      afterServerFirst(),
      afterServerFirst(),
      afterServerFirst(),
    ]);
    expectAuthError(() => short.verifyServerFinal(bytes('v=AAAA')), /not 32 bytes in base64/);
    expectAuthError(() => unpadded.verifyServerFinal(bytes(`v=${'A'.repeat(43)}`)), /not 32 bytes/);
    expectAuthError(() => unnamed.verifyServerFinal(bytes('x=1')), /expected attribute "v"/);
  });
});

describe('ScramClient: order of steps', () => {
  it('takes each step once, in order', async () => {
    const scram = client();
    await expectAuthRejection(
      () => scram.handleServerFirst(bytes(RFC.serverFirst)),
      /out of order/,
    );
    scram.clientFirstMessage();
    expectAuthError(() => scram.clientFirstMessage(), /out of order/);
    expectAuthError(() => scram.verifyServerFinal(bytes(RFC.serverFinal)), /out of order/);
  });

  it('checks its options', () => {
    expectAuthError(() => client({ nonce: 'a,b' }), /nonce must be printable/);
    expectAuthError(() => client({ nonce: '' }), /nonce must be printable/);
    expectAuthError(() => client({ maxIterations: 0 }), /maxIterations/);
    expectAuthError(
      () => client({ mechanism: 'SCRAM-SHA-1' as 'SCRAM-SHA-256' }),
      /unsupported SASL mechanism "SCRAM-SHA-1"/,
    );
  });
});
