import assert from "node:assert/strict";
import { SseParser } from "./sse_parser.ts";

Deno.test("SseParser reads events, joins data lines, and skips comments", () => {
  const parser = new SseParser();
  assert.deepEqual(
    parser.feed(
      'retry: 1000\n\nid: 1\nevent: snapshot\ndata: {"a":\ndata:  1}\n\n: heartbeat\n\ndata: x\n\n',
    ),
    [
      { event: "snapshot", data: '{"a":\n 1}' },
      { event: "message", data: "x" },
    ],
  );
  assert.equal(parser.retryMs, 1000);
});

Deno.test("SseParser completes events across pieces, CRLF split between them included", () => {
  const text = 'event: state\r\ndata: {"x":1}\r\n\r\nevent: health\rdata: 2\r\rdata: 3\n\n';
  const whole = new SseParser().feed(text);
  assert.deepEqual(whole, [
    { event: "state", data: '{"x":1}' },
    { event: "health", data: "2" },
    { event: "message", data: "3" },
  ]);
  // Every way to cut the text in two gives the same events.
  for (let cut = 0; cut <= text.length; cut++) {
    const parser = new SseParser();
    const got = [...parser.feed(text.slice(0, cut)), ...parser.feed(text.slice(cut))];
    assert.deepEqual(got, whole, `cut at ${cut}`);
  }
  // One character at a time.
  const parser = new SseParser();
  assert.deepEqual([...text].flatMap((c) => parser.feed(c)), whole);
});

Deno.test("SseParser ignores events without data, unknown fields and bad retry values", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.feed("event: lonely\n\nfoo: bar\nretry: soon\ndata\n\n"), [
    { event: "message", data: "" },
  ]);
  assert.equal(parser.retryMs, undefined);
  assert.deepEqual(parser.feed("data: no end yet\n"), []);
});
