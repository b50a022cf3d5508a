// Error values and response helpers shared by the API, the S3 stand-in and the control endpoints.

export class ApiError extends Error {
  constructor(status, body, headers = {}) {
    super(typeof body === 'string' ? body : body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

// cliniko-api issue #254 (`{"message":"must be an object"}`) and issue #349: Cliniko's error bodies
// carry a human-readable "message".
export const message = (status, text) => new ApiError(status, { message: text });

// cliniko-api issue #349 (a 422 from POST /patient_forms): validation failures answer
// {"errors": {"<field>": "can’t be blank", ...}, "message": "Validation Failed"} -- one string per
// field (not an array), with a typographic apostrophe.
export const BLANK = 'can’t be blank';
export function validationFailed(errors) {
  return new ApiError(422, { errors, message: 'Validation Failed' });
}

// The docs give no body for 404; the peer answers in the same {"message"} shape (a choice).
export const notFound = () => message(404, 'Not found');

export function sendJson(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }),
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendText(res, status, text, type = 'text/plain; charset=utf-8', headers = {}) {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function readBody(req, limit) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw message(413, 'Request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export const isIdString = (s) => typeof s === 'string' && /^[1-9]\d{0,18}$/.test(s);
