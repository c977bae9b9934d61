import assert from "node:assert/strict";
import {
  ChunkedDecoder,
  findHeadEnd,
  HttpError,
  latin1,
  parseRequestHead,
  type RequestHead,
  skipEmptyLines,
} from "./http_parser.ts";

const bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** The status of the `HttpError` that `fn` throws. */
function statusOf(fn: () => unknown): number {
  try {
    fn();
  } catch (error) {
    if (error instanceof HttpError) return error.status;
    throw error;
  }
  throw new Error("nothing was thrown");
}

function head(lines: string[]): RequestHead {
  return parseRequestHead(lines.join("\r\n"));
}

Deno.test("findHeadEnd() finds the blank line, resuming where it stopped", () => {
  const data = bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next");
  assert.equal(findHeadEnd(data, 0, data.length), 27);
  assert.equal(findHeadEnd(data, 0, 26), -1);
  assert.equal(findHeadEnd(data, 0, data.length, 23), 27);
  assert.equal(findHeadEnd(bytes("\r\n\r"), 0, 3), -1);
});

Deno.test("skipEmptyLines() skips CRLFs before a request line only", () => {
  const data = bytes("\r\n\r\nGET");
  assert.equal(skipEmptyLines(data, 0, data.length), 4);
  assert.equal(skipEmptyLines(data, 4, data.length), 4);
  assert.equal(skipEmptyLines(bytes("\r"), 0, 1), 0);
});

Deno.test("latin1() maps each byte to one character", () => {
  assert.equal(latin1(bytes("plain")), "plain");
  assert.equal(latin1(new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x80])), "caf\u00e9\u0080");
});

Deno.test("parseRequestHead() reads the request line, the fields and the defaults of HTTP/1.1", () => {
  const h = head(["GET /api/health?x=1 HTTP/1.1", "Host: localhost:8080", "X-Thing:  a b  "]);
  assert.equal(h.method, "GET");
  assert.equal(h.target, "/api/health?x=1");
  assert.equal(h.version, "HTTP/1.1");
  assert.deepEqual(h.headers, [["Host", "localhost:8080"], ["X-Thing", "a b"]]);
  assert.equal(h.host, "localhost:8080");
  assert.deepEqual(h.body, { type: "none" });
  assert.equal(h.keepAlive, true);
  assert.equal(h.expectContinue, false);
});

Deno.test("parseRequestHead() keep-alive follows the version and Connection", () => {
  assert.equal(head(["GET / HTTP/1.1", "Connection: close"]).keepAlive, false);
  assert.equal(head(["GET / HTTP/1.1", "Connection: Upgrade, CLOSE"]).keepAlive, false);
  assert.equal(head(["GET / HTTP/1.0"]).keepAlive, false);
  assert.equal(head(["GET / HTTP/1.0", "Connection: Keep-Alive"]).keepAlive, true);
});

Deno.test("parseRequestHead() Host: unusable values are dropped, two are refused", () => {
  assert.equal(head(["GET / HTTP/1.1"]).host, undefined);
  assert.equal(head(["GET / HTTP/1.1", "Host: [::1]:80"]).host, "[::1]:80");
  assert.equal(head(["GET / HTTP/1.1", "Host: a b"]).host, undefined);
  assert.equal(head(["GET / HTTP/1.1", "Host: a/b"]).host, undefined);
  assert.equal(statusOf(() => head(["GET / HTTP/1.1", "Host: a", "host: b"])), 400);
});

Deno.test("parseRequestHead() refuses malformed request lines", () => {
  for (
    const line of [
      "garbage",
      "GET /  HTTP/1.1",
      "GET / HTTP/1.1 ",
      "G(T / HTTP/1.1",
      "GET * HTTP/1.1",
      "OPTIONS * HTTP/1.1",
      "GET http://example.com/ HTTP/1.1",
      "GET /caf\u00e9 HTTP/1.1",
      "GET / HTTX/1.1",
      "",
    ]
  ) {
    assert.equal(statusOf(() => head([line])), 400, line);
  }
  assert.equal(statusOf(() => head(["GET / HTTP/2.0"])), 505);
  assert.equal(statusOf(() => head(["GET / HTTP/0.9"])), 505);
});

Deno.test("parseRequestHead() refuses bad fields: obs-fold, bad names, control characters", () => {
  const bad = [
    ["GET / HTTP/1.1", "X-A: 1", " folded"],
    ["GET / HTTP/1.1", "X-A: 1", "\tfolded"],
    ["GET / HTTP/1.1", "Bad Name: 1"],
    ["GET / HTTP/1.1", "X-A : 1"],
    ["GET / HTTP/1.1", "no colon"],
    ["GET / HTTP/1.1", ": empty name"],
    ["GET / HTTP/1.1", "X-A: a\u0000b"],
    ["GET / HTTP/1.1", "X-A: a\rb"],
    ["GET / HTTP/1.1", "X-A: a\nb"],
    ["GET / HTTP/1.1", "X-A: \u0100"],
  ];
  for (const lines of bad) assert.equal(statusOf(() => head(lines)), 400, JSON.stringify(lines));
  assert.deepEqual(head(["GET / HTTP/1.1", "X-A: caf\u00e9"]).headers, [["X-A", "caf\u00e9"]]);
});

Deno.test("parseRequestHead() refuses more header fields than the limit with 431", () => {
  const lines = ["GET / HTTP/1.1", ...Array.from({ length: 5 }, (_, i) => `X-${i}: ${i}`)];
  assert.equal(parseRequestHead(lines.join("\r\n"), { maxHeaders: 5 }).headers.length, 5);
  lines.push("X-Last: 1");
  assert.equal(statusOf(() => parseRequestHead(lines.join("\r\n"), { maxHeaders: 5 })), 431);
  const many = ["GET / HTTP/1.1", ...Array.from({ length: 101 }, (_, i) => `X-${i}: ${i}`)];
  assert.equal(statusOf(() => head(many)), 431);
});

Deno.test("parseRequestHead() Content-Length: digits only, repeated only when equal", () => {
  assert.deepEqual(head(["POST / HTTP/1.1", "Content-Length: 12"]).body, {
    type: "length",
    length: 12,
  });
  assert.deepEqual(head(["POST / HTTP/1.1", "Content-Length: 0"]).body, { type: "none" });
  assert.deepEqual(
    head(["POST / HTTP/1.1", "Content-Length: 5", "Content-Length: 5, 5"]).body,
    { type: "length", length: 5 },
  );
  for (const value of ["-1", "+5", "0x10", "1e3", "", "5 5", "1234567890123456"]) {
    assert.equal(
      statusOf(() => head(["POST / HTTP/1.1", `Content-Length: ${value}`])),
      400,
      value,
    );
  }
  assert.equal(
    statusOf(() => head(["POST / HTTP/1.1", "Content-Length: 5", "Content-Length: 6"])),
    400,
  );
  assert.equal(statusOf(() => head(["POST / HTTP/1.1", "Content-Length: 5, 6"])), 400);
});

Deno.test("parseRequestHead() Transfer-Encoding: chunked alone; others 501; with a length 400", () => {
  assert.deepEqual(head(["POST / HTTP/1.1", "Transfer-Encoding: Chunked"]).body, {
    type: "chunked",
  });
  assert.equal(statusOf(() => head(["POST / HTTP/1.1", "Transfer-Encoding: gzip"])), 501);
  assert.equal(
    statusOf(() => head(["POST / HTTP/1.1", "Transfer-Encoding: gzip, chunked"])),
    501,
  );
  assert.equal(
    statusOf(() => head(["POST / HTTP/1.1", "Transfer-Encoding: chunked", "Content-Length: 3"])),
    400,
  );
  assert.equal(statusOf(() => head(["POST / HTTP/1.1", "Transfer-Encoding: ,"])), 400);
});

Deno.test("parseRequestHead() Expect: 100-continue on HTTP/1.1; other expectations 417", () => {
  assert.equal(head(["POST / HTTP/1.1", "Expect: 100-Continue"]).expectContinue, true);
  assert.equal(head(["POST / HTTP/1.0", "Expect: 100-continue"]).expectContinue, false);
  assert.equal(statusOf(() => head(["POST / HTTP/1.1", "Expect: teapot"])), 417);
});

/** Decode `pieces` one after the other; the body and the bytes left over. */
function decodeAll(pieces: string[], maxBodyBytes = 1024): { body: string; rest: string } {
  const decoder = new ChunkedDecoder({ maxBodyBytes, maxLineBytes: 64 });
  let rest = "";
  for (const piece of pieces) {
    const data = bytes(piece);
    const used = decoder.decode(data);
    rest += piece.slice(used);
    if (!decoder.done) assert.equal(used, data.length);
  }
  assert.equal(decoder.done, true);
  return { body: text(decoder.body()), rest };
}

Deno.test("ChunkedDecoder decodes chunks, extensions and trailers, in any split", () => {
  const wire = "5;name=value\r\nhello\r\nA\r\n, world!!!\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  assert.deepEqual(decodeAll([wire]), { body: "hello, world!!!", rest: "NEXT" });
  for (let cut = 1; cut < wire.length; cut++) {
    assert.deepEqual(decodeAll([wire.slice(0, cut), wire.slice(cut)]), {
      body: "hello, world!!!",
      rest: "NEXT",
    }, `cut at ${cut}`);
  }
  assert.deepEqual(decodeAll(wire.split("")), { body: "hello, world!!!", rest: "NEXT" });
  assert.deepEqual(decodeAll(["0\r\n\r\n"]), { body: "", rest: "" });
});

Deno.test("ChunkedDecoder refuses a body that grows past the limit with 413", () => {
  const decoder = new ChunkedDecoder({ maxBodyBytes: 8, maxLineBytes: 64 });
  decoder.decode(bytes("5\r\nhello\r\n"));
  assert.equal(decoder.size, 5);
  assert.equal(statusOf(() => decoder.decode(bytes("4\r\n"))), 413);
  const huge = new ChunkedDecoder({ maxBodyBytes: 8, maxLineBytes: 64 });
  assert.equal(statusOf(() => huge.decode(bytes("fffffffffffff\r\n"))), 413);
});

Deno.test("ChunkedDecoder refuses malformed bodies with 400 and long lines with 431", () => {
  const decode = (wire: string) => () =>
    new ChunkedDecoder({ maxBodyBytes: 1024, maxLineBytes: 64 }).decode(bytes(wire));
  for (
    const wire of [
      "x\r\n",
      "\r\n",
      "-1\r\n",
      "5\nhello",
      "5\r\nhelloX\r\n",
      "0\r\nbad trailer\r\n\r\n",
      "1234567890123456\r\n",
    ]
  ) {
    assert.equal(statusOf(decode(wire)), 400, wire);
  }
  assert.equal(statusOf(decode(`1;${"x".repeat(100)}`)), 431);
  assert.equal(statusOf(decode(`0\r\n${"X-A: 1\r\n".repeat(10)}`)), 431);
});
