/// <reference lib="dom" />
/**
 * The form that asks for the API token: a modal dialog with a password
 * field, shown when the API answers 401. The token is kept in
 * `sessionStorage` (gone with the tab), never in a URL or a cookie.
 *
 * @module
 */
import { h } from "./dom.ts";

/** Key of the token in `sessionStorage`. */
const TOKEN_KEY = "edgevisor-token";

/** Why the token is asked for. */
export type TokenReason = "needed" | "refused";

/** The stored token, or "" when there is none (or storage is off). */
export function storedToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

/** Asks for the API token in a modal dialog; one question at a time, shared by every caller. */
export class TokenForm {
  #dialog: HTMLDialogElement | undefined;
  #input: HTMLInputElement | undefined;
  #why: HTMLElement | undefined;
  #pending: Promise<boolean> | undefined;

  /**
   * Show the form (once for any number of callers) and resolve true once a
   * token is stored, false when the user cancels.
   */
  ask(reason: TokenReason): Promise<boolean> {
    this.#pending ??= this.#show(reason).finally(() => (this.#pending = undefined));
    return this.#pending;
  }

  #build(): { dialog: HTMLDialogElement; input: HTMLInputElement; why: HTMLElement } {
    const input = h("input", {
      id: "token-input",
      type: "password",
      name: "token",
      autocomplete: "current-password",
      spellcheck: "false",
      required: true,
    });
    const why = h("p", { id: "token-why" });
    const cancel = h("button", { type: "button", value: "cancel" }, "Cancel");
    const form = h(
      "form",
      {},
      h("h2", { id: "token-title" }, "API token"),
      why,
      // Lets a password manager file the token under this orchestrator.
      h("input", {
        type: "text",
        name: "username",
        autocomplete: "username",
        value: "edgevisor",
        hidden: true,
      }),
      h("label", { for: "token-input" }, "Token"),
      input,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", class: "primary" }, "Use token"),
        cancel,
      ),
    );
    const dialog = h("dialog", { id: "token-dialog", "aria-labelledby": "token-title" }, form);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (token === "") return;
      try {
        sessionStorage.setItem(TOKEN_KEY, token);
      } catch {
        // Storage off: the token cannot be kept; the request goes on without it.
      }
      dialog.close("ok");
    });
    cancel.addEventListener("click", () => dialog.close("cancel"));
    document.body.append(dialog);
    return { dialog, input, why };
  }

  #show(reason: TokenReason): Promise<boolean> {
    if (this.#dialog === undefined) {
      ({ dialog: this.#dialog, input: this.#input, why: this.#why } = this.#build());
    }
    const dialog = this.#dialog;
    this.#why!.textContent = reason === "refused"
      ? "The orchestrator refused that token. Enter its API token (EDGEVISOR_TOKEN)."
      : "This orchestrator needs its API token (EDGEVISOR_TOKEN).";
    this.#input!.value = "";
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
      this.#input!.focus();
    });
  }
}
