// What a browser sends and gets, over node:http so that Cookie, Host,
// Origin and Sec-Fetch-Site are exactly what a test sends (fetch adds
// headers of its own and manages nothing we want). Used by the cookie
// domain and the page tests.
import http from 'node:http';

/** One request. json: a JSON body; form: an object sent as
 *  application/x-www-form-urlencoded; cookie: the Cookie header. */
export function req(srv, method, p, { json, form, headers = {}, cookie } = {}) {
  const h = { ...headers };
  let body;
  if (json !== undefined) {
    body = Buffer.from(JSON.stringify(json));
    h['Content-Type'] = 'application/json';
  } else if (form !== undefined) {
    body = Buffer.from(typeof form === 'string' ? form : new URLSearchParams(form).toString());
    h['Content-Type'] = 'application/x-www-form-urlencoded';
  }
  if (body) h['Content-Length'] = String(body.length);
  if (cookie !== undefined) h.Cookie = cookie;
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port: srv.port, method, path: p, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let j = null;
        try { j = text ? JSON.parse(text) : null; } catch { j = null; }
        resolve({ status: res.statusCode, headers: res.headers, text, json: j, setCookie: res.headers['set-cookie'] || [] });
      });
    });
    r.on('error', reject);
    if (body) r.write(body);
    r.end();
  });
}

/** Set-Cookie lines -> { name: { value, attrs: [..], line } } */
export function cookiesOf(res) {
  const out = {};
  for (const line of res.setCookie) {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const i = pair.indexOf('=');
    out[pair.slice(0, i)] = { value: pair.slice(i + 1), attrs, line };
  }
  return out;
}

/** A TOTP code (RFC 6238: SHA-1, 6 digits, 30 s) of a base32 secret. */
export async function totpCode(base32, at = Date.now()) {
  const crypto = await import('node:crypto');
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of base32.replace(/=+$/, '').toUpperCase()) bits += alpha.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const ctr = Buffer.alloc(8);
  ctr.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const h = crypto.createHmac('sha1', key).update(ctr).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}
