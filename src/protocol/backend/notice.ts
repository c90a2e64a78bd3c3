import { backendMessageCodes } from '../codes.js';
import { type NoticeFieldName, type NoticeFields, noticeFieldCodes } from '../fields.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/**
 * 'E' ErrorResponse and 'N' NoticeResponse (protocol-message-formats.html,
 * protocol-error-fields.html): a list of (Byte1 code, String value) fields ended by a zero
 * byte. Field values are owned strings.
 */

/** 'E': the current command failed. */
export interface ErrorResponse {
  type: 'ErrorResponse';
  fields: NoticeFields;
}

/** 'N': a warning or informational message; it can arrive at any time. */
export interface NoticeResponse {
  type: 'NoticeResponse';
  fields: NoticeFields;
}

const nameByCode = new Array<NoticeFieldName | undefined>(256);
for (const [letter, name] of Object.entries(noticeFieldCodes)) {
  nameByCode[letter.charCodeAt(0)] = name;
}

function decodeNoticeFields(f: Frame): NoticeFields {
  const fields: NoticeFields = {};
  for (let code = f.uint8(); code !== 0; code = f.uint8()) {
    const value = f.cstring();
    const name = nameByCode[code];
    if (name !== undefined) {
      fields[name] = value;
    } else {
      fields.unknown ??= {};
      fields.unknown[String.fromCharCode(code)] = value;
    }
  }
  f.finish();
  return fields;
}

function writeNoticeFields(w: Writer, type: number, fields: NoticeFields): void {
  const unknown = Object.entries(fields.unknown ?? {});
  for (const [letter] of unknown) {
    const code = letter.charCodeAt(0);
    if (letter.length !== 1 || code === 0 || code > 0xff) {
      throw new RangeError(
        `a notice field code is one byte other than 0, got ${JSON.stringify(letter)}`,
      );
    }
  }
  w.beginMessage(type);
  for (const [letter, name] of Object.entries(noticeFieldCodes)) {
    const value = fields[name];
    if (value !== undefined) w.uint8(letter.charCodeAt(0)).cstring(value);
  }
  for (const [letter, value] of unknown) w.uint8(letter.charCodeAt(0)).cstring(value);
  w.uint8(0).finishMessage();
}

/** Decodes an ErrorResponse body. */
export function decodeErrorResponse(f: Frame): ErrorResponse {
  return { type: 'ErrorResponse', fields: decodeNoticeFields(f) };
}

/** Decodes a NoticeResponse body. */
export function decodeNoticeResponse(f: Frame): NoticeResponse {
  return { type: 'NoticeResponse', fields: decodeNoticeFields(f) };
}

/** Writes an ErrorResponse or NoticeResponse message, known fields in the docs' order. */
export function writeNoticeMessage(w: Writer, message: ErrorResponse | NoticeResponse): void {
  const type =
    message.type === 'ErrorResponse'
      ? backendMessageCodes.ErrorResponse
      : backendMessageCodes.NoticeResponse;
  writeNoticeFields(w, type, message.fields);
}
