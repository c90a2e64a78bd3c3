import { authenticationCodes, backendMessageCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/**
 * Authentication ('R') messages (protocol-message-formats.html, Authentication*): an Int32
 * subtype after the length, then data that depends on it. Every byte array is a copy owned
 * by the message.
 */

/** The server accepted the client's authentication. */
export interface AuthenticationOk {
  type: 'AuthenticationOk';
}
/** The server asks for Kerberos V5, which PostgreSQL no longer supports; decoded to be refused. */
export interface AuthenticationKerberosV5 {
  type: 'AuthenticationKerberosV5';
}
/** The server asks for the password in clear text. */
export interface AuthenticationCleartextPassword {
  type: 'AuthenticationCleartextPassword';
}
/** The server asks for an MD5-hashed password, salted with `salt` (4 bytes). */
export interface AuthenticationMD5Password {
  type: 'AuthenticationMD5Password';
  salt: Uint8Array;
}
/** The server asks for GSSAPI authentication. */
export interface AuthenticationGSS {
  type: 'AuthenticationGSS';
}
/** More GSSAPI or SSPI data from the server. */
export interface AuthenticationGSSContinue {
  type: 'AuthenticationGSSContinue';
  data: Uint8Array;
}
/** The server asks for SSPI authentication. */
export interface AuthenticationSSPI {
  type: 'AuthenticationSSPI';
}
/** The server asks for SASL and lists the mechanisms it accepts, in its order of preference. */
export interface AuthenticationSASL {
  type: 'AuthenticationSASL';
  mechanisms: string[];
}
/** A SASL challenge (for SCRAM, the server-first-message). */
export interface AuthenticationSASLContinue {
  type: 'AuthenticationSASLContinue';
  data: Uint8Array;
}
/** The SASL outcome with additional data (for SCRAM, the server-final-message). */
export interface AuthenticationSASLFinal {
  type: 'AuthenticationSASLFinal';
  data: Uint8Array;
}

/** Every Authentication* message. */
export type AuthenticationMessage =
  | AuthenticationOk
  | AuthenticationKerberosV5
  | AuthenticationCleartextPassword
  | AuthenticationMD5Password
  | AuthenticationGSS
  | AuthenticationGSSContinue
  | AuthenticationSSPI
  | AuthenticationSASL
  | AuthenticationSASLContinue
  | AuthenticationSASLFinal;

const ok: AuthenticationOk = Object.freeze({ type: 'AuthenticationOk' });
const kerberosV5: AuthenticationKerberosV5 = Object.freeze({ type: 'AuthenticationKerberosV5' });
const cleartextPassword: AuthenticationCleartextPassword = Object.freeze({
  type: 'AuthenticationCleartextPassword',
});
const gss: AuthenticationGSS = Object.freeze({ type: 'AuthenticationGSS' });
const sspi: AuthenticationSSPI = Object.freeze({ type: 'AuthenticationSSPI' });

/** Decodes the body of an 'R' message; an unknown subtype is a ProtocolError. */
export function decodeAuthentication(f: Frame): AuthenticationMessage {
  const codeAt = f.pos;
  const code = f.int32();
  let message: AuthenticationMessage;
  switch (code) {
    case authenticationCodes.Ok:
      message = ok;
      break;
    case authenticationCodes.KerberosV5:
      message = kerberosV5;
      break;
    case authenticationCodes.CleartextPassword:
      message = cleartextPassword;
      break;
    case authenticationCodes.MD5Password:
      message = { type: 'AuthenticationMD5Password', salt: f.bytesOf(4) };
      break;
    case authenticationCodes.GSS:
      message = gss;
      break;
    case authenticationCodes.GSSContinue:
      message = { type: 'AuthenticationGSSContinue', data: f.rest() };
      break;
    case authenticationCodes.SSPI:
      message = sspi;
      break;
    case authenticationCodes.SASL: {
      const mechanisms: string[] = [];
      for (let name = f.cstring(); name !== ''; name = f.cstring()) mechanisms.push(name);
      message = { type: 'AuthenticationSASL', mechanisms };
      break;
    }
    case authenticationCodes.SASLContinue:
      message = { type: 'AuthenticationSASLContinue', data: f.rest() };
      break;
    case authenticationCodes.SASLFinal:
      message = { type: 'AuthenticationSASLFinal', data: f.rest() };
      break;
    default:
      f.fail(`unknown authentication subtype ${code}`, codeAt);
  }
  f.finish();
  return message;
}

/**
 * Writes an Authentication* message (for tests and fake servers). Throws a RangeError for a
 * salt that is not 4 bytes or an empty mechanism name.
 */
export function writeAuthentication(w: Writer, message: AuthenticationMessage): void {
  if (message.type === 'AuthenticationMD5Password' && message.salt.length !== 4) {
    throw new RangeError(`an MD5 salt has 4 bytes, got ${message.salt.length}`);
  }
  if (message.type === 'AuthenticationSASL' && message.mechanisms.includes('')) {
    throw new RangeError('a SASL mechanism name cannot be empty');
  }
  w.beginMessage(backendMessageCodes.Authentication);
  switch (message.type) {
    case 'AuthenticationOk':
      w.int32(authenticationCodes.Ok);
      break;
    case 'AuthenticationKerberosV5':
      w.int32(authenticationCodes.KerberosV5);
      break;
    case 'AuthenticationCleartextPassword':
      w.int32(authenticationCodes.CleartextPassword);
      break;
    case 'AuthenticationMD5Password':
      w.int32(authenticationCodes.MD5Password).bytes(message.salt);
      break;
    case 'AuthenticationGSS':
      w.int32(authenticationCodes.GSS);
      break;
    case 'AuthenticationGSSContinue':
      w.int32(authenticationCodes.GSSContinue).bytes(message.data);
      break;
    case 'AuthenticationSSPI':
      w.int32(authenticationCodes.SSPI);
      break;
    case 'AuthenticationSASL':
      w.int32(authenticationCodes.SASL);
      for (const mechanism of message.mechanisms) w.cstring(mechanism);
      w.uint8(0);
      break;
    case 'AuthenticationSASLContinue':
      w.int32(authenticationCodes.SASLContinue).bytes(message.data);
      break;
    case 'AuthenticationSASLFinal':
      w.int32(authenticationCodes.SASLFinal).bytes(message.data);
      break;
  }
  w.finishMessage();
}
