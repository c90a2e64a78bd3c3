import {
  type AuthenticationMessage,
  type Writer,
  writePasswordMessage,
  writeSASLInitialResponse,
  writeSASLResponse,
} from '../protocol/index.js';
import {
  chooseSaslMechanism,
  clientSupportsChannelBinding,
  tlsServerEndPointHash,
} from './auth/channel-binding.js';
import { md5PasswordMessage } from './auth/md5.js';
import { ScramClient } from './auth/scram.js';
import type { ConnectionConfig, RequireAuthMethod } from './config.js';
import { ConnectionError } from './errors.js';

/** What the authenticator knows about the transport it runs over. */
export interface AuthContext {
  /** True when the connection is encrypted. */
  tls: boolean;
  /** The server certificate in DER, for SCRAM channel binding; undefined without TLS. */
  peerCertificate: Uint8Array | undefined;
  /** Gives the password when the server asks for one (configured, function or .pgpass). */
  password: () => Promise<string | undefined>;
}

type Method = RequireAuthMethod;

function fail(message: string): never {
  throw new ConnectionError('CONNECTION_AUTH', message);
}

/**
 * Answers the server's Authentication* requests during startup and enforces require_auth
 * and channel_binding, so that neither the server nor a man in the middle can pick a
 * weaker method than the client allows. One instance per connection attempt; `respond`
 * writes the answer (if any) into the caller's writer. Never puts a secret in a message.
 */
export class Authenticator {
  private readonly config: ConnectionConfig;
  private readonly context: AuthContext;
  private scram: ScramClient | undefined;
  private methodUsed: Method | undefined;

  constructor(config: ConnectionConfig, context: AuthContext) {
    this.config = config;
    this.context = context;
  }

  /**
   * Answers one Authentication* request other than AuthenticationOk, writing the reply into
   * `writer`. The server waits for that reply, so nothing else arrives meanwhile.
   */
  async respond(
    message: Exclude<AuthenticationMessage, { type: 'AuthenticationOk' }>,
    writer: Writer,
  ): Promise<void> {
    switch (message.type) {
      case 'AuthenticationCleartextPassword': {
        this.allow('password', 'the server requested a cleartext password');
        writePasswordMessage(writer, await this.password());
        return;
      }
      case 'AuthenticationMD5Password': {
        this.allow('md5', 'the server requested md5 password authentication');
        const password = await this.password();
        writePasswordMessage(writer, md5PasswordMessage(this.config.user, password, message.salt));
        return;
      }
      case 'AuthenticationSASL': {
        this.allow('scram-sha-256', 'the server requested SASL authentication');
        const peerCertificate = this.context.peerCertificate;
        const choice = {
          tls: this.context.tls,
          channelBinding: this.config.channelBinding,
          peerCertificateAvailable: peerCertificate !== undefined,
        };
        const mechanism = chooseSaslMechanism(message.mechanisms, choice);
        const plus = mechanism === 'SCRAM-SHA-256-PLUS';
        const password = await this.password();
        this.scram = new ScramClient({
          password,
          mechanism,
          channelBindingData:
            plus && peerCertificate ? tlsServerEndPointHash(peerCertificate) : undefined,
          clientSupportsChannelBinding: clientSupportsChannelBinding(message.mechanisms, choice),
        });
        writeSASLInitialResponse(writer, mechanism, this.scram.clientFirstMessage());
        return;
      }
      case 'AuthenticationSASLContinue': {
        if (!this.scram || this.scram.completed)
          fail('the server sent an unexpected SASL continuation');
        writeSASLResponse(writer, await this.scram.handleServerFirst(message.data));
        return;
      }
      case 'AuthenticationSASLFinal': {
        if (!this.scram || this.scram.completed)
          fail('the server sent an unexpected SASL final message');
        this.scram.verifyServerFinal(message.data);
        return;
      }
      case 'AuthenticationKerberosV5':
      case 'AuthenticationGSS':
      case 'AuthenticationGSSContinue':
      case 'AuthenticationSSPI': {
        const name = message.type.slice('Authentication'.length);
        throw new ConnectionError(
          'CONNECTION_UNSUPPORTED',
          `the server requested ${name} authentication, which pqnotify does not support`,
        );
      }
    }
  }

  /**
   * Called at AuthenticationOk, synchronously, before any later message is looked at:
   * throws unless what happened satisfies require_auth and channel_binding.
   */
  accept(): void {
    if (this.scram && !this.scram.completed) {
      fail('the server sent AuthenticationOk before the SCRAM exchange completed');
    }
    if (this.config.channelBinding === 'require' && !this.scram?.channelBound) {
      fail('channel binding required, but the server authenticated the client without it');
    }
    const used = this.methodUsed ?? 'none';
    if (used === 'none') this.allow('none', 'the server did not complete authentication');
  }

  private allow(method: Method, what: string): void {
    if (
      this.config.channelBinding === 'require' &&
      method !== 'scram-sha-256' &&
      method !== 'none'
    ) {
      fail(`channel binding is required, but ${what}`);
    }
    const requirement = this.config.requireAuth;
    if (requirement) {
      const listed = requirement.methods.includes(method);
      if (requirement.negated ? listed : !listed) {
        fail(`authentication method requirement "${requirement.source}" failed: ${what}`);
      }
    }
    this.methodUsed = method;
  }

  private async password(): Promise<string> {
    const password = await this.context.password();
    if (password === undefined) fail('the server requested a password, but none was supplied');
    return password;
  }
}
