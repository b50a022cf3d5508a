// A small stand-in for the S3 bucket Cliniko stores patient attachments in: it hands out
// presigned POST policies, takes the multipart upload, answers in S3's XML, and serves processed
// files through short-lived presigned GET URLs. Served by the peer itself under /__s3/<bucket>/.
// Imitates the upload half of cliniko-api guides/uploading_patient_attachments.md ("Upload the file to S3":
// a multipart POST of the presigned fields and the file, answered 201 with S3's XML).
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { ApiError } from './common.mjs';

export const BUCKET = 'cliniko-files-peer';
export const S3_PREFIX = `/__s3/${BUCKET}/`;
const ACCESS_KEY = 'PEERAKIA0000000000000';
const SECRET = 'cliniko-peer-not-a-secret';
const REGION = 'eu-north-1';
const POLICY_TTL_MS = 60 * 60_000;
const DOWNLOAD_TTL_S = 300;

const hmac = (text) => createHmac('sha256', SECRET).update(text).digest('hex');
const amzDate = (ms) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
const xmlEscape = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function s3Error(status, code, text) {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(text)}</Message></Error>`;
  return new ApiError(status, xml, { 'Content-Type': 'application/xml' });
}

/**
 * cliniko-api guides/uploading_patient_attachments.md "Get a presigned URL to upload your file to S3":
 * GET /patients/:id/attachment_presigned_post answers {url, fields} with key (".../attachments/temp/<dir>/${filename}"),
 * policy, x-amz-credential, x-amz-signature, x-amz-algorithm (AWS4-HMAC-SHA256), x-amz-date,
 * success_action_status "201" and acl "private".
 */
export function presignPost(state, origin, accountId, patientId, nowMs) {
  const prefix = `${accountId}/patients/${patientId}/attachments/temp/${randomUUID()}/`;
  const date = amzDate(nowMs);
  const credential = `${ACCESS_KEY}/${date.slice(0, 8)}/${REGION}/s3/aws4_request`;
  const fields = {
    key: `${prefix}\${filename}`,
    'x-amz-credential': credential,
    'x-amz-algorithm': 'AWS4-HMAC-SHA256',
    'x-amz-date': date,
    success_action_status: '201',
    acl: 'private',
  };
  const policy = Buffer.from(JSON.stringify({
    expiration: new Date(nowMs + POLICY_TTL_MS).toISOString(),
    conditions: [
      { bucket: BUCKET },
      ['starts-with', '$key', prefix],
      { acl: 'private' },
      { success_action_status: '201' },
      { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
      { 'x-amz-credential': credential },
      { 'x-amz-date': date },
    ],
  })).toString('base64');
  state.policies.set(policy, { prefix, patientId, expires: nowMs + POLICY_TTL_MS, fields });
  return {
    url: `${origin}${S3_PREFIX}`,
    fields: { key: fields.key, policy, 'x-amz-credential': credential, 'x-amz-signature': hmac(policy), 'x-amz-algorithm': fields['x-amz-algorithm'], 'x-amz-date': date, success_action_status: '201', acl: 'private' },
  };
}

/** Split a multipart/form-data body into [{name, filename, contentType, data}]. */
export function parseMultipart(contentType, body) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
  if (!m) throw s3Error(400, 'MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.');
  const delimiter = Buffer.from(`--${m[1] ?? m[2].trim()}`);
  const parts = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw s3Error(400, 'MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.');
  for (;;) {
    pos += delimiter.length;
    if (body.slice(pos, pos + 2).toString() === '--') break; // closing delimiter
    pos += 2; // CRLF after the delimiter
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), pos);
    if (headerEnd < 0 || next < 0) throw s3Error(400, 'MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.');
    const headers = body.slice(pos, headerEnd).toString('utf8').split('\r\n');
    const disposition = headers.find((h) => /^content-disposition:/i.test(h)) ?? '';
    const type = headers.find((h) => /^content-type:/i.test(h));
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    parts.push({ name, filename, contentType: type ? type.split(':')[1].trim() : null, data: body.slice(headerEnd + 4, next) });
    pos = next + 2;
  }
  return parts;
}

/**
 * guides/uploading_patient_attachments.md "Upload the file to our s3 bucket": a multipart POST to the
 * given URL with every given field and then the file; "Upon success, you will receive a 201 response
 * and an XML response payload" (<PostResponse> with Location, Bucket, Key, ETag).
 */
export function handleUpload(state, origin, contentType, body, nowMs) {
  const parts = parseMultipart(contentType, body);
  const fileIndex = parts.findIndex((p) => p.name === 'file');
  if (fileIndex < 0) throw s3Error(400, 'InvalidArgument', 'POST requires exactly one file upload per request.');
  // Like S3, form fields after the file are ignored.
  const form = Object.fromEntries(parts.slice(0, fileIndex).map((p) => [p.name, p.data.toString('utf8')]));
  const file = parts[fileIndex];
  for (const f of ['key', 'policy', 'x-amz-credential', 'x-amz-signature', 'x-amz-algorithm', 'x-amz-date']) {
    if (!form[f]) throw s3Error(400, 'InvalidArgument', `Bucket POST must contain a field named '${f}'.`);
  }
  const issued = state.policies.get(form.policy);
  if (!issued || form['x-amz-signature'] !== hmac(form.policy)) {
    throw s3Error(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
  }
  if (nowMs > issued.expires) throw s3Error(403, 'AccessDenied', 'Invalid according to Policy: Policy expired.');
  for (const f of ['x-amz-credential', 'x-amz-algorithm', 'x-amz-date', 'success_action_status', 'acl']) {
    if (form[f] !== issued.fields[f]) throw s3Error(403, 'AccessDenied', `Invalid according to Policy: Policy Condition failed: ["eq", "$${f}", "${issued.fields[f]}"]`);
  }
  const filename = file.filename || 'file';
  const key = form.key.replace('${filename}', filename);
  if (!key.startsWith(issued.prefix)) {
    throw s3Error(403, 'AccessDenied', `Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "${issued.prefix}"]`);
  }
  const etag = createHash('md5').update(file.data).digest('hex');
  state.objects.set(key, {
    key,
    bytes: file.data,
    contentType: file.contentType || 'application/octet-stream',
    filename,
    patientId: issued.patientId,
    temp: true,
    etag,
    uploadedAt: nowMs,
  });
  const bucketUrl = `${origin}${S3_PREFIX}`;
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>${xmlEscape(bucketUrl + encodeURIComponent(key))}</Location><Bucket>${BUCKET}</Bucket><Key>${xmlEscape(key)}</Key><ETag>"${etag}"</ETag></PostResponse>`;
  return { status: Number(form.success_action_status) === 201 ? 201 : 204, xml };
}

/**
 * The object key an upload_url names, if it points into this bucket. guides/uploading_patient_attachments.md
 * builds it as url + Key (plain slashes); sections/patient_attachments.md's example has the key %2F-encoded.
 * Both are accepted.
 */
export function keyFromUploadUrl(origin, uploadUrl) {
  if (typeof uploadUrl !== 'string') return null;
  let path;
  try {
    path = new URL(uploadUrl).pathname;
  } catch {
    return null;
  }
  if (!path.startsWith(S3_PREFIX)) return null;
  try {
    return decodeURIComponent(path.slice(S3_PREFIX.length));
  } catch {
    return null;
  }
}

/**
 * A presigned GET URL for a stored object: where GET /patient_attachments/:id/content redirects
 * (sections/patient_attachments.md gives the content link; how it delivers is not documented -- see README).
 */
export function presignGet(origin, key, nowMs) {
  const date = amzDate(nowMs);
  const signature = hmac(`GET\n${key}\n${date}\n${DOWNLOAD_TTL_S}`);
  const encodedKey = key.split('/').map(encodeURIComponent).join('/');
  return `${origin}${S3_PREFIX}${encodedKey}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(`${ACCESS_KEY}/${date.slice(0, 8)}/${REGION}/s3/aws4_request`)}&X-Amz-Date=${date}&X-Amz-Expires=${DOWNLOAD_TTL_S}&X-Amz-SignedHeaders=host&X-Amz-Signature=${signature}`;
}

/**
 * GET of an object: only with a valid, unexpired presigned query -- the bucket is private
 * (guides/uploading_patient_attachments.md: the presigned post carries "acl": "private").
 */
export function handleDownload(state, url, nowMs) {
  const key = decodeURIComponent(url.pathname.slice(S3_PREFIX.length));
  const sp = url.searchParams;
  const date = sp.get('X-Amz-Date') ?? '';
  const expires = Number(sp.get('X-Amz-Expires'));
  const signature = sp.get('X-Amz-Signature');
  if (!signature || signature !== hmac(`GET\n${key}\n${date}\n${expires}`)) {
    throw s3Error(403, 'AccessDenied', 'Access Denied');
  }
  const issued = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
  if (!(issued + expires * 1000 >= nowMs)) throw s3Error(403, 'AccessDenied', 'Request has expired');
  const object = state.objects.get(key);
  if (!object) throw s3Error(404, 'NoSuchKey', 'The specified key does not exist.');
  return object;
}
