// Input checks shared by the Socket.IO handlers and the HTTP routes. A failed
// check throws Rejection; callers turn it into a failure ack or a 4xx reply.

export const MAX_FIELD_LENGTH = 128;

export class Rejection extends Error {
  constructor(message, status = 400) {
    super(message);
    this.status = status;
  }
}

export function isPlainObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function requireObject(data) {
  if (!isPlainObject(data)) throw new Rejection("payload must be an object");
  return data;
}

// An identifier-like field: a non-empty string of at most 128 characters.
export function requireString(data, name) {
  const value = requireObject(data)[name];
  if (value === undefined || value === null) throw new Rejection(`${name} is required`);
  if (typeof value !== "string") throw new Rejection(`${name} must be a string`);
  if (value.length === 0) throw new Rejection(`${name} must not be empty`);
  if (value.length > MAX_FIELD_LENGTH) throw new Rejection(`${name} is too long`);
  return value;
}

// Free text that is stored or logged rather than matched (user agents, stack
// traces): truncated and stripped of control characters instead of refused.
export function freeText(value, max) {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw new Rejection("text fields must be strings");
  // eslint-disable-next-line no-control-regex
  return value.slice(0, max).replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "");
}
