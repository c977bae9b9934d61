/**
 * `edgevisor top` in a real pseudo-terminal against a real orchestrator:
 * problems first, header counts, the filter, actions on the selected
 * service, redraw on resize, reconnection, and the terminal restored on
 * quitting; and its plain output when not on a terminal.
 *
 * The pseudo-terminal comes from Python's `pty` module: a small relay runs
 * `edgevisor top` on the terminal side, copies the screen output to its
 * standard output and its standard input to the keyboard side, and resizes
 * the terminal on `SIGUSR1`.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  FAST,
  freePort,
  MAIN,
  PERMISSIONS,
  ROOT,
  runMain,
  serviceStatus,
  sh,
  startOrchestrator,
  uniqueSeconds,
  waitFor,
} from "./harness.ts";

/** `python3 -c RELAY ROWS COLS ROWS2 COLS2 program args…`: see the module comment. */
const RELAY = `
import fcntl, os, pty, select, signal, struct, sys, termios
rows, cols, rows2, cols2 = (int(a) for a in sys.argv[1:5])
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    os.execvp(sys.argv[5], sys.argv[5:])
signal.signal(signal.SIGUSR1, lambda *_: fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows2, cols2, 0, 0)))
keyboard = True
while True:
    ready, _, _ = select.select([fd] + ([0] if keyboard else []), [], [])
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            break
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    if 0 in ready:
        data = os.read(0, 1024)
        if data:
            os.write(fd, data)
        else:
            keyboard = False
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`;

// deno-lint-ignore no-control-regex -- stripping terminal escapes
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** `edgevisor top` on a pseudo-terminal of `rows` × `columns`. */
class Terminal {
  readonly #child: Deno.ChildProcess;
  readonly #keys: WritableStreamDefaultWriter<Uint8Array>;
  #output = "";
  readonly #read: Promise<void>;
  readonly status: Promise<Deno.CommandStatus>;

  constructor(args: string[], size: { rows: number; columns: number; resized: [number, number] }) {
    this.#child = new Deno.Command("python3", {
      args: [
        "-c",
        RELAY,
        String(size.rows),
        String(size.columns),
        String(size.resized[0]),
        String(size.resized[1]),
        Deno.execPath(),
        "run",
        "--quiet",
        ...PERMISSIONS,
        MAIN,
        ...args,
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1", TERM: "xterm-256color" },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#keys = this.#child.stdin.getWriter();
    const screen = this.#child.stdout.pipeThrough(new TextDecoderStream());
    this.#read = (async () => {
      for await (const text of screen) this.#output += text;
    })();
    this.status = this.#child.status.then(async (status) => (await this.#read, status));
  }

  /** Everything written to the terminal so far. */
  get output(): string {
    return this.#output;
  }

  /** The lines of the last whole frame drawn, without escapes; [] before the first. */
  screen(): string[] {
    const frames = this.#output.split("\x1b[H");
    for (let i = frames.length - 1; i > 0; i--) {
      const frame = frames[i]!;
      const end = frame.indexOf("\x1b[J");
      // The terminal turns each "\n" into "\r\n" (its output processing stays on in raw mode).
      if (end >= 0) return frame.slice(0, end).split(/\r*\n/).map((l) => l.replace(ESCAPES, ""));
    }
    return [];
  }

  /** Wait until `condition` holds of the screen; returns that screen. */
  async until(condition: (lines: string[]) => boolean, message: string): Promise<string[]> {
    try {
      return await waitFor(() => {
        const lines = this.screen();
        return condition(lines) && lines;
      }, { message, timeoutMs: 20_000 });
    } catch (error) {
      throw new Error(`${(error as Error).message}; screen:\n${this.screen().join("\n")}`);
    }
  }

  /** Type `keys` on the keyboard. */
  async type(keys: string): Promise<void> {
    await this.#keys.write(new TextEncoder().encode(keys));
  }

  /** Resize the terminal to its second size. */
  resize(): void {
    this.#child.kill("SIGUSR1");
  }

  /** Kill it if it still runs, and wait for its end. */
  async close(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#keys.close().catch(() => {});
    await this.status;
  }
}

/** Names of the table's rows on a screen, in order (the selected one too). */
function rowNames(lines: string[]): string[] {
  const header = lines.findIndex((l) => /^ {2}NAME\s+STATUS/.test(l));
  return lines.slice(header + 1, -1).filter((l) => /^[> ] \S/.test(l)).map((l) =>
    l.slice(2).split(/\s+/)[0]!
  );
}

/** The selected row's service name. */
function selected(lines: string[]): string | undefined {
  return lines.find((l) => l.startsWith("> "))?.slice(2).split(/\s+/)[0];
}

Deno.test("edgevisor top in a terminal: problems first, counts, filter, actions, quit", async () => {
  const secs = uniqueSeconds();
  const port = freePort();
  const registry = {
    services: [
      { ...FAST, name: "web", cmd: "sleep", args: [String(secs)] },
      { ...FAST, name: "api", cmd: "sleep", args: [String(secs)] },
      { ...FAST, name: "idle", cmd: "sleep", args: [String(secs)], autostart: false },
      {
        ...FAST,
        name: "crashy",
        ...sh("exit 3"),
        crash_loop: { max_crashes: 2, window: 60, cooldown: 600 },
      },
    ],
  };
  const orch = await startOrchestrator({ registry, port });
  let again: Awaited<ReturnType<typeof startOrchestrator>> | undefined;
  const url = orch.url;
  const state = async (name: string) => (await serviceStatus(url, name)).status;
  await waitFor(async () => (await state("crashy")) === "cooldown", {
    message: "crashy cooling down",
  });
  await waitFor(
    async () => (await state("web")) === "running" && (await state("api")) === "running",
    {
      message: "web and api running",
    },
  );

  const term = new Terminal(["top", "--url", url], {
    rows: 20,
    columns: 140,
    resized: [16, 100],
  });
  try {
    // Problems first, the others by name; the header counts them.
    let lines = await term.until(
      (l) => rowNames(l).length === 4 && l[0]!.endsWith("connected"),
      "four rows, connected",
    );
    assert.ok(term.output.startsWith("\x1b[?1049h"), "the alternate screen first");
    assert.deepEqual(rowNames(lines), ["crashy", "api", "idle", "web"]);
    assert.match(lines[0]!, /^edgevisor top {2}http:\/\/127\.0\.0\.1:\d+ {2}connected$/);
    assert.equal(lines[1], "4 services: 1 cooldown, 2 running, 1 stopped");
    assert.match(lines.find((l) => l.startsWith("> "))!, /^> crashy\s+cooldown\s+-/);
    assert.equal(lines.length, 20);

    // The filter narrows the list; the selection goes to its first row.
    await term.type("/we");
    await term.until((l) => l.at(-1)!.startsWith("/we_"), "the filter being typed");
    await term.type("\r");
    lines = await term.until(
      (l) => rowNames(l).length === 1 && l[1]!.includes('filter "we"'),
      "the list filtered",
    );
    assert.deepEqual(rowNames(lines), ["web"]);
    assert.equal(selected(lines), "web");
    assert.match(lines[1]!, /filter "we": 1 of 4 shown/);

    // r restarts the selected service: a new process.
    const before = (await serviceStatus(url, "web")).pid;
    assert.ok(Number.isInteger(before));
    await term.type("r");
    await waitFor(async () => {
      const web = await serviceStatus(url, "web");
      return web.status === "running" && web.pid !== before && web.pid;
    }, { message: "web restarted with a new pid" });
    lines = await term.until((l) => l.at(-1) === 'Service "web" restarted', "the answer shown");
    const after = (await serviceStatus(url, "web")).pid;
    await term.until(
      (l) => new RegExp(`^> web\\s+running\\s+${after}\\s`).test(l.find((x) => x.startsWith(">"))!),
      "the new pid in the row",
    );

    // Esc clears the filter; j moves down; x asks, y stops.
    await term.type("\x1b");
    await term.until((l) => rowNames(l).length === 4, "the filter cleared");
    await term.type("g");
    await term.until((l) => selected(l) === "crashy", "the first row selected");
    await term.type("j");
    await term.until((l) => selected(l) === "api", "api selected");
    await term.type("x");
    await term.until(
      (l) => l.at(-1) === "Stop api? y to confirm, any other key to cancel",
      "confirm",
    );
    assert.equal(await state("api"), "running", "nothing before y");
    await term.type("y");
    await waitFor(async () => (await state("api")) === "stopped", { message: "api stopped" });
    lines = await term.until(
      (l) => l[1] === "4 services: 1 cooldown, 1 running, 2 stopped",
      "the counts after the stop",
    );
    assert.deepEqual(rowNames(lines), ["crashy", "api", "idle", "web"]);

    // A resize redraws at the new size.
    term.resize();
    lines = await term.until((l) => l.length === 16, "a frame of 16 lines after the resize");
    assert.ok(lines.every((l) => l.length <= 100));

    // The stream drops: "disconnected" until an orchestrator answers again.
    await orch.stop();
    await term.until(
      // The reason may be cut at the screen's width.
      (l) => / {2}disconnected, reconnecting… \(.+/.test(l[0]!),
      "disconnected shown",
    );
    again = await startOrchestrator({ registry: orch.registryPath, port, dir: orch.dir });
    lines = await term.until(
      (l) => l[0]!.endsWith("connected") && !l[0]!.includes("disconnected"),
      "reconnected",
    );

    // q quits with 0 and restores the terminal.
    await term.type("q");
    const status = await term.status;
    assert.equal(status.code, 0);
    assert.ok(
      term.output.endsWith("\x1b[0m\x1b[?25h\x1b[?1049l"),
      `ends with the cursor shown and the main screen back: ${
        JSON.stringify(term.output.slice(-40))
      }`,
    );
  } finally {
    await term.close();
    await again?.destroy();
    await orch.destroy();
  }
});

Deno.test("edgevisor top prints the table once when not on a terminal", async () => {
  const secs = uniqueSeconds();
  await using orch = await startOrchestrator({
    registry: {
      services: [
        { ...FAST, name: "web", cmd: "sleep", args: [String(secs)] },
        {
          ...FAST,
          name: "crashy",
          ...sh("exit 3"),
          crash_loop: { max_crashes: 2, window: 60, cooldown: 600 },
        },
      ],
    },
  });
  await waitFor(async () => (await serviceStatus(orch.url, "crashy")).status === "cooldown", {
    message: "crashy cooling down",
  });
  const run = await runMain(["top", "--url", orch.url]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.includes("\x1b"), false, "no escape at all");
  const lines = run.stdout.trimEnd().split("\n");
  assert.match(lines[0]!, /^NAME\s+STATUS\s+PID/);
  assert.match(lines[1]!, /^crashy\s+cooldown\s/);
  assert.match(lines[2]!, /^web\s+running\s+\d+/);
  assert.equal(lines.length, 3);
  const ls = await runMain(["ls", "--url", orch.url]);
  // The figures (uptime, CPU, memory) move between the two calls: compare name, state and pid.
  const columns = (text: string) =>
    text.trimEnd().split("\n").map((line) => line.split(/\s+/).slice(0, 3).join(" "));
  assert.deepEqual(
    columns(ls.stdout),
    columns(run.stdout),
    "the table of ls",
  );
});

Deno.test("edgevisor top exits 1 with a clear message when the orchestrator cannot be reached", async () => {
  const url = `http://127.0.0.1:${freePort()}`;
  const plain = await runMain(["top", "--url", url]);
  assert.equal(plain.code, 1);
  assert.match(
    plain.stderr,
    /^error: Cannot reach edgevisor at http:\/\/127\.0\.0\.1:\d+: connection refused/,
  );
  const term = new Terminal(["top", "--url", url], { rows: 10, columns: 80, resized: [10, 80] });
  try {
    const status = await term.status;
    assert.equal(status.code, 1);
    assert.match(term.output, /error: Cannot reach edgevisor at .*: connection refused/);
    assert.equal(term.output.includes("\x1b[?1049h"), false, "the screen was never taken");
  } finally {
    await term.close();
  }
});

Deno.test("edgevisor top quits on Ctrl-C with the terminal restored", async () => {
  await using orch = await startOrchestrator({ registry: { services: [] } });
  const term = new Terminal(["top", "--url", orch.url], {
    rows: 10,
    columns: 80,
    resized: [10, 80],
  });
  try {
    await term.until((l) => l[3] === "  no services", "the empty list");
    await term.type("\x03");
    assert.equal((await term.status).code, 0);
    assert.ok(term.output.endsWith("\x1b[0m\x1b[?25h\x1b[?1049l"));
  } finally {
    await term.close();
  }
});
