/**
 * Byte-exact frames for every backend message of protocol 3.0 and 3.2, each with the
 * message it decodes to. Field by field, as protocol-message-formats.html lays them out.
 */
import type { BackendMessage } from '../../src/protocol/index.js';
import { byte, frame, i16, i32, raw, str } from './support.js';

export interface BackendFixture {
  name: string;
  bytes: Uint8Array;
  message: BackendMessage;
}

const key32 = Uint8Array.from({ length: 32 }, (_, i) => i * 7);

export const backendFixtures: BackendFixture[] = [
  {
    name: 'NotificationResponse, spelled out',
    // biome-ignore format: one field per line
    bytes: Uint8Array.from([
      0x41, //                   'A'
      0, 0, 0, 20, //            length: 4 + 4 + 7 + 5
      0, 0, 0x10, 0x92, //       processId 4242
      0x6f, 0x72, 0x64, 0x65, 0x72, 0x73, 0, // channel 'orders'
      0x7b, 0x22, 0x7d, 0x21, 0, //             payload '{"}!'
    ]),
    message: { type: 'NotificationResponse', processId: 4242, channel: 'orders', payload: '{"}!' },
  },
  {
    name: 'NotificationResponse, empty payload',
    bytes: frame('A', i32(7) /* processId */, str('c') /* channel */, str('') /* payload */),
    message: { type: 'NotificationResponse', processId: 7, channel: 'c', payload: '' },
  },
  {
    name: 'NotificationResponse, long UTF-8 payload',
    bytes: frame(
      'A',
      i32(0x7fffffff), // processId
      str('канал_événements'), // channel, non-ASCII
      str(`${'ä€😀'.repeat(20)}tail`), // payload, long enough for the native path
    ),
    message: {
      type: 'NotificationResponse',
      processId: 0x7fffffff,
      channel: 'канал_événements',
      payload: `${'ä€😀'.repeat(20)}tail`,
    },
  },
  {
    name: 'NotificationResponse, long ASCII payload',
    bytes: frame('A', i32(1), str('orders'), str('x'.repeat(100))),
    message: {
      type: 'NotificationResponse',
      processId: 1,
      channel: 'orders',
      payload: 'x'.repeat(100),
    },
  },
  {
    name: 'AuthenticationOk',
    bytes: frame('R', i32(0) /* subtype Ok */),
    message: { type: 'AuthenticationOk' },
  },
  {
    name: 'AuthenticationKerberosV5',
    bytes: frame('R', i32(2) /* subtype KerberosV5 */),
    message: { type: 'AuthenticationKerberosV5' },
  },
  {
    name: 'AuthenticationCleartextPassword',
    bytes: frame('R', i32(3) /* subtype CleartextPassword */),
    message: { type: 'AuthenticationCleartextPassword' },
  },
  {
    name: 'AuthenticationMD5Password, spelled out',
    // biome-ignore format: one field per line
    bytes: Uint8Array.from([
      0x52, //                'R'
      0, 0, 0, 12, //         length
      0, 0, 0, 5, //          subtype MD5Password
      0xde, 0xad, 0xbe, 0xef, // salt
    ]),
    message: { type: 'AuthenticationMD5Password', salt: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) },
  },
  {
    name: 'AuthenticationGSS',
    bytes: frame('R', i32(7) /* subtype GSS */),
    message: { type: 'AuthenticationGSS' },
  },
  {
    name: 'AuthenticationGSSContinue',
    bytes: frame('R', i32(8) /* subtype GSSContinue */, raw(1, 2, 3) /* data */),
    message: { type: 'AuthenticationGSSContinue', data: Uint8Array.of(1, 2, 3) },
  },
  {
    name: 'AuthenticationSSPI',
    bytes: frame('R', i32(9) /* subtype SSPI */),
    message: { type: 'AuthenticationSSPI' },
  },
  {
    name: 'AuthenticationSASL',
    bytes: frame(
      'R',
      i32(10), // subtype SASL
      str('SCRAM-SHA-256-PLUS'), // mechanism
      str('SCRAM-SHA-256'), // mechanism
      raw(0), // end of list
    ),
    message: { type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] },
  },
  {
    name: 'AuthenticationSASLContinue',
    bytes: frame(
      'R',
      i32(11) /* subtype */,
      raw(...new TextEncoder().encode('r=abc,s=xyz,i=4096')),
    ),
    message: {
      type: 'AuthenticationSASLContinue',
      data: new TextEncoder().encode('r=abc,s=xyz,i=4096'),
    },
  },
  {
    name: 'AuthenticationSASLFinal',
    bytes: frame('R', i32(12) /* subtype */, raw(...new TextEncoder().encode('v=c2lnbg=='))),
    message: { type: 'AuthenticationSASLFinal', data: new TextEncoder().encode('v=c2lnbg==') },
  },
  {
    name: 'BackendKeyData, protocol 3.0 (4-byte key)',
    bytes: frame('K', i32(31337) /* processId */, raw(1, 2, 3, 4) /* secretKey */),
    message: { type: 'BackendKeyData', processId: 31337, secretKey: Uint8Array.of(1, 2, 3, 4) },
  },
  {
    name: 'BackendKeyData, protocol 3.2 (32-byte key)',
    bytes: frame('K', i32(99) /* processId */, raw(...key32) /* secretKey */),
    message: { type: 'BackendKeyData', processId: 99, secretKey: key32 },
  },
  {
    name: 'NegotiateProtocolVersion',
    bytes: frame(
      'v',
      i32(0x30000), // newest version: 3.0 (major in the high 16 bits)
      i32(2), // number of unrecognized options
      str('_pq_.one'),
      str('_pq_.two'),
    ),
    message: {
      type: 'NegotiateProtocolVersion',
      newestMinorVersion: 0,
      unrecognizedOptions: ['_pq_.one', '_pq_.two'],
    },
  },
  {
    name: 'ParameterStatus',
    bytes: frame('S', str('server_version') /* name */, str('18.1') /* value */),
    message: { type: 'ParameterStatus', name: 'server_version', value: '18.1' },
  },
  {
    name: 'ReadyForQuery, spelled out',
    bytes: Uint8Array.from([0x5a /* 'Z' */, 0, 0, 0, 5 /* length */, 0x49 /* 'I' */]),
    message: { type: 'ReadyForQuery', transactionStatus: 'I' },
  },
  {
    name: 'ReadyForQuery in a transaction',
    bytes: frame('Z', byte('T')),
    message: { type: 'ReadyForQuery', transactionStatus: 'T' },
  },
  {
    name: 'ReadyForQuery in a failed transaction',
    bytes: frame('Z', byte('E')),
    message: { type: 'ReadyForQuery', transactionStatus: 'E' },
  },
  {
    name: 'RowDescription',
    bytes: frame(
      'T',
      i16(2), // field count
      str('id'), // name
      i32(16384), // tableOid
      i16(1), // columnAttributeNumber
      i32(23), // dataTypeOid (int4)
      i16(4), // dataTypeSize
      i32(-1), // typeModifier
      i16(0), // format (text)
      str('note'),
      i32(0xfffffffe), // an OID above 2^31
      i16(-2), // negative attribute number
      i32(25), // text
      i16(-1), // variable size
      i32(-1),
      i16(1), // binary
    ),
    message: {
      type: 'RowDescription',
      fields: [
        {
          name: 'id',
          tableOid: 16384,
          columnAttributeNumber: 1,
          dataTypeOid: 23,
          dataTypeSize: 4,
          typeModifier: -1,
          format: 0,
        },
        {
          name: 'note',
          tableOid: 0xfffffffe,
          columnAttributeNumber: -2,
          dataTypeOid: 25,
          dataTypeSize: -1,
          typeModifier: -1,
          format: 1,
        },
      ],
    },
  },
  {
    name: 'RowDescription without fields',
    bytes: frame('T', i16(0)),
    message: { type: 'RowDescription', fields: [] },
  },
  {
    name: 'DataRow',
    bytes: frame(
      'D',
      i16(3), // column count
      i32(2), // length
      raw(0x34, 0x32), // '42'
      i32(-1), // NULL
      i32(0), // empty value
    ),
    message: { type: 'DataRow', values: [Uint8Array.of(0x34, 0x32), null, new Uint8Array(0)] },
  },
  {
    name: 'CommandComplete',
    bytes: frame('C', str('SELECT 3')),
    message: { type: 'CommandComplete', commandTag: 'SELECT 3' },
  },
  {
    name: 'EmptyQueryResponse',
    bytes: frame('I'),
    message: { type: 'EmptyQueryResponse' },
  },
  {
    name: 'ErrorResponse',
    bytes: frame(
      'E',
      byte('S'),
      str('ERROR'), // severity
      byte('V'),
      str('ERROR'), // severityNonLocalized
      byte('C'),
      str('42P01'), // code
      byte('M'),
      str('relation "nope" does not exist'), // message
      byte('P'),
      str('15'), // position
      byte('F'),
      str('parse_relation.c'),
      byte('L'),
      str('1449'),
      byte('R'),
      str('parserOpenTable'),
      byte('Z'),
      str('future field'), // unknown code, kept
      raw(0), // terminator
    ),
    message: {
      type: 'ErrorResponse',
      fields: {
        severity: 'ERROR',
        severityNonLocalized: 'ERROR',
        code: '42P01',
        message: 'relation "nope" does not exist',
        position: '15',
        file: 'parse_relation.c',
        line: '1449',
        routine: 'parserOpenTable',
        unknown: { Z: 'future field' },
      },
    },
  },
  {
    name: 'NoticeResponse',
    bytes: frame(
      'N',
      byte('S'),
      str('NOTICE'),
      byte('C'),
      str('00000'),
      byte('M'),
      str('identifier will be truncated'),
      byte('D'),
      str('detail'),
      byte('H'),
      str('hint'),
      byte('p'),
      str('3'),
      byte('q'),
      str('SELECT 1'),
      byte('W'),
      str('PL/pgSQL function f()'),
      byte('s'),
      str('public'),
      byte('t'),
      str('t'),
      byte('c'),
      str('c'),
      byte('d'),
      str('int4'),
      byte('n'),
      str('t_pkey'),
      raw(0),
    ),
    message: {
      type: 'NoticeResponse',
      fields: {
        severity: 'NOTICE',
        code: '00000',
        message: 'identifier will be truncated',
        detail: 'detail',
        hint: 'hint',
        internalPosition: '3',
        internalQuery: 'SELECT 1',
        where: 'PL/pgSQL function f()',
        schemaName: 'public',
        tableName: 't',
        columnName: 'c',
        dataTypeName: 'int4',
        constraintName: 't_pkey',
      },
    },
  },
  { name: 'ParseComplete', bytes: frame('1'), message: { type: 'ParseComplete' } },
  { name: 'BindComplete', bytes: frame('2'), message: { type: 'BindComplete' } },
  { name: 'CloseComplete', bytes: frame('3'), message: { type: 'CloseComplete' } },
  { name: 'NoData', bytes: frame('n'), message: { type: 'NoData' } },
  { name: 'PortalSuspended', bytes: frame('s'), message: { type: 'PortalSuspended' } },
  {
    name: 'ParameterDescription',
    bytes: frame('t', i16(2) /* count */, i32(23) /* int4 */, i32(0xffffffff) /* max OID */),
    message: { type: 'ParameterDescription', parameterTypeOids: [23, 0xffffffff] },
  },
  {
    name: 'CopyInResponse',
    bytes: frame('G', byte(0) /* overall text */, i16(2) /* columns */, i16(0), i16(0)),
    message: { type: 'CopyInResponse', overallFormat: 0, columnFormats: [0, 0] },
  },
  {
    name: 'CopyOutResponse',
    bytes: frame('H', byte(1) /* overall binary */, i16(1), i16(1)),
    message: { type: 'CopyOutResponse', overallFormat: 1, columnFormats: [1] },
  },
  {
    name: 'CopyBothResponse',
    bytes: frame('W', byte(0), i16(0)),
    message: { type: 'CopyBothResponse', overallFormat: 0, columnFormats: [] },
  },
  {
    name: 'CopyData',
    bytes: frame('d', raw(0x61, 0x09, 0x62, 0x0a) /* 'a\tb\n' */),
    message: { type: 'CopyData', data: Uint8Array.of(0x61, 0x09, 0x62, 0x0a) },
  },
  { name: 'CopyDone', bytes: frame('c'), message: { type: 'CopyDone' } },
  {
    name: 'FunctionCallResponse',
    bytes: frame('V', i32(3) /* length */, raw(1, 2, 3)),
    message: { type: 'FunctionCallResponse', result: Uint8Array.of(1, 2, 3) },
  },
  {
    name: 'FunctionCallResponse NULL',
    bytes: frame('V', i32(-1) /* NULL */),
    message: { type: 'FunctionCallResponse', result: null },
  },
];
