// Request framing (issue 9 items 6 and 14): bytes that libevent 2.1 would
// parse leniently (bare LF, obsolete folding, whitespace before a colon,
// empty or non-token header names, Content-Length that is not plain digits)
// are answered 400 bad_framing with Connection: close, and nothing sent after
// them on the connection (a smuggled request) runs. Extreme lengths and chunk
// sizes get a 4xx or a close, and the server keeps serving.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, api, sql, uniqueEmail, strongPassword } from './lib/harness.mjs';

/**
 * Writes bytes on a fresh connection and reads until the server closes it or
 * waitMs passes. Resolves {responses: [{status, headers, json}], closed}.
 */
function exchange(port, bytes, waitMs = 3000) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const parts = [];
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ responses: parse(Buffer.concat(parts)), closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    s.on('data', (d) => parts.push(d));
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    s.write(bytes);
  });
}

// Splits a byte stream into HTTP/1.1 responses (bodies by Content-Length).
function parse(buf) {
  const out = [];
  let off = 0;
  while (off < buf.length) {
    const end = buf.indexOf('\r\n\r\n', off);
    if (end < 0) break;
    const lines = buf.subarray(off, end).toString('latin1').split('\r\n');
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] ?? 0);
    const body = buf.subarray(end + 4, end + 4 + len).toString('utf8');
    let json = null;
    try { json = JSON.parse(body); } catch { /* not JSON */ }
    out.push({ status: Number(lines[0].split(' ')[1]), headers, json });
    off = end + 4 + len;
  }
  return out;
}

// A complete sign-up request: run, it leaves a row behind.
function signupRequest(email) {
  const body = JSON.stringify({ email, password: strongPassword() });
  return `POST /v1/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n`
    + `Content-Length: ${body.length}\r\n\r\n${body}`;
}

const userExists = (srv, email) =>
  sql(srv.dbPath, `SELECT count(*) FROM users WHERE email = '${email}';`).trim() !== '0';

describe('framing: lenient forms are refused and cannot smuggle a request', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv?.stop(); });

  const healthy = async (what) => {
    const r = await api(srv.url, 'GET', '/healthz');
    assert.equal(r.status, 200, `server unhealthy after ${what}`);
  };

  // Each case: a request whose framing a proxy could read differently,
  // followed by a sign-up that must never run. `head` ends the header
  // block's last line; body is what the request's own length covers.
  const H = 'POST /v1/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';
  const cases = [
    ['"Transfer-Encoding : chunked" (space before the colon)',
      `${H}Content-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n`],
    ['tab before the colon', `${H}Content-Length: 5\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n`],
    ['space inside a header name', `${H}Content-Length: 2\r\nX Y: z\r\n\r\n{}`],
    ['a non-token character in a header name', `${H}Content-Length: 2\r\nX/Y: z\r\n\r\n{}`],
    ['"Content-Length: +2"', `${H}Content-Length: +2\r\n\r\n{}`],
    // libevent refuses these two itself (its own HTML 400, no hook to answer in JSON)
    ['"Content-Length: 2, 2"', `${H}Content-Length: 2, 2\r\n\r\n{}`, 'libevent'],
    ['an empty header name', `${H}Content-Length: 2\r\n: x\r\n\r\n{}`],
    ['a bare LF ending one header line', `${H}Content-Length: 2\nX-A: b\r\n\r\n{}`],
    ['bare LF line ends throughout',
      'POST /v1/signup HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: 2\n\n{}'],
    ['a bare LF ending the request line', `POST /v1/signup HTTP/1.1\nHost: x\r\nContent-Length: 2\r\n\r\n{}`],
    ['obsolete line folding (space)', `${H}Content-Length: 2\r\nX-A: b\r\n c\r\n\r\n{}`],
    ['obsolete line folding (tab)', `${H}Content-Length: 2\r\nX-A: b\r\n\tc\r\n\r\n{}`],
    ['a bare CR inside a header line', `${H}Content-Length: 2\r\nX-A: b\rc\r\n\r\n{}`, 'libevent'],
  ];
  for (const [name, first, by] of cases) {
    test(`${name} -> 400 bad_framing, connection closed, the next request never runs`, async () => {
      const email = uniqueEmail();
      const r = await exchange(srv.port, first + signupRequest(email));
      assert.equal(r.responses.length, 1, `${name}: ${r.responses.length} responses: ${JSON.stringify(r.responses)}`);
      const [res] = r.responses;
      assert.equal(res.status, 400, name);
      if (by !== 'libevent') assert.equal(res.json?.error?.code, 'bad_framing', name);
      assert.equal(res.headers.connection, 'close', name);
      assert.ok(r.closed, `${name}: the server kept the connection open`);
      await healthy(name);
      assert.equal(userExists(srv, email), false, `${name}: the smuggled sign-up ran`);
    });
  }

  test('a bad request pipelined behind a good one: the first is answered, the second refused', async () => {
    const email = uniqueEmail();
    const r = await exchange(srv.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
      + `${H}Content-Length: 2\r\nTransfer-Encoding : chunked\r\n\r\n{}` + signupRequest(email));
    assert.deepEqual(r.responses.map((x) => x.status), [200, 400]);
    assert.equal(r.responses[1].json?.error?.code, 'bad_framing');
    assert.ok(r.closed);
    assert.equal(userExists(srv, email), false, 'the smuggled sign-up ran');
  });

  test('well-formed pipelined requests, bodies by length and chunked, all run; a chunked body ends the connection', async () => {
    const a = uniqueEmail();
    const b = uniqueEmail();
    const c = uniqueEmail();
    const body = JSON.stringify({ email: b, password: strongPassword() });
    const chunked = `${H}Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    let r = await exchange(srv.port, `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n${signupRequest(a)}`
      + 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding:   spaces and\ttabs inside  \r\n\r\n'
      + chunked + signupRequest(c));
    assert.deepEqual(r.responses.map((x) => x.status), [200, 201, 200, 201], JSON.stringify(r.responses));
    assert.equal(r.responses[3].headers.connection, 'close', 'nothing is read after a chunked body');
    assert.ok(r.closed);
    assert.ok(userExists(srv, a) && userExists(srv, b));
    assert.equal(userExists(srv, c), false, 'the request after the chunked body did not run');
  });

  // libevent's chunk parser accepts forms a proxy may read differently (no
  // CRLF after the data, bare-LF size lines, "0x" sizes): where it thinks
  // the body ends, the next request must not start.
  for (const [name, body] of [
    ['no CRLF after the chunk data', '2\r\n{}0\r\n\r\n'],
    ['a bare-LF size line', '2\n{}\r\n0\r\n\r\n'],
    ['a 0x size', '0x2\r\n{}\r\n0\r\n\r\n'],
  ]) {
    test(`lenient chunked body (${name}): nothing after it runs`, async () => {
      const email = uniqueEmail();
      const r = await exchange(srv.port, `${H}Transfer-Encoding: chunked\r\n\r\n${body}${signupRequest(email)}`);
      assert.ok(r.responses.length <= 1, JSON.stringify(r.responses));
      assert.ok(r.closed, 'the connection closed');
      await healthy(name);
      assert.equal(userExists(srv, email), false, `${name}: the smuggled sign-up ran`);
    });
  }

  test('a header block split over many small writes is checked whole', async () => {
    const email = uniqueEmail();
    const bytes = Buffer.from(`${H}Content-Length: 2\r\nX-A: b\r\n c\r\n\r\n{}${signupRequest(email)}`);
    const s = net.connect(srv.port, '127.0.0.1');
    const parts = [];
    s.on('data', (d) => parts.push(d));
    s.on('error', () => {});
    const closed = new Promise((resolve) => s.on('close', resolve));
    await new Promise((resolve) => s.once('connect', resolve));
    s.setNoDelay(true);
    for (let i = 0; i < bytes.length; i += 3) {
      s.write(bytes.subarray(i, i + 3));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 3000))]);
    s.destroy();
    const res = parse(Buffer.concat(parts));
    assert.deepEqual(res.map((x) => x.status), [400]);
    assert.equal(res[0].json?.error?.code, 'bad_framing');
    assert.equal(userExists(srv, email), false);
  });

  // Item 14: lengths and chunk sizes past 64 bits, and a negative length.
  for (const [name, bytes] of [
    ['Content-Length: 18446744073709551616', `${H}Content-Length: 18446744073709551616\r\n\r\n{}`],
    ['Content-Length: -1', `${H}Content-Length: -1\r\n\r\n{}`],
    ['a chunk size of ffffffffffffffff', `${H}Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n{}\r\n0\r\n\r\n`],
  ]) {
    test(`${name} -> 4xx or closed, never a crash, the server keeps serving`, async () => {
      const email = uniqueEmail();
      const r = await exchange(srv.port, bytes + signupRequest(email), 2000);
      for (const res of r.responses) assert.ok(res.status >= 400 && res.status < 500, `${name}: ${res.status}`);
      assert.ok(r.responses.length <= 1, `${name}: ${r.responses.length} responses`);
      assert.ok(r.closed, `${name}: connection left open`);
      await healthy(name);
      assert.equal(userExists(srv, email), false, `${name}: the request after it ran`);
      assert.equal(srv.exited(), null);
    });
  }
});
