/**
 * An output pipe of a child that the orchestrator can close. The capture
 * (`pipeToLog`) reads until end of file, which never comes while a process
 * that escaped the service still holds the write end; once the service's
 * processes are ended, the supervisor cancels the read instead, which closes
 * the orchestrator's end of the pipe.
 *
 * @module
 */

/** A readable stream over a child's pipe, and the function that closes the pipe. */
export interface CancellablePipe {
  /** A byte stream to read (BYOB reads are passed through). */
  stream: ReadableStream<Uint8Array>;
  /** Close the pipe: a pending read ends as at end of file. Idempotent. */
  cancel(): void;
}

/**
 * Wrap `pipe` (a child's `stdout` or `stderr`) so that it can be closed while
 * another reader holds the wrapper. A BYOB read of the wrapper reads the
 * pipe into the reader's own buffer (handed through, not copied), so a quiet
 * pipe still waits with the reader's small buffer and nothing more.
 */
export function cancellablePipe(pipe: ReadableStream<Uint8Array>): CancellablePipe {
  const reader = pipe.getReader({ mode: "byob" });
  let cancelled = false;
  const cancel = () => {
    if (cancelled) return;
    cancelled = true;
    reader.cancel().catch(() => {});
  };
  const stream: ReadableStream<Uint8Array> = new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: 1024, // for a reader that is not BYOB
    async pull(controller: ReadableByteStreamController) {
      const request = controller.byobRequest!;
      const view = request.view!;
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read(
          new Uint8Array(view.buffer as ArrayBuffer, view.byteOffset, view.byteLength),
        );
      } catch (err) {
        controller.error(err);
        return;
      }
      if (!result.value) {
        // Cancelled: the reader's buffer is not given back, so its read can only fail.
        controller.error(new Error("The pipe was closed"));
        return;
      }
      // The reader's buffer comes back (transferred) with what was read: hand it on.
      if (result.done) controller.close();
      request.respondWithNewView(result.value);
    },
    cancel,
  });
  return { stream, cancel };
}
