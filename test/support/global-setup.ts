import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { makeCertificates, type TestCertificates } from './certs.js';
import { Cluster } from './cluster.js';

/** What the test files learn about the server of this run, through `inject('pg')`. */
export interface TestServerInfo {
  /** A URL for the superuser over TCP. */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** True when this run started the server itself, so tests may reconfigure or restart it. */
  managed: boolean;
  /** Set when managed: where the cluster lives and which binaries it runs. */
  cluster?: { root: string; dataDir: string; socketDir: string; binDir: string; major: number };
  /** Set when managed: the certificates the server uses (ssl = on). */
  certs?: TestCertificates;
  /** Set when managed: login roles, one per authentication method, and their passwords. */
  roles?: Record<RoleName, string>;
}

/** Roles the managed server has, each with one pg_hba method for TCP connections. */
export type RoleName = 'pqn_trust' | 'pqn_password' | 'pqn_md5' | 'pqn_scram' | 'pqn_cert';

declare module 'vitest' {
  export interface ProvidedContext {
    pg: TestServerInfo;
  }
}

/** The pg_hba.conf of the managed server: the first matching line decides. */
export const managedHba = [
  'local all all trust',
  'hostssl all pqn_cert all cert',
  'host all pqn_trust all trust',
  'host all pqn_password all password',
  'host all pqn_md5 all md5',
  'host all pqn_scram all scram-sha-256',
  'host all all all scram-sha-256',
];

async function startManaged(): Promise<{ info: TestServerInfo; stop: () => Promise<void> }> {
  const password = randomBytes(12).toString('hex');
  const cluster = await Cluster.create({
    password,
    binDir: process.env.PQNOTIFY_TEST_PGBIN || undefined,
  });
  try {
    const certs = await makeCertificates(join(cluster.root, 'certs'));
    const roles: Record<RoleName, string> = {
      pqn_trust: '',
      pqn_password: `pw-${randomBytes(6).toString('hex')}`,
      pqn_md5: `md5-${randomBytes(6).toString('hex')}`,
      pqn_scram: `scram-${randomBytes(6).toString('hex')}`,
      pqn_cert: '',
    };
    await cluster.singleUser([
      'CREATE ROLE pqn_trust LOGIN',
      `CREATE ROLE pqn_password LOGIN PASSWORD '${roles.pqn_password}'`,
      "SET password_encryption = 'md5'",
      `CREATE ROLE pqn_md5 LOGIN PASSWORD '${roles.pqn_md5}'`,
      "SET password_encryption = 'scram-sha-256'",
      `CREATE ROLE pqn_scram LOGIN PASSWORD '${roles.pqn_scram}'`,
      'CREATE ROLE pqn_cert LOGIN',
    ]);
    await cluster.installFile('server.crt', await readFile(certs.serverCert), 0o644);
    await cluster.installFile('server.key', await readFile(certs.serverKey), 0o600);
    await cluster.installFile('root.crt', await readFile(certs.caCert), 0o644);
    const major = await cluster.majorVersion();
    await cluster.appendConf({
      ssl: 'on',
      ssl_cert_file: 'server.crt',
      ssl_key_file: 'server.key',
      ssl_ca_file: 'root.crt',
      // PostgreSQL 18 warns at every md5 login; the md5 role is there on purpose.
      ...(major >= 18 ? { md5_password_warnings: 'off' } : {}),
    });
    await cluster.writeHba(managedHba);
    await cluster.start();
    const info: TestServerInfo = {
      url: `postgres://postgres:${password}@localhost:${cluster.port}/postgres`,
      host: 'localhost',
      port: cluster.port,
      user: 'postgres',
      password,
      database: 'postgres',
      managed: true,
      cluster: {
        root: cluster.root,
        dataDir: cluster.dataDir,
        socketDir: cluster.socketDir,
        binDir: cluster.binDir,
        major,
      },
      certs,
      roles,
    };
    return { info, stop: () => cluster.destroy() };
  } catch (error) {
    const log = await cluster.log();
    await cluster.destroy();
    throw new Error(`could not start the test server: ${String(error)}\n${log}`);
  }
}

function external(url: string): TestServerInfo {
  const parsed = new URL(url);
  return {
    url,
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.slice(1)) || decodeURIComponent(parsed.username),
    managed: false,
  };
}

interface StartedContainer {
  getHost(): string;
  getMappedPort(port: number): number;
  stop(): Promise<unknown>;
}

interface ContainerBuilder {
  withEnvironment(env: Record<string, string>): ContainerBuilder;
  withExposedPorts(port: number): ContainerBuilder;
  withWaitStrategy(strategy: unknown): ContainerBuilder;
  start(): Promise<StartedContainer>;
}

interface TestcontainersModule {
  GenericContainer: new (image: string) => ContainerBuilder;
  Wait: { forLogMessage(pattern: RegExp, times: number): unknown };
}

async function startContainer(
  image: string,
): Promise<{ info: TestServerInfo; stop: () => Promise<void> }> {
  const moduleName = 'testcontainers';
  const testcontainers = (await import(moduleName).catch(() => {
    throw new Error(
      'PQNOTIFY_TEST_IMAGE needs the testcontainers package: npm install --no-save testcontainers',
    );
  })) as TestcontainersModule;
  const password = randomBytes(12).toString('hex');
  const container = await new testcontainers.GenericContainer(image)
    .withEnvironment({ POSTGRES_PASSWORD: password })
    .withExposedPorts(5432)
    .withWaitStrategy(testcontainers.Wait.forLogMessage(/ready to accept connections/, 2))
    .start();
  const url = `postgres://postgres:${password}@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
  return { info: external(url), stop: async () => void (await container.stop()) };
}

/**
 * Vitest global setup: one PostgreSQL server for the whole run. PQNOTIFY_TEST_URL uses an
 * existing server; PQNOTIFY_TEST_IMAGE starts a Docker image through testcontainers;
 * otherwise a throwaway cluster is made in a temporary directory and removed at the end,
 * whether the tests pass or fail.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = process.env.PQNOTIFY_TEST_URL;
  const image = process.env.PQNOTIFY_TEST_IMAGE;
  const server = url
    ? { info: external(url), stop: async () => undefined }
    : image
      ? await startContainer(image)
      : await startManaged();
  project.provide('pg', server.info);
  const onSignal = () => {
    void server.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await server.stop();
  };
}
