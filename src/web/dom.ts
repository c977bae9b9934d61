/// <reference lib="dom" />
/**
 * Small helpers to build the page's DOM: elements with attributes and
 * children, SVG elements, and typed look-ups of the elements the HTML of
 * the page holds.
 *
 * @module
 */

/** Attribute values: a string is set, `true` sets an empty attribute, false and undefined leave it out. */
export type Attributes = Record<string, string | number | boolean | undefined>;

function setAttributes(node: Element, attrs: Attributes): void {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    node.setAttribute(key, value === true ? "" : String(value));
  }
}

/**
 * An HTML element with `attrs` and `children` (strings become text).
 *
 * @example
 * ```ts ignore
 * h("button", { type: "button", class: "danger" }, "Stop");
 * ```
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attributes = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  setAttributes(node, attrs);
  node.append(...children);
  return node;
}

/** An SVG element with `attrs` and `children`. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attributes = {},
  ...children: (Node | string)[]
): SVGElementTagNameMap[K] {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  setAttributes(node, attrs);
  node.append(...children);
  return node;
}

/** The element of the page with `id`, checked to be a `type`; throws when it is not there. */
export function byId<T extends HTMLElement>(id: string, type: { new (): T }): T {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new TypeError(`No element "${id}" of the right kind`);
  return node;
}

/** Set the text of `node` only when it changed (no needless layout work). */
export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}
